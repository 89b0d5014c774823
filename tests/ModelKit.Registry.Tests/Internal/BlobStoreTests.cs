using System.Security.Cryptography;
using ModelKit.Registry.Internal;
using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.Internal;

public sealed class BlobStoreTests : IDisposable
{
    private readonly TestDataDirectory _dir = new();
    private readonly BlobStore _store;

    public BlobStoreTests()
    {
        _store = new BlobStore(Path.Combine(_dir.DataDirectory, "blobs"));
        _store.EnsureDirectories();
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task StageAsync_ReadsFromCurrentPosition_HashesAndFlushesToTempFile()
    {
        byte[] bytes = new byte[200_000];
        new Random(3).NextBytes(bytes);
        var content = new MemoryStream(bytes) { Position = 1000 };

        StagedBlob staged = await _store.StageAsync(content, CancellationToken.None);

        Assert.Equal(bytes.Length - 1000, staged.SizeBytes);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(1000))), staged.Sha256Hex);
        Assert.Equal("sha256:" + staged.Sha256Hex, staged.Digest);
        Assert.Equal(_store.TempDirectory, Path.GetDirectoryName(staged.TempPath));
        Assert.Equal(bytes[1000..], await File.ReadAllBytesAsync(staged.TempPath));
    }

    [Fact]
    public async Task Commit_NewContent_MovesToContentAddress_ThenSameContentOnlyDeletesTemp()
    {
        byte[] bytes = [1, 2, 3, 4];
        StagedBlob first = await _store.StageAsync(new MemoryStream(bytes), CancellationToken.None);
        StagedBlob second = await _store.StageAsync(new MemoryStream(bytes), CancellationToken.None);

        Assert.True(_store.Commit(first));
        Assert.False(_store.Commit(second));

        string path = _store.GetPath(first.Sha256Hex);
        Assert.Equal(Path.Combine(_store.Root, "sha256", first.Sha256Hex[..2], first.Sha256Hex), path);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        Assert.Empty(_dir.TempFiles());
    }

    [Fact]
    public async Task StageAsync_ReadFails_DeletesTempFile()
    {
        await Assert.ThrowsAsync<IOException>(() => _store.StageAsync(new FailingStream(), CancellationToken.None));

        Assert.Empty(_dir.TempFiles());
    }

    [Theory]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true)]
    [InlineData("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:0123456789abcdef", false)]
    [InlineData("md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void TryParseDigest_AcceptsOnlySha256WithLowercaseHex(string? digest, bool valid)
    {
        Assert.Equal(valid, BlobStore.TryParseDigest(digest, out string hex));
        Assert.Equal(valid ? digest![7..] : string.Empty, hex);
    }

    private sealed class FailingStream : MemoryStream
    {
        private int _reads;

        public FailingStream() : base(new byte[100_000])
        {
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ++_reads == 1 ? base.ReadAsync(buffer, cancellationToken) : throw new IOException("The network share went away.");
    }
}
