using ModelKit.Registry;
using ModelKit.Storage.AzureBlobs;
using ModelKit.Storage.AzureBlobs.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses Azure Blob Storage as the registry's artifact store.</summary>
public static class AzureBlobModelRegistryBuilderExtensions
{
    /// <summary>
    /// Keeps the registry's artifacts in an Azure Blob Storage container:
    /// <c>AddModelRegistry(r =&gt; r.UsePostgreSql(cs).UseAzureBlobArtifacts(o =&gt; { o.ConnectionString = …; o.ContainerName = "models"; }))</c>.
    /// Blobs are named <c>{BlobPrefix}sha256/ab/abcdef…</c> from the artifact's digest only, uploaded create-only in parallel
    /// blocks, and checked against the digest on every read. The container must exist.
    /// </summary>
    /// <param name="builder">The registry builder.</param>
    /// <param name="configure">Sets the options; <see cref="AzureBlobArtifactStoreOptions.ConnectionString"/> is required.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder UseAzureBlobArtifacts(this IModelRegistryBuilder builder, Action<AzureBlobArtifactStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        return ArtifactStoreRegistration.UseArtifactStore<AzureBlobArtifactStoreOptions, AzureBlobArtifactStoreOptionsValidator>(
            builder, configure, options => new AzureBlobArtifactStore(options));
    }
}
