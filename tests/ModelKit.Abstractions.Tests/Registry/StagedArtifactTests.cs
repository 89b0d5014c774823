using System.Security.Cryptography;
using ModelKit.Registry;

namespace ModelKit.Abstractions.Tests.Registry;

public sealed class StagedArtifactTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "modelkit-staging-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public async Task CreateAsync_ReadsFromCurrentPosition_HashesAndWritesTheRest()
    {
        byte[] bytes = new byte[3_000_000];
        new Random(3).NextBytes(bytes);
        var content = new MemoryStream(bytes) { Position = 1000 };

        await using StagedArtifact staged = await StagedArtifact.CreateAsync(content, _dir, long.MaxValue, "model 'm'");

        Assert.Equal(bytes.Length - 1000, staged.SizeBytes);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes.AsSpan(1000))), staged.Digest);
        Assert.Equal(_dir, Path.GetDirectoryName(staged.FilePath));
        Assert.Equal(bytes[1000..], await File.ReadAllBytesAsync(staged.FilePath));
    }

    [Fact]
    public async Task CreateAsync_ExactlyAtTheLimit_IsAccepted()
    {
        await using StagedArtifact staged = await StagedArtifact.CreateAsync(new MemoryStream(new byte[4096]), _dir, 4096, "model 'm'");

        Assert.Equal(4096, staged.SizeBytes);
    }

    [Fact]
    public async Task CreateAsync_OneByteOverTheLimit_StopsAfterLimitPlusOneByte_DeletesTheFile_AndReportsTheLimit()
    {
        var content = new CountingStream(new byte[10_000_000]);

        ArtifactTooLargeException ex = await Assert.ThrowsAsync<ArtifactTooLargeException>(
            () => StagedArtifact.CreateAsync(content, _dir, 5000, "model 'big'"));

        Assert.Equal(5000, ex.LimitBytes);
        Assert.Equal(5001, content.BytesRead);
        Assert.StartsWith("The artifact of model 'big' is larger than the limit of 5000 bytes (0.0 MiB); nothing was stored.", ex.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task CreateAsync_ReadFails_DeletesTheFile()
    {
        await Assert.ThrowsAsync<IOException>(() => StagedArtifact.CreateAsync(new FailingStream(), _dir, long.MaxValue, "model 'm'"));

        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task Dispose_DeletesTheFile_UnlessMarkedMoved()
    {
        StagedArtifact dropped = await StagedArtifact.CreateAsync(new MemoryStream([1, 2, 3]), _dir, 10, "model 'm'");
        StagedArtifact kept = await StagedArtifact.CreateAsync(new MemoryStream([4, 5, 6]), _dir, 10, "model 'm'");
        kept.MarkMoved();

        await dropped.DisposeAsync();
        await kept.DisposeAsync();

        Assert.False(File.Exists(dropped.FilePath));
        Assert.True(File.Exists(kept.FilePath));
    }

    [Fact]
    public async Task CreateAsync_WritingBackWhileCopying_StagesTheSameBytesAndDigest_AcrossSeveralFlushes()
    {
        // 40 MB in odd-sized reads: two early flushes (every 16 MiB) run while the copy goes on.
        byte[] bytes = new byte[40_000_000];
        new Random(5).NextBytes(bytes);

        await using StagedArtifact staged = await StagedArtifact.CreateAsync(new ChunkedStream(bytes, 300_007), _dir, long.MaxValue, "model 'm'", writeBackWhileCopying: true);

        Assert.Equal(bytes.Length, staged.SizeBytes);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), staged.Digest);
        byte[] written = await File.ReadAllBytesAsync(staged.FilePath);
        Assert.True(bytes.AsSpan().SequenceEqual(written));
        staged.FlushToDisk();
    }

    [Fact]
    public async Task CreateAsync_WritingBackWhileCopying_OverTheLimit_StopsAfterLimitPlusOneByte_AndDeletesTheFile()
    {
        var content = new CountingStream(new byte[40_000_000]);

        await Assert.ThrowsAsync<ArtifactTooLargeException>(() => StagedArtifact.CreateAsync(content, _dir, 20_000_000, "model 'big'", writeBackWhileCopying: true));

        Assert.Equal(20_000_001, content.BytesRead);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public async Task CreateAsync_WritingBackWhileCopying_ReadFailsAfterAFlushStarted_DeletesTheFile()
    {
        await Assert.ThrowsAsync<IOException>(() => StagedArtifact.CreateAsync(new ChunkedStream(new byte[30_000_000], 1 << 20, failAfter: 20_000_000), _dir, long.MaxValue, "model 'm'", writeBackWhileCopying: true));

        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Theory]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true)]
    [InlineData("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:0123456789abcdef", false)]
    [InlineData("md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", false)]
    [InlineData("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg", false)]
    [InlineData("sha256:../../../../etc/passwd0123456789abcdef0123456789abcdef01234567", false)]
    [InlineData("", false)]
    [InlineData(null, false)]
    public void ArtifactDigest_TryParse_AcceptsOnlySha256WithLowercaseHex(string? digest, bool valid)
    {
        Assert.Equal(valid, ArtifactDigest.TryParse(digest, out string hex));
        Assert.Equal(valid ? digest![7..] : string.Empty, hex);
    }

    private sealed class CountingStream(byte[] bytes) : MemoryStream(bytes)
    {
        public long BytesRead { get; private set; }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int n = await base.ReadAsync(buffer, cancellationToken);
            BytesRead += n;
            return n;
        }
    }

    /// <summary>Serves at most <paramref name="chunk"/> bytes a read; throws once <paramref name="failAfter"/> bytes were served.</summary>
    private sealed class ChunkedStream(byte[] bytes, int chunk, long failAfter = long.MaxValue) : MemoryStream(bytes)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Position >= failAfter ? throw new IOException("The connection was reset.") : base.ReadAsync(buffer[..Math.Min(chunk, buffer.Length)], cancellationToken);
    }

    private sealed class FailingStream : MemoryStream
    {
        private int _reads;

        public FailingStream() : base(new byte[100_000])
        {
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ++_reads == 1 ? base.ReadAsync(buffer[..1000], cancellationToken) : throw new IOException("The network share went away.");
    }
}
