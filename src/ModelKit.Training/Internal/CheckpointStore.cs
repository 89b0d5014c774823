using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;

namespace ModelKit.Training.Internal;

/// <summary>The header of a checkpoint file (JSON).</summary>
internal sealed record CheckpointHeader
{
    public int Format { get; init; } = 1;

    public string SpecDigest { get; init; } = string.Empty;

    public string RunId { get; init; } = string.Empty;

    public string DatasetDigest { get; init; } = string.Empty;

    public int WorldSize { get; init; } = 1;

    public long Seed { get; init; }

    /// <summary>The epoch in progress (0-based) when the checkpoint was written.</summary>
    public int Epoch { get; init; }

    /// <summary>The next micro-batch of <see cref="Epoch"/> to run.</summary>
    public int NextBatch { get; init; }

    /// <summary>Optimizer steps completed.</summary>
    public long OptimizerSteps { get; init; }

    /// <summary>This epoch's loss sum so far (rank 0's; the epoch report all-reduces at its end).</summary>
    public double EpochLossSum { get; init; }

    public long EpochSamples { get; init; }

    public long PayloadLength { get; init; }

    public string PayloadSha256 { get; init; } = string.Empty;
}

/// <summary>
/// Checkpoint files: <c>checkpoint-{optimizer step:D12}.mkckpt</c> = the magic <c>MKCKPT01</c>, a little-endian int32 header
/// length, the JSON header, then the libtorch archive. Written to a temporary file, flushed to disk, then renamed, so a crash
/// leaves either the previous set or the new file complete.
/// </summary>
internal static class CheckpointStore
{
    private const string Extension = ".mkckpt";
    private const string Prefix = "checkpoint-";
    private const int MaxHeaderBytes = 1 << 20;
    private static readonly byte[] s_magic = "MKCKPT01"u8.ToArray();

    public static string Write(string directory, CheckpointHeader header, ReadOnlySpan<byte> payload, int keepLast)
    {
        Directory.CreateDirectory(directory);
        header = header with { PayloadLength = payload.Length, PayloadSha256 = Convert.ToHexStringLower(SHA256.HashData(payload)) };
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header, TrainingJsonContext.Default.CheckpointHeader);
        string name = Prefix + header.OptimizerSteps.ToString("D12", CultureInfo.InvariantCulture) + "-e" + header.Epoch.ToString(CultureInfo.InvariantCulture) + "b" + header.NextBatch.ToString(CultureInfo.InvariantCulture) + Extension;
        string path = Path.Combine(directory, name);
        string temporary = Path.Combine(directory, "." + name + ".tmp-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                Span<byte> length = stackalloc byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(length, json.Length);
                stream.Write(s_magic);
                stream.Write(length);
                stream.Write(json);
                stream.Write(payload);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }

        string[] all = List(directory);
        for (int i = 0; i < all.Length - keepLast; i++)
        {
            File.Delete(all[i]);
        }

        return path;
    }

    /// <summary>Returns the newest checkpoint's path, or <see langword="null"/> when there is none.</summary>
    public static string? FindLatest(string directory) => Directory.Exists(directory) && List(directory) is { Length: > 0 } all ? all[^1] : null;

    /// <exception cref="ModelKitException">The file is not a checkpoint, is truncated or corrupted, or belongs to another model spec.</exception>
    public static (CheckpointHeader Header, byte[] Payload) Read(string path, string expectedSpecDigest)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 12 || !bytes.AsSpan(0, 8).SequenceEqual(s_magic))
        {
            throw Corrupt(path, "it does not start with the MKCKPT01 magic");
        }

        int headerLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8, 4));
        if (headerLength < 2 || headerLength > MaxHeaderBytes || headerLength > bytes.Length - 12)
        {
            throw Corrupt(path, string.Create(CultureInfo.InvariantCulture, $"its header length {headerLength} is outside [2, {Math.Min(MaxHeaderBytes, bytes.Length - 12)}]"));
        }

        CheckpointHeader? header;
        try
        {
            header = JsonSerializer.Deserialize(bytes.AsSpan(12, headerLength), TrainingJsonContext.Default.CheckpointHeader);
        }
        catch (JsonException ex)
        {
            throw Corrupt(path, "its header is not valid JSON (" + ex.Message + ")");
        }

        if (header is null || header.Format != 1)
        {
            throw Corrupt(path, "its header has an unknown format");
        }

        long payloadLength = bytes.Length - 12L - headerLength;
        if (payloadLength != header.PayloadLength)
        {
            throw Corrupt(path, string.Create(CultureInfo.InvariantCulture, $"it holds {payloadLength} payload bytes but its header says {header.PayloadLength} (truncated or appended to)"));
        }

        byte[] payload = bytes.AsSpan(12 + headerLength).ToArray();
        if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(payload)), header.PayloadSha256, StringComparison.Ordinal))
        {
            throw Corrupt(path, "its payload does not match the SHA-256 in its header (the file is corrupted)");
        }

        if (!string.Equals(header.SpecDigest, expectedSpecDigest, StringComparison.Ordinal))
        {
            throw new ModelKitException(
                $"Checkpoint '{path}' was written for another model spec (spec digest {header.SpecDigest}; this run's is {expectedSpecDigest}). " +
                "Point CheckpointOptions.Directory at this model's checkpoints, or start without Resume.");
        }

        return (header, payload);
    }

    private static string[] List(string directory)
    {
        string[] files = Directory.GetFiles(directory, Prefix + "*" + Extension);
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    private static ModelKitException Corrupt(string path, string why) =>
        new($"Checkpoint '{path}' cannot be read: {why}. Delete it to resume from the previous checkpoint, or start without Resume.");
}
