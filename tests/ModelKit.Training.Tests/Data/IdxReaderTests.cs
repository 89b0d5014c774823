using System.IO.Compression;
using ModelKit.Training.Data;

namespace ModelKit.Training.Tests.Data;

public sealed class IdxReaderTests
{
    private static byte[] Idx(byte type, byte rank, uint[] dims, byte[] data)
    {
        using var ms = new MemoryStream();
        ms.Write([0, 0, type, rank]);
        foreach (uint d in dims)
        {
            ms.Write([(byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d]);
        }

        ms.Write(data);
        return ms.ToArray();
    }

    [Fact]
    public void Read_ValidRank3_ReturnsDimensionsAndBytesInOrder()
    {
        byte[] file = Idx(0x08, 3, [2, 2, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);

        (int[] dims, byte[] data) = IdxReader.Read(new MemoryStream(file), 3, "images");

        Assert.Equal([2, 2, 3], dims);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], data);
    }

    [Fact]
    public void Read_WrongMagic_ThrowsNamingSourceAndMagic()
    {
        byte[] file = Idx(0x0D, 1, [3], [1, 2, 3]);

        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(new MemoryStream(file), 1, "labels.idx"));

        Assert.Equal("'labels.idx' is not an unsigned-byte IDX file of rank 1: magic number is 0x00000D01, expected 0x00000801.", ex.Message);
    }

    [Fact]
    public void Read_Truncated_ThrowsNamingHowMuchWasRead()
    {
        byte[] file = Idx(0x08, 1, [10], [1, 2, 3]);

        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(new MemoryStream(file), 1, "labels.idx"));

        Assert.Equal("'labels.idx' is truncated: it ended after 3 of the 10 bytes of 10 elements.", ex.Message);
    }

    [Fact]
    public void Read_HugeDimensions_ThrowsBeforeAllocating()
    {
        byte[] file = Idx(0x08, 3, [60000, 60000, 60000], []);

        var ex = Assert.Throws<InvalidDataException>(() => IdxReader.Read(new MemoryStream(file), 3, "x"));

        Assert.Contains("declares dimension 1 = 60000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadUnsignedBytes_GzipFile_Decompresses()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mk-idx-{Guid.NewGuid():N}.gz");
        try
        {
            using (var gz = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            {
                gz.Write(Idx(0x08, 1, [4], [9, 8, 7, 6]));
            }

            (int[] dims, byte[] data) = IdxReader.ReadUnsignedBytes(path, 1);

            Assert.Equal([4], dims);
            Assert.Equal([9, 8, 7, 6], data);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadUnsignedBytes_NotGzip_ThrowsNamingFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"mk-idx-{Guid.NewGuid():N}.gz");
        try
        {
            File.WriteAllText(path, "this is not gzip data at all");

            var ex = Assert.Throws<InvalidDataException>(() => IdxReader.ReadUnsignedBytes(path, 1));

            Assert.StartsWith($"'{path}' is not a valid gzip file", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
