using System.Runtime.CompilerServices;
using ModelKit.Registry.Internal;

namespace ModelKit.Registry.Files;

/// <summary>
/// Content-addressed artifact files: <c>blobs/sha256/ab/abcdef…</c> (the first two hex digits name the folder). Uploads
/// are staged in <c>blobs/tmp/</c>, flushed, renamed to their address, and the containing directory is flushed, so a
/// committed version can never point at a file that a power loss took away. Thread-safe; several processes may share
/// the directory.
/// </summary>
internal sealed class FileArtifactStore : IArtifactStore
{
    private const string Sha256Folder = "sha256";

    public FileArtifactStore(string blobsDirectory)
    {
        Root = Path.GetFullPath(blobsDirectory);
        StagingDirectory = Path.Combine(Root, "tmp");
    }

    public string Root { get; }

    public string StagingDirectory { get; }

    public string Description => $"file store '{Root}'";

    /// <summary>Gets the path of the artifact with SHA-256 <paramref name="sha256Hex"/>.</summary>
    public string GetPath(string sha256Hex) => Path.Combine(Root, Sha256Folder, sha256Hex[..2], sha256Hex);

    public Task<bool> PutAsync(StagedArtifact staged, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(staged);
        cancellationToken.ThrowIfCancellationRequested();
        string target = GetPath(staged.Sha256Hex);
        if (File.Exists(target))
        {
            return Task.FromResult(false);
        }

        string folder = Path.GetDirectoryName(target)!;
        FileSystemSafety.CreateDirectoryDurably(folder);
        staged.FlushToDisk();
        try
        {
            File.Move(staged.FilePath, target, overwrite: false);
        }
        catch (IOException) when (File.Exists(target))
        {
            // Another process stored the same content a moment ago: same bytes, nothing to do.
            return Task.FromResult(false);
        }

        staged.MarkMoved();
        FileSystemSafety.FlushDirectory(folder);
        return Task.FromResult(true);
    }

    public Task<Stream> OpenReadAsync(string digest, long sizeBytes, CancellationToken cancellationToken = default)
    {
        string hex = ArtifactDigest.GetHex(digest);
        string path = GetPath(hex);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, bufferSize: 0,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ArtifactNotFoundException(digest, $"the {Description} has no file '{path}'");
        }

        return Task.FromResult<Stream>(new VerifyingArtifactStream(file, hex, sizeBytes, $"artifact {digest}", path));
    }

    public Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken = default) =>
        Task.FromResult(File.Exists(GetPath(ArtifactDigest.GetHex(digest))));

    public Task<bool> DeleteAsync(string digest, CancellationToken cancellationToken = default)
    {
        string path = GetPath(ArtifactDigest.GetHex(digest));
        if (!File.Exists(path))
        {
            return Task.FromResult(false);
        }

        File.Delete(path);
        FileSystemSafety.FlushDirectory(Path.GetDirectoryName(path)!);
        return Task.FromResult(true);
    }

    public async IAsyncEnumerable<StoredArtifact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string root = Path.Combine(Root, Sha256Folder);
        if (!Directory.Exists(root))
        {
            yield break;
        }

        foreach (string folder in Directory.EnumerateDirectories(root))
        {
            foreach (string path in Directory.EnumerateFiles(folder))
            {
                cancellationToken.ThrowIfCancellationRequested();
                string digest = ArtifactDigest.Prefix + Path.GetFileName(path);
                if (!ArtifactDigest.TryParse(digest, out _))
                {
                    continue;
                }

                var info = new FileInfo(path);
                if (info.Exists)
                {
                    yield return new StoredArtifact(digest, info.Length, new DateTimeOffset(info.LastWriteTimeUtc, TimeSpan.Zero));
                }
            }

            await Task.Yield();
        }
    }
}
