namespace ModelKit.Registry.Internal;

/// <summary>Tells which network or FUSE file system holds a path (statfs on Linux). A service so that tests can stand in for a mount they cannot create.</summary>
internal class FileSystemProbe
{
    /// <summary>Returns the network or FUSE file system's name, or <see langword="null"/> for a local file system.</summary>
    public virtual string? GetNetworkFileSystemName(string path) => FileSystemSafety.GetNetworkFileSystemName(path);
}
