using ModelKit.Registry;
using ModelKit.Storage.S3;
using ModelKit.Storage.S3.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses S3 as the registry's artifact store.</summary>
public static class S3ModelRegistryBuilderExtensions
{
    /// <summary>
    /// Keeps the registry's artifacts in an S3 bucket (or an S3-compatible server):
    /// <c>AddModelRegistry(r =&gt; r.UsePostgreSql(cs).UseS3Artifacts(o =&gt; { o.BucketName = "models"; }))</c>. Objects are
    /// keyed <c>{KeyPrefix}sha256/ab/abcdef…</c> from the artifact's digest only; artifacts of
    /// <see cref="S3ArtifactStoreOptions.MultipartThresholdBytes"/> or more are sent as multipart uploads; every read is checked
    /// against the digest. The bucket must exist. Uploads are staged in <see cref="S3ArtifactStoreOptions.StagingDirectory"/>
    /// (validated there before anything is sent).
    /// </summary>
    /// <param name="builder">The registry builder.</param>
    /// <param name="configure">Sets the options; <see cref="S3ArtifactStoreOptions.BucketName"/> is required.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder UseS3Artifacts(this IModelRegistryBuilder builder, Action<S3ArtifactStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return ArtifactStoreRegistration.UseArtifactStore<S3ArtifactStoreOptions, S3ArtifactStoreOptionsValidator>(
            builder, configure, options => new S3ArtifactStore(options));
    }
}
