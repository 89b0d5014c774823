using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry;

namespace ModelKit.Cli;

/// <summary>
/// Where the modelkit command keeps the registry: metadata in <c>registry.db</c> under the data directory or in PostgreSQL,
/// artifacts in <c>blobs/</c> under the data directory, in S3 or in Azure Blob Storage. Each option falls back to an
/// environment variable (<c>MODELKIT_REGISTRY_POSTGRES</c>, <c>MODELKIT_ARTIFACTS_S3_BUCKET</c>, …).
/// </summary>
internal sealed record RegistrySettings(
    string DataDirectory,
    string? PostgresConnectionString,
    string? S3Bucket,
    Uri? S3ServiceUrl,
    string? S3Prefix,
    string? AzureConnectionString,
    string? AzureContainer)
{
    /// <summary>Reads the options, falling back to the environment, and checks that they fit together.</summary>
    /// <exception cref="CliException">Both S3 and Azure are chosen, a store option comes without the option that chooses the store, or the S3 URL is not an http(s) URL (exit code 1).</exception>
    public static RegistrySettings From(
        string? dataDir, string? postgres, string? s3Bucket, string? s3ServiceUrl, string? s3Prefix, string? azureConnection, string? azureContainer)
    {
        postgres = Value(postgres, "MODELKIT_REGISTRY_POSTGRES");
        s3Bucket = Value(s3Bucket, "MODELKIT_ARTIFACTS_S3_BUCKET");
        s3ServiceUrl = Value(s3ServiceUrl, "MODELKIT_ARTIFACTS_S3_SERVICE_URL");
        s3Prefix = Value(s3Prefix, "MODELKIT_ARTIFACTS_S3_PREFIX");
        azureConnection = Value(azureConnection, "MODELKIT_ARTIFACTS_AZURE_CONNECTION_STRING");
        azureContainer = Value(azureContainer, "MODELKIT_ARTIFACTS_AZURE_CONTAINER");
        if (s3Bucket is not null && azureConnection is not null)
        {
            throw new CliException(ExitCodes.Usage,
                "Both an S3 bucket (--artifacts-s3-bucket / MODELKIT_ARTIFACTS_S3_BUCKET) and an Azure connection string (--artifacts-azure-connection-string / MODELKIT_ARTIFACTS_AZURE_CONNECTION_STRING) are given; choose one artifact store.");
        }

        if (s3Bucket is null && (s3ServiceUrl is not null || s3Prefix is not null))
        {
            throw new CliException(ExitCodes.Usage, "--artifacts-s3-service-url and --artifacts-s3-prefix need --artifacts-s3-bucket (or MODELKIT_ARTIFACTS_S3_BUCKET).");
        }

        if (azureConnection is null && azureContainer is not null)
        {
            throw new CliException(ExitCodes.Usage, "--artifacts-azure-container needs --artifacts-azure-connection-string (or MODELKIT_ARTIFACTS_AZURE_CONNECTION_STRING).");
        }

        Uri? serviceUrl = null;
        if (s3ServiceUrl is not null
            && (!Uri.TryCreate(s3ServiceUrl, UriKind.Absolute, out serviceUrl) || (serviceUrl.Scheme != Uri.UriSchemeHttp && serviceUrl.Scheme != Uri.UriSchemeHttps)))
        {
            throw new CliException(ExitCodes.Usage, $"--artifacts-s3-service-url '{s3ServiceUrl}' is not an http:// or https:// URL, for example http://127.0.0.1:9000.");
        }

        return new RegistrySettings(ModelKitCommand.DataDirectory(dataDir), postgres, s3Bucket, serviceUrl, s3Prefix, azureConnection, azureContainer);
    }

    /// <summary>Chooses the stores on the registry builder (the defaults, SQLite and files, where nothing else is chosen).</summary>
    /// <param name="registry">The builder passed to <c>AddModelRegistry</c>.</param>
    public void Configure(IModelRegistryBuilder registry)
    {
        if (PostgresConnectionString is not null)
        {
            registry.UsePostgreSql(PostgresConnectionString);
        }

        if (S3Bucket is not null)
        {
            string? region = Value(null, "AWS_REGION") ?? Value(null, "AWS_DEFAULT_REGION");
            registry.UseS3Artifacts(o =>
            {
                o.BucketName = S3Bucket;
                o.ServiceUrl = S3ServiceUrl;
                o.ForcePathStyle = true;
                if (S3Prefix is not null)
                {
                    o.KeyPrefix = S3Prefix;
                }

                if (region is not null)
                {
                    o.Region = region;
                }
            });
        }

        if (AzureConnectionString is not null)
        {
            registry.UseAzureBlobArtifacts(o =>
            {
                o.ConnectionString = AzureConnectionString;
                if (AzureContainer is not null)
                {
                    o.ContainerName = AzureContainer;
                }
            });
        }
    }

    private static string? Value(string? option, string variable)
    {
        string? value = option ?? Environment.GetEnvironmentVariable(variable);
        return string.IsNullOrEmpty(value) ? null : value;
    }
}
