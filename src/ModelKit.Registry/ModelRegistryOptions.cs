using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace ModelKit.Registry;

/// <summary>Options of the model registry (every metadata and artifact store).</summary>
public sealed class ModelRegistryOptions
{
    /// <summary>Gets or sets the largest accepted artifact, in bytes. An upload stops after this many bytes plus one and nothing is stored.</summary>
    /// <value>The default is 2 GiB (2,147,483,648 bytes), the largest ONNX model without external data.</value>
    [Range(1L, long.MaxValue)]
    public long MaxArtifactSizeBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>Gets or sets the largest accepted version attachment (see <see cref="IModelRegistry.PutAttachmentAsync"/>), in bytes. An upload stops after this many bytes plus one and nothing is stored.</summary>
    /// <value>The default is 256 MiB (268,435,456 bytes).</value>
    [Range(1L, long.MaxValue)]
    public long MaxAttachmentSizeBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Gets or sets how old an unreferenced artifact (and an abandoned upload) must be before garbage collection deletes it.
    /// Registrations that take longer than this from pin to commit could lose their artifact, so keep it well above the
    /// longest upload.
    /// </summary>
    /// <value>The default is 24 hours.</value>
    public TimeSpan GarbageCollectionGracePeriod { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Gets or sets whether resolved references are cached in memory. The cache is kept correct by the registry's change
    /// feed: it is cleared by every change this or another process commits, within about <see cref="ChangePollInterval"/>
    /// (SQLite) or one notification (PostgreSQL), and it is off while the feed is not running.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool CacheResolvedReferences { get; set; } = true;

    /// <summary>Gets or sets how often the SQLite store checks its data version for changes committed by other processes.</summary>
    /// <value>The default is 100 milliseconds.</value>
    public TimeSpan ChangePollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Gets or sets whether the SQLite store may run on a network or FUSE file system (NFS, SMB/CIFS, FUSE, 9P, Ceph, …).
    /// SQLite's WAL mode needs shared memory on one host and its locks are unreliable on such file systems, so the
    /// registry refuses them by default. SQLite = one host, any number of processes; many hosts = ModelKit.Registry.PostgreSql.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool AllowNetworkFileSystem { get; set; }
}

/// <summary>Checks <see cref="ModelRegistryOptions"/>; messages quote the values.</summary>
internal sealed class ModelRegistryOptionsValidator : IValidateOptions<ModelRegistryOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelRegistryOptions options)
    {
        var failures = new List<string>();
        if (options.GarbageCollectionGracePeriod < TimeSpan.Zero)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"ModelRegistryOptions.GarbageCollectionGracePeriod is {options.GarbageCollectionGracePeriod}; it must be zero or positive (for example 24:00:00)."));
        }

        if (options.ChangePollInterval < TimeSpan.FromMilliseconds(1) || options.ChangePollInterval > TimeSpan.FromMinutes(1))
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"ModelRegistryOptions.ChangePollInterval is {options.ChangePollInterval}; it must be between 1 ms and 1 minute (for example 00:00:00.1)."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
