using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace ModelKit.Storage.S3;

/// <summary>Options of the S3 artifact store.</summary>
public sealed class S3ArtifactStoreOptions
{
    /// <summary>The smallest part S3 accepts in a multipart upload (except the last), in bytes.</summary>
    public const long MinPartSizeBytes = 5L * 1024 * 1024;

    /// <summary>Gets or sets the bucket that holds the artifacts.</summary>
    /// <value>The default is <see langword="null"/>; a value is required.</value>
    [Required]
    public string? BucketName { get; set; }

    /// <summary>
    /// Gets or sets the key prefix; artifacts are stored as <c>{KeyPrefix}sha256/ab/abcdef…</c>. Empty, or characters from
    /// <c>[A-Za-z0-9/_.-]</c> ending with <c>/</c>.
    /// </summary>
    /// <value>The default is <c>modelkit/</c>.</value>
    public string KeyPrefix { get; set; } = "modelkit/";

    /// <summary>Gets or sets the service URL of an S3-compatible server (for example <c>http://127.0.0.1:4568</c>); <see langword="null"/> uses AWS in <see cref="Region"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? ServiceUrl { get; set; }

    /// <summary>Gets or sets the AWS region, for example <c>eu-west-1</c>.</summary>
    /// <value>The default is <c>us-east-1</c>.</value>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Gets or sets whether to address buckets in the path (<c>host/bucket/key</c>), which most S3-compatible servers need.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool ForcePathStyle { get; set; }

    /// <summary>Gets or sets the access key; <see langword="null"/> uses the SDK's default credential chain (environment, profile, instance role).</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? AccessKey { get; set; }

    /// <summary>Gets or sets the secret key that goes with <see cref="AccessKey"/>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? SecretKey { get; set; }

    /// <summary>Gets or sets the size from which artifacts are uploaded in parts, in bytes.</summary>
    /// <value>The default is 64 MiB.</value>
    [Range(MinPartSizeBytes, long.MaxValue)]
    public long MultipartThresholdBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Gets or sets the part size of multipart uploads, in bytes (at least 5 MiB; at most 10,000 parts per artifact).</summary>
    /// <value>The default is 16 MiB.</value>
    [Range(MinPartSizeBytes, 5L * 1024 * 1024 * 1024)]
    public long PartSizeBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Gets or sets how many parts are uploaded at once.</summary>
    /// <value>The default is 4.</value>
    [Range(1, 64)]
    public int MaxConcurrentParts { get; set; } = 4;

    /// <summary>Gets or sets the local directory where uploads are staged and validated before they are sent.</summary>
    /// <value>The default is <c>modelkit-staging</c> under the system's temporary directory.</value>
    public string StagingDirectory { get; set; } = Path.Combine(Path.GetTempPath(), "modelkit-staging");
}

/// <summary>Checks <see cref="S3ArtifactStoreOptions"/>; messages quote the values.</summary>
internal sealed class S3ArtifactStoreOptionsValidator : IValidateOptions<S3ArtifactStoreOptions>
{
    public ValidateOptionsResult Validate(string? name, S3ArtifactStoreOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.BucketName))
        {
            failures.Add("S3ArtifactStoreOptions.BucketName is empty; set it, for example UseS3Artifacts(o => o.BucketName = \"models\").");
        }

        if (!Microsoft.Extensions.DependencyInjection.ArtifactStoreRegistration.IsValidPrefix(options.KeyPrefix))
        {
            failures.Add($"S3ArtifactStoreOptions.KeyPrefix '{options.KeyPrefix}' is invalid: use '' or characters from [A-Za-z0-9/_.-] ending with '/', without '..', for example 'modelkit/'.");
        }

        if ((options.AccessKey is null) != (options.SecretKey is null))
        {
            failures.Add("S3ArtifactStoreOptions.AccessKey and SecretKey must be set together (or both left null for the default credential chain).");
        }

        if (string.IsNullOrWhiteSpace(options.StagingDirectory))
        {
            failures.Add("S3ArtifactStoreOptions.StagingDirectory is empty; set it to a writable local directory.");
        }

        if (options.MultipartThresholdBytes < options.PartSizeBytes)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"S3ArtifactStoreOptions.MultipartThresholdBytes ({options.MultipartThresholdBytes}) is smaller than PartSizeBytes ({options.PartSizeBytes}); raise it to at least the part size."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
