using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ModelKit.Storage.AzureBlobs;

/// <summary>Options of the Azure Blob Storage artifact store.</summary>
public sealed class AzureBlobArtifactStoreOptions
{
    /// <summary>Gets or sets the storage account connection string (for the emulator: its development connection string with the blob endpoint).</summary>
    /// <value>The default is <see langword="null"/>; a value is required.</value>
    [Required]
    public string? ConnectionString { get; set; }

    /// <summary>Gets or sets the container that holds the artifacts; it must exist.</summary>
    /// <value>The default is <c>models</c>.</value>
    [Required]
    public string ContainerName { get; set; } = "models";

    /// <summary>Gets or sets the blob name prefix: artifacts are <c>{BlobPrefix}sha256/ab/abcdef…</c>. Empty, or characters from <c>[A-Za-z0-9/_.-]</c> ending with <c>/</c>.</summary>
    /// <value>The default is <c>modelkit/</c>.</value>
    public string BlobPrefix { get; set; } = "modelkit/";

    /// <summary>Gets or sets the block size of uploads and the size from which uploads are split into blocks, in bytes.</summary>
    /// <value>The default is 16 MiB.</value>
    [Range(1024 * 1024, 4000L * 1024 * 1024)]
    public long BlockSizeBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Gets or sets how many blocks are uploaded at once.</summary>
    /// <value>The default is 4.</value>
    [Range(1, 64)]
    public int MaxConcurrentBlocks { get; set; } = 4;

    /// <summary>Gets or sets the local directory where uploads are staged and validated before they are sent.</summary>
    /// <value>The default is <c>modelkit-staging</c> under the system's temporary directory.</value>
    public string StagingDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "modelkit-staging");
}

/// <summary>Checks <see cref="AzureBlobArtifactStoreOptions"/>; messages quote the values.</summary>
internal sealed class AzureBlobArtifactStoreOptionsValidator : IValidateOptions<AzureBlobArtifactStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, AzureBlobArtifactStoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("AzureBlobArtifactStoreOptions.ConnectionString is empty; set it to the storage account's connection string.");
        }

        if (!Microsoft.Extensions.DependencyInjection.ArtifactStoreRegistration.IsValidPrefix(options.BlobPrefix))
        {
            failures.Add($"AzureBlobArtifactStoreOptions.BlobPrefix '{options.BlobPrefix}' is invalid: use '' or characters from [A-Za-z0-9/_.-] ending with '/', without '..', for example 'modelkit/'.");
        }

        if (string.IsNullOrWhiteSpace(options.StagingDirectory))
        {
            failures.Add("AzureBlobArtifactStoreOptions.StagingDirectory is empty; set it to a writable local directory.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
