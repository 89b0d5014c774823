using System.Buffers;
using System.Security.Cryptography;

namespace ModelKit.Registry;

/// <summary>
/// An upload copied into a local file and hashed, not yet stored at its content address. Disposing it deletes the file
/// unless a store took it over (<see cref="MarkMoved"/>). Not thread-safe.
/// </summary>
public sealed class StagedArtifact : IDisposable, IAsyncDisposable
{
    private const int BufferSize = 1 << 20;
    private const long WriteBackIntervalBytes = 16L * 1024 * 1024;
    private bool _moved;

    private StagedArtifact(string filePath, string digest, long sizeBytes)
    {
        FilePath = filePath;
        Digest = digest;
        SizeBytes = sizeBytes;
    }

    /// <summary>Gets the path of the staged file.</summary>
    public string FilePath { get; }

    /// <summary>Gets the digest of the content, <c>sha256:</c> and 64 lowercase hex digits.</summary>
    public string Digest { get; }

    /// <summary>Gets the 64 hex digits of <see cref="Digest"/>.</summary>
    public string Sha256Hex => Digest[ArtifactDigest.Prefix.Length..];

    /// <summary>Gets the content length in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>
    /// Copies <paramref name="content"/> from its current position to its end into a new file in
    /// <paramref name="stagingDirectory"/> while hashing it with SHA-256. The file is not flushed to disk: a store that keeps
    /// the staged file itself (the file store renames it into place) flushes it first with <see cref="FlushToDisk"/>; a
    /// store that uploads it elsewhere needs no local durability. Reading stops as
    /// soon as more than <paramref name="maxSizeBytes"/> bytes arrived (at most the limit plus one byte is read); the
    /// partial file is then deleted. On any failure, cancellation included, the file is deleted.
    /// </summary>
    /// <param name="content">The bytes; the caller keeps ownership.</param>
    /// <param name="stagingDirectory">A local directory; created when missing.</param>
    /// <param name="maxSizeBytes">The largest accepted artifact, in bytes (1 or more).</param>
    /// <param name="description">What is being staged, for messages, for example <c>model 'x'</c>.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    /// <returns>The staged artifact; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="content"/> or a string argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxSizeBytes"/> is less than 1.</exception>
    /// <exception cref="ArtifactTooLargeException">The content is longer than <paramref name="maxSizeBytes"/>.</exception>
    /// <exception cref="IOException">The staging directory cannot be written.</exception>
    public static Task<StagedArtifact> CreateAsync(
        Stream content, string stagingDirectory, long maxSizeBytes, string description, CancellationToken cancellationToken = default) =>
        CreateAsync(content, stagingDirectory, maxSizeBytes, description, writeBackWhileCopying: false, cancellationToken);

    /// <summary>
    /// Copies <paramref name="content"/> into a new staged file like
    /// <see cref="CreateAsync(Stream, string, long, string, CancellationToken)"/>; with
    /// <paramref name="writeBackWhileCopying"/>, for a store that keeps the staged file itself, the file's data is also
    /// written to disk while the copy runs (a flush on a second handle whenever 16 MiB more bytes
    /// arrived, one at a time, on another thread), so that the <see cref="FlushToDisk"/> before the rename has only
    /// the tail left: the disk writes overlap the copy and the hash, as RocksDB's <c>bytes_per_sync</c> does. Durability
    /// still comes only from <see cref="FlushToDisk"/>; these flushes only start the disk writes early.
    /// </summary>
    /// <param name="content">The bytes; the caller keeps ownership.</param>
    /// <param name="stagingDirectory">A local directory; created when missing.</param>
    /// <param name="maxSizeBytes">The largest accepted artifact, in bytes (1 or more).</param>
    /// <param name="description">What is being staged, for messages, for example <c>model 'x'</c>.</param>
    /// <param name="writeBackWhileCopying">Whether to write the file to disk while copying (for stores that rename the staged file into place).</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    /// <returns>The staged artifact; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="content"/> or a string argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxSizeBytes"/> is less than 1.</exception>
    /// <exception cref="ArtifactTooLargeException">The content is longer than <paramref name="maxSizeBytes"/>.</exception>
    /// <exception cref="IOException">The staging directory cannot be written, or a flush failed.</exception>
    public static async Task<StagedArtifact> CreateAsync(
        Stream content, string stagingDirectory, long maxSizeBytes, string description, bool writeBackWhileCopying, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(stagingDirectory);
        ArgumentNullException.ThrowIfNull(description);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSizeBytes, 1);

