using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry;
using ModelKit.Registry.Tests.Conformance;
using ModelKit.Registry.Tests.Servers;
using ModelKit.Storage.AzureBlobs.Internal;

namespace ModelKit.Storage.AzureBlobs.Tests;

/// <summary>The artifact-store conformance suite against Microsoft's Azure Storage emulator (azurite 3.37.0), one blob prefix per test.</summary>
[Collection("azure")]
public sealed class AzureBlobArtifactStoreTests(AzuriteServer server) : ArtifactStoreConformanceTests
{
    internal const string Container = "modelkit-tests";
    private readonly string _prefix = "t-" + Guid.NewGuid().ToString("N")[..12] + "/";

    internal static AzureBlobArtifactStoreOptions Options(AzuriteServer server, string prefix, string staging)
    {
        new BlobContainerClient(server.ConnectionString, Container).CreateIfNotExists();
        return new AzureBlobArtifactStoreOptions
        {
            ConnectionString = server.ConnectionString,
            ContainerName = Container,
            BlobPrefix = prefix,
            BlockSizeBytes = 4 * 1024 * 1024,
            StagingDirectory = staging,
        };
    }

    protected override IArtifactStore CreateStore() => new AzureBlobArtifactStore(Options(server, _prefix, StagingDirectory));

    protected override async Task CorruptAsync(IArtifactStore store, string digest, byte[] bytes) =>
        await new BlobContainerClient(server.ConnectionString, Container)
            .GetBlobClient(((AzureBlobArtifactStore)store).GetBlobName(digest))
            .UploadAsync(new BinaryData(bytes), overwrite: true);

    [Fact]
    public async Task Put_NamesBlobsByDigestUnderThePrefixOnly()
    {
        var store = (AzureBlobArtifactStore)CreateStore();
        (string digest, _) = await PutAsync(store, RandomBytes(100, 12));

        var names = new List<string>();
        await foreach (Azure.Storage.Blobs.Models.BlobItem item in new BlobContainerClient(server.ConnectionString, Container).GetBlobsAsync(
            new Azure.Storage.Blobs.Models.GetBlobsOptions { Prefix = _prefix }))
        {
            names.Add(item.Name);
        }

        Assert.Equal([$"{_prefix}sha256/{digest[7..9]}/{digest[7..]}"], names);
    }
}

/// <summary>The registry conformance suite with SQLite metadata and artifacts in Azure Blob Storage (azurite).</summary>
[Collection("azure")]
public sealed class SqliteAzureBlobRegistryTests(AzuriteServer server) : RegistryConformanceTests
{
    private readonly string _prefix = "r-" + Guid.NewGuid().ToString("N")[..12] + "/";

    protected override void ConfigureStores(IModelRegistryBuilder registry)
    {
        AzureBlobArtifactStoreOptions options = AzureBlobArtifactStoreTests.Options(server, _prefix, Path.Combine(DataDirectory, "staging"));
        registry.UseSqlite().UseAzureBlobArtifacts(o =>
        {
            o.ConnectionString = options.ConnectionString;
            o.ContainerName = options.ContainerName;
            o.BlobPrefix = options.BlobPrefix;
            o.StagingDirectory = options.StagingDirectory;
        });
    }
}
