using System.Buffers.Binary;
using System.IO.Compression;

namespace ModelKit.Training.Data;

/// <summary>
/// Reads IDX files (the format of MNIST and Fashion-MNIST: a big-endian magic number <c>0x0000TTNN</c> where
/// <c>TT</c> is the element type and <c>NN</c> the rank, then <c>NN</c> big-endian uint32 dimensions, then the
/// elements). Only unsigned-byte elements (type <c>0x08</c>) are supported. Gzip-compressed files
/// (<c>.gz</c>) are decompressed while reading. Source: Y. LeCun et al., "The MNIST database", file format section.
/// </summary>
public static class IdxReader
{
    private const byte UnsignedByteType = 0x08;
    private const long MaxElements = 1L << 31;

    /// <summary>Reads an unsigned-byte IDX file.</summary>
    /// <param name="path">The file; a name ending in <c>.gz</c> is decompressed.</param>
    /// <param name="expectedRank">The rank the caller expects (3 for images, 1 for labels).</param>
    /// <returns>The dimensions and the elements, row-major.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not an unsigned-byte IDX file of that rank, or is truncated; the message names the file and the values found.</exception>
    public static (int[] Dimensions, byte[] Data) ReadUnsignedBytes(string path, int expectedRank)
    {
        ArgumentNullException.ThrowIfNull(path);
        using FileStream file = File.OpenRead(path);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        try
        {
            return Read(stream, expectedRank, path);
        }
        catch (InvalidDataException ex) when (!ex.Message.StartsWith($"'{path}'", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{path}' is not a valid gzip file: {ex.Message}", ex);
        }
    }

    /// <summary>Reads an unsigned-byte IDX stream (already decompressed).</summary>
    /// <param name="stream">The stream, read from its current position; the caller keeps ownership.</param>
    /// <param name="expectedRank">The rank the caller expects.</param>
    /// <param name="sourceName">A name for error messages.</param>
    /// <returns>The dimensions and the elements, row-major.</returns>
    /// <exception cref="InvalidDataException">The data is not an unsigned-byte IDX array of that rank, or is truncated.</exception>
    public static (int[] Dimensions, byte[] Data) Read(Stream stream, int expectedRank, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[4];
        ReadExactly(stream, header, sourceName, "the magic number");
        if (header[0] != 0 || header[1] != 0 || header[2] != UnsignedByteType || header[3] != expectedRank)
        {
            throw new InvalidDataException(
                $"'{sourceName}' is not an unsigned-byte IDX file of rank {expectedRank}: magic number is 0x{BinaryPrimitives.ReadUInt32BigEndian(header):X8}, expected 0x0000{UnsignedByteType:X2}{expectedRank:X2}.");
        }

        var dims = new int[expectedRank];
        long count = 1;
        for (int i = 0; i < expectedRank; i++)
        {
            ReadExactly(stream, header, sourceName, $"dimension {i}");
            uint d = BinaryPrimitives.ReadUInt32BigEndian(header);
            count *= d;
            if (d == 0 || d > int.MaxValue || count > MaxElements)
            {
                throw new InvalidDataException($"'{sourceName}' declares dimension {i} = {d}; the array must be non-empty and hold at most {MaxElements} elements.");
            }

            dims[i] = (int)d;
        }

        var data = new byte[count];
        ReadExactly(stream, data, sourceName, $"{count} elements");
        return (dims, data);
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string sourceName, string what)
    {
        int read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        if (read != buffer.Length)
        {
            throw new InvalidDataException($"'{sourceName}' is truncated: it ended after {read} of the {buffer.Length} bytes of {what}.");
        }
    }
}