        Directory.CreateDirectory(stagingDirectory);
        string path = Path.Combine(stagingDirectory, $"{Guid.NewGuid():N}.tmp");
        // Two buffers: while one is written (on a thread-pool thread) this thread hashes it and reads the next into the other.
        byte[] current = ArrayPool<byte>.Shared.Rent(BufferSize);
        byte[] next = ArrayPool<byte>.Shared.Rent(BufferSize);
        Task writeBack = Task.CompletedTask;
        try
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0, writtenBack = 0;
            var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                // Never ask for more than the limit plus one byte: an oversized upload is refused after limit + 1 bytes.
                int n = await content.ReadAsync(current.AsMemory(0, NextReadSize(maxSizeBytes)), cancellationToken).ConfigureAwait(false);
                while (n > 0)
                {
                    size += n;
                    if (size > maxSizeBytes)
                    {
                        throw new ArtifactTooLargeException(maxSizeBytes, description);
                    }

                    ValueTask write = file.WriteAsync(current.AsMemory(0, n), cancellationToken);
                    int following;
                    try
                    {
                        hash.AppendData(current, 0, n);
                        following = await content.ReadAsync(next.AsMemory(0, NextReadSize(maxSizeBytes - size)), cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        // Never leave a write running on a buffer that goes back to the pool or on a file being deleted.
                        await write.ConfigureAwait(false);
                    }

                    (current, next) = (next, current);
                    n = following;

                    if (writeBackWhileCopying && size - writtenBack >= WriteBackIntervalBytes && writeBack.IsCompleted)
                    {
                        await writeBack.ConfigureAwait(false); // Surfaces a failed flush.
                        writtenBack = size;
                        writeBack = Task.Run(() => FlushFile(path), CancellationToken.None);
                    }
                }
            }

            await writeBack.ConfigureAwait(false);
            return new StagedArtifact(path, ArtifactDigest.Prefix + Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        catch
        {
            // The flush in flight holds its own handle; let it end before the file goes.
            try
            {
                await writeBack.ConfigureAwait(false);
            }
            catch (IOException)
            {
            }

            TryDelete(path);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(current);
            ArrayPool<byte>.Shared.Return(next);
        }
    }

    /// <summary>How much to ask for when <paramref name="remaining"/> bytes are left below the limit: never past the limit plus one byte.</summary>
    private static int NextReadSize(long remaining) => remaining >= BufferSize ? BufferSize : (int)remaining + 1;

    /// <summary>Opens the staged file for reading from its start.</summary>
    /// <returns>A read-only stream; the caller disposes it.</returns>
    /// <exception cref="InvalidOperationException">The file was already moved to a store.</exception>
    public FileStream OpenRead()
    {
        ObjectDisposedException.ThrowIf(_moved, this);
        return new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16,
            FileOptions.Asynchronous | FileOptions.SequentialScan);
    }

    /// <summary>Flushes the staged file's data to disk (fsync), so that it survives a power loss once renamed into place.</summary>
    /// <exception cref="ObjectDisposedException">The file was moved or deleted.</exception>
    /// <exception cref="IOException">The flush failed.</exception>
    public void FlushToDisk()
    {
        ObjectDisposedException.ThrowIf(_moved, this);
        FlushFile(FilePath);
    }

    /// <summary>Records that a store moved the file away (for example renamed it into place), so disposing deletes nothing.</summary>
    public void MarkMoved() => _moved = true;

    /// <summary>Deletes the staged file unless a store took it over.</summary>
    public void Dispose()
    {
        if (!_moved)
        {
            _moved = true;
            TryDelete(FilePath);
        }
    }

    /// <summary>Deletes the staged file unless a store took it over.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>fsync of the file at <paramref name="path"/> through a handle of its own (any handle flushes the file's data).</summary>
    private static void FlushFile(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        file.Flush(flushToDisk: true);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
