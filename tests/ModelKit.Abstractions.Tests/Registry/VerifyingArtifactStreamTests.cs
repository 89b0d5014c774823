using System.Security.Cryptography;
using ModelKit.Registry;

namespace ModelKit.Abstractions.Tests.Registry;

public sealed class VerifyingArtifactStreamTests
{
    private static readonly byte[] Content = CreateContent();
    private static readonly string ContentHex = Convert.ToHexStringLower(SHA256.HashData(Content));

    [Fact]
    public async Task ReadToEnd_IntactContent_ReturnsEveryByte()
    {
        await using Stream stream = Open(Content, ContentHex, Content.Length);
        using var copy = new MemoryStream();

        await stream.CopyToAsync(copy);

        Assert.Equal(Content, copy.ToArray());
        Assert.Equal(Content.Length, stream.Position);
        Assert.Equal(0, stream.Read(new byte[16]));
    }

    [Fact]
    public void ReadByteByByte_IntactContent_Verifies()
    {
        using Stream stream = Open(Content, ContentHex, Content.Length);
        var read = new List<byte>();

        int b;
        while ((b = stream.ReadByte()) >= 0)
        {
            read.Add((byte)b);
        }

        Assert.Equal(Content, read);
    }

    [Fact]
    public void ReadToEnd_ChangedByte_ThrowsAtTheEndAndOnEveryLaterRead()
    {
        byte[] damaged = (byte[])Content.Clone();
        damaged[100] ^= 1;
        string found = Convert.ToHexStringLower(SHA256.HashData(damaged));
        using Stream stream = Open(damaged, ContentHex, Content.Length);
        var buffer = new byte[4096];
        while (stream.Position < damaged.Length)
        {
            Assert.True(stream.Read(buffer) > 0);
        }

        ModelKitException ex = Assert.Throws<ArtifactCorruptedException>(() => stream.Read(buffer));
        ModelKitException again = Assert.Throws<ArtifactCorruptedException>(() => stream.Read(buffer));

        Assert.Equal(
            $"The artifact of model 'm' version 1 is corrupted: expected sha256:{ContentHex} ({Content.Length} bytes), found sha256:{found} " +
            "in '/store/blob'. Restore it from a backup, or delete it and register the model again.",
            ex.Message);
        Assert.Same(ex, again);
    }

    [Fact]
    public void Read_LongerThanStored_ThrowsBeforeTheEnd()
    {
        byte[] longer = [.. Content, 1, 2, 3];
        using Stream stream = Open(longer, ContentHex, Content.Length);

        ModelKitException ex = Assert.Throws<ArtifactCorruptedException>(() => stream.CopyTo(Stream.Null));

        Assert.Contains($"found {longer.Length} or more bytes where {Content.Length} were stored", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Capabilities_AreReadOnlyForwardOnly()
    {
        using Stream stream = Open(Content, ContentHex, Content.Length);

        Assert.True(stream.CanRead);
        Assert.False(stream.CanSeek);
        Assert.False(stream.CanWrite);
        Assert.Throws<NotSupportedException>(() => stream.Length);
        Assert.Throws<NotSupportedException>(() => stream.Seek(0, SeekOrigin.Begin));
        Assert.Throws<NotSupportedException>(() => stream.Write([1], 0, 1));
    }

    [Fact]
    public void ZeroLengthRead_BeforeTheEnd_DoesNotVerify()
    {
        using Stream stream = Open(Content, ContentHex, Content.Length);

        Assert.Equal(0, stream.Read([], 0, 0));
        stream.CopyTo(Stream.Null);
    }

    private static VerifyingArtifactStream Open(byte[] bytes, string hex, long length) =>
        new(new MemoryStream(bytes, writable: false), hex, length, "model 'm' version 1", "/store/blob");

    private static byte[] CreateContent()
    {
        var bytes = new byte[10_000];
        new Random(7).NextBytes(bytes);
        return bytes;
    }
}
