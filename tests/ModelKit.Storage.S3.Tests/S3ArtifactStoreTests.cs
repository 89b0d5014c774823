using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Registry;
using ModelKit.Registry.Tests.Conformance;
using ModelKit.Registry.Tests.Servers;
using ModelKit.Storage.S3.Internal;

namespace ModelKit.Storage.S3.Tests;

[CollectionDefinition("postgres+s3")]
public sealed class PostgresAndS3ServerGroup : ICollectionFixture<PostgresServer>, ICollectionFixture<S3rverServer>;

/// <summary>The artifact-store conformance suite against a real S3-compatible server (s3rver 3.7.1), one key prefix per test.</summary>
[Collection("postgres+s3")]
public sealed class S3ArtifactStoreTests(S3rverServer server) : ArtifactStoreConformanceTests
{
    internal const string Bucket = "modelkit-tests";
    private readonly string _prefix = "t-" + Guid.NewGuid().ToString("N")[..12] + "/";

    internal static S3ArtifactStoreOptions Options(S3rverServer server, string prefix, string staging) => new()
    {
        BucketName = Bucket,
        KeyPrefix = prefix,
        ServiceUrl = new Uri(server.ServiceUrl),
        ForcePathStyle = true,
        AccessKey = S3rverServer.AccessKey,
        SecretKey = S3rverServer.SecretKey,
        MultipartThresholdBytes = S3ArtifactStoreOptions.MinPartSizeBytes,
        PartSizeBytes = S3ArtifactStoreOptions.MinPartSizeBytes,
        StagingDirectory = staging,
    };

    internal static void EnsureBucket(S3rverServer server)
    {
        using AmazonS3Client client = Client(server);
        try
        {
            client.PutBucketAsync(Bucket).GetAwaiter().GetResult();
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
        }
    }

    internal static AmazonS3Client Client(S3rverServer server) =>
        new(new BasicAWSCredentials(S3rverServer.AccessKey, S3rverServer.SecretKey),
            new AmazonS3Config { ServiceURL = server.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });

    protected override IArtifactStore CreateStore()
    {
        EnsureBucket(server);
        return new S3ArtifactStore(Options(server, _prefix, StagingDirectory));
    }

    protected override async Task CorruptAsync(IArtifactStore store, string digest, byte[] bytes)
    {
        using AmazonS3Client client = Client(server);
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = Bucket,
            Key = ((S3ArtifactStore)store).GetKey(digest),
            InputStream = new MemoryStream(bytes),
            UseChunkEncoding = false,
        });
    }

    [Fact]
    public async Task Put_KeysObjectsByDigestUnderThePrefixOnly()
    {
        var store = (S3ArtifactStore)CreateStore();
        (string digest, _) = await PutAsync(store, RandomBytes(100, 11));

        using AmazonS3Client client = Client(server);
        ListObjectsV2Response listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = Bucket, Prefix = _prefix });

        Assert.Equal([$"{_prefix}sha256/{digest[7..9]}/{digest[7..]}"], listed.S3Objects.Select(o => o.Key));
    }

    [Theory]
    [InlineData("../escape/")]
    [InlineData("/absolute/")]
    [InlineData("no-slash")]
    [InlineData("spaces are bad/")]
    public void UseS3Artifacts_InvalidKeyPrefix_FailsValidationQuotingIt(string prefix)
    {
        using ServiceProvider provider = new ServiceCollection().AddModelKit()
            .AddModelRegistry(r => r.UseS3Artifacts(o => { o.BucketName = "b"; o.KeyPrefix = prefix; }))
            .Services.BuildServiceProvider();

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<S3ArtifactStoreOptions>>().Value);

        Assert.Contains($"S3ArtifactStoreOptions.KeyPrefix '{prefix}' is invalid", ex.Message, StringComparison.Ordinal);
    }
}

/// <summary>The registry conformance suite for many hosts: metadata in PostgreSQL 15, artifacts in S3 (s3rver).</summary>
[Collection("postgres+s3")]
public sealed class PostgreSqlS3RegistryTests(PostgresServer postgres, S3rverServer s3) : RegistryConformanceTests
{
    private readonly string _schema = PostgresServer.NewSchema();
    private readonly string _prefix = "r-" + Guid.NewGuid().ToString("N")[..12] + "/";

    protected override void ConfigureStores(IModelRegistryBuilder registry)
    {
        S3ArtifactStoreTests.EnsureBucket(s3);
        S3ArtifactStoreOptions options = S3ArtifactStoreTests.Options(s3, _prefix, Path.Combine(DataDirectory, "staging"));
        registry.UsePostgreSql(postgres.ConnectionString, o => o.Schema = _schema).UseS3Artifacts(o =>
        {
            o.BucketName = options.BucketName;
            o.KeyPrefix = options.KeyPrefix;
            o.ServiceUrl = options.ServiceUrl;
            o.ForcePathStyle = true;
            o.AccessKey = options.AccessKey;
            o.SecretKey = options.SecretKey;
            o.StagingDirectory = options.StagingDirectory;
        });
    }
}
