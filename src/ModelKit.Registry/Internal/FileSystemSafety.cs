using System.Globalization;
using System.Runtime.InteropServices;

namespace ModelKit.Registry.Internal;

/// <summary>
/// File-system facts the embedded registry depends on: flushing directories after a rename or create (so a power loss
/// cannot lose a file whose metadata is committed), and refusing network and FUSE file systems for the SQLite database
/// (WAL needs shared memory on one host; such file systems break its locking).
/// </summary>
internal static partial class FileSystemSafety
{
    // Magic numbers from linux/magic.h and the file systems' sources (statfs(2) f_type).
    private static readonly Dictionary<long, string> NetworkOrFuseTypes = new()
    {
        [0x6969] = "NFS",
        [0x517B] = "SMB",
        [0xFF534D42] = "CIFS",
        [0xFE534D42] = "SMB2",
        [0x65735546] = "FUSE",
        [0x01021997] = "9P",
        [0x00C36400] = "Ceph",
        [0x5346414F] = "AFS",
        [0x0BD00BD0] = "Lustre",
        [0x01161970] = "GFS2",
        [0x7461636F] = "OCFS2",
    };

    /// <summary>Flushes a directory's entries to disk (Linux and macOS; a no-op elsewhere). Failures are ignored where the file system cannot flush directories.</summary>
    public static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = Open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"Could not open directory '{directory}' to flush it (errno {errno})."));
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                // EINVAL / ENOTSUP: the file system does not support flushing directories; nothing more can be done.
                if (errno is not (22 or 95))
                {
                    throw new IOException(string.Create(CultureInfo.InvariantCulture, $"Could not flush directory '{directory}' (errno {errno})."));
                }
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Creates <paramref name="directory"/> and any missing parents, flushing each parent whose entries changed.</summary>
    public static void CreateDirectoryDurably(string directory)
    {
        string full = Path.GetFullPath(directory);
        if (Directory.Exists(full))
        {
            return;
        }

        string? parent = Path.GetDirectoryName(full);
        if (parent is not null)
        {
            CreateDirectoryDurably(parent);
        }

        Directory.CreateDirectory(full);
        if (parent is not null)
        {
            FlushDirectory(parent);
        }
    }

    /// <summary>Returns the name of the network or FUSE file system that holds <paramref name="path"/>, or <see langword="null"/> for a local one (or off Linux).</summary>
    public static string? GetNetworkFileSystemName(string path)
    {
        long? type = GetFileSystemType(path);
        return type is long t ? Classify(t) : null;
    }

    /// <summary>Maps a statfs <c>f_type</c> to a network or FUSE file system name, or <see langword="null"/>.</summary>
    public static string? Classify(long fileSystemType) =>
        NetworkOrFuseTypes.TryGetValue(fileSystemType & 0xFFFFFFFF, out string? name) ? name : null;

    /// <summary>Returns statfs's <c>f_type</c> for <paramref name="path"/> on Linux; <see langword="null"/> elsewhere.</summary>
    public static unsafe long? GetFileSystemType(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        // struct statfs is 120 bytes on 64-bit Linux (x86-64 and arm64); f_type is its first member, a 64-bit word.
        byte* buffer = stackalloc byte[256];
        if (StatFs(path, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"statfs('{path}') failed (errno {errno})."));
        }

        return IntPtr.Size == 8 ? *(long*)buffer : *(int*)buffer;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int StatFs(string path, byte* buffer);
}
