using System.Buffers;
using System.Security.Cryptography;

namespace ModelKit.Registry.Internal;

/// <summary>An artifact written to a temporary file and hashed, not yet at its content address.</summary>
/// <param name="TempPath">The temporary file under <c>blobs/tmp/</c>.</param>
/// <param name="Sha256Hex">The SHA-256 of the content, 64 lowercase hex digits.</param>
/// <param name="SizeBytes">The content length in bytes.</param>
internal sealed record StagedBlob(string TempPath, string Sha256Hex, long SizeBytes)
{
    public string Digest => BlobStore.DigestPrefix + Sha256Hex;
}

/// <summary>
/// Content-addressed artifact files: <c>blobs/sha256/ab/abcdef…</c> (the first two hex digits name the folder).
/// New content is written to <c>blobs/tmp/</c>, flushed to disk, then renamed to its address. Thread-safe:
/// it holds no mutable state; callers serialize <see cref="Commit(StagedBlob)"/> through the database write lock.
/// </summary>
internal sealed class BlobStore
{
    public const string DigestPrefix = "sha256:";
    private const int BufferSize = 81920;

    public BlobStore(string blobsDirectory)
    {
        Root = blobsDirectory;
        TempDirectory = Path.Combine(blobsDirectory, "tmp");
    }

    public string Root { get; }

    public string TempDirectory { get; }

    public void EnsureDirectories()
    {
        Directory.CreateDirectory(Path.Combine(Root, "sha256"));
        Directory.CreateDirectory(TempDirectory);
    }

    /// <summary>Gets the path of the blob with SHA-256 <paramref name="sha256Hex"/>.</summary>
    public string GetPath(string sha256Hex) => Path.Combine(Root, "sha256", sha256Hex[..2], sha256Hex);

    /// <summary>Returns whether <paramref name="digest"/> is <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public static bool TryParseDigest(string? digest, out string sha256Hex)
    {
        sha256Hex = string.Empty;
        if (digest is null || digest.Length != DigestPrefix.Length + 64 || !digest.StartsWith(DigestPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (char c in digest.AsSpan(DigestPrefix.Length))
        {
            if (c is not ((>= '0' and <= '9') or (>= 'a' and <= 'f')))
            {
                return false;
            }
        }

        sha256Hex = digest[DigestPrefix.Length..];
        return true;
    }

    /// <summary>
    /// Copies <paramref name="content"/> from its current position to its end into a new temporary file while
    /// hashing it, and flushes the file to disk. On any failure, cancellation included, the temporary file is deleted.
    /// </summary>
    public async Task<StagedBlob> StageAsync(Stream content, CancellationToken cancellationToken)
    {
        string tempPath = Path.Combine(TempDirectory, $"{Guid.NewGuid():N}.tmp");
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            FileStream file = new(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous);
            await using (file.ConfigureAwait(false))
            {
                int n;
                while ((n = await content.ReadAsync(buffer.AsMemory(0, BufferSize), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    await file.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                    size += n;
                }

                file.Flush(flushToDisk: true);
            }

            return new StagedBlob(tempPath, Convert.ToHexStringLower(hash.GetHashAndReset()), size);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Moves a staged blob to its content address. When a blob with the same digest is already stored the
    /// temporary file is deleted instead. Call only while holding the database write lock.
    /// </summary>
    /// <returns><see langword="true"/> when this call created the blob file.</returns>
    public bool Commit(StagedBlob staged)
    {
        string target = GetPath(staged.Sha256Hex);
        if (File.Exists(target))
        {
            TryDelete(staged.TempPath);
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        try
        {
            File.Move(staged.TempPath, target, overwrite: false);
            return true;
        }
        catch (IOException) when (File.Exists(target))
        {
            // Written by a writer that does not hold the database lock (for example a store repair); same content.
            TryDelete(staged.TempPath);
            return false;
        }
    }

    /// <summary>Deletes temporary files older than <paramref name="maxAge"/>, left behind by processes that died mid-registration.</summary>
    /// <returns>How many files were deleted.</returns>
    public int DeleteStaleTempFiles(TimeSpan maxAge, DateTimeOffset now)
    {
        int deleted = 0;
        foreach (string path in Directory.EnumerateFiles(TempDirectory, "*.tmp"))
        {
            if (now - File.GetLastWriteTimeUtc(path) > maxAge && TryDelete(path))
            {
                deleted++;
            }
        }

        return deleted;
    }

    public static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
