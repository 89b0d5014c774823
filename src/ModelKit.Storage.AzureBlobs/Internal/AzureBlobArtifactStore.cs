using System.Runtime.CompilerServices;
using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ModelKit.Registry;

namespace ModelKit.Storage.AzureBlobs.Internal;

/// <summary>
/// Artifacts as block blobs <c>{prefix}sha256/ab/abcdef…</c>: names come from the digest only. Uploads are create-only
/// (<c>If-None-Match: *</c>), read straight from the staged file in parallel blocks; reads stream the blob and verify its
/// SHA-256 and length. Thread-safe.
/// </summary>
internal sealed class AzureBlobArtifactStore : IArtifactStore
{
    private readonly BlobContainerClient _container;
    private readonly AzureBlobArtifactStoreOptions _options;

    public AzureBlobArtifactStore(AzureBlobArtifactStoreOptions options, BlobContainerClient? container = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _container = container ?? new BlobContainerClient(options.ConnectionString, options.ContainerName);
        Description = $"Azure Blob container '{_container.Name}' prefix '{options.BlobPrefix}' at {_container.Uri}";
    }

    public string Description { get; }

    public string StagingDirectory => _options.StagingDirectory;

    public string GetBlobName(string digest) => GetName(ArtifactDigest.GetHex(digest));

    public async Task<bool> PutAsync(StagedArtifact staged, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(staged);
        string name = GetName(staged.Sha256Hex);
        BlobClient blob = _container.GetBlobClient(name);
        try
        {
            await blob.UploadAsync(staged.FilePath, new BlobUploadOptions
            {
                Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
                HttpHeaders = new BlobHttpHeaders { ContentType = "application/octet-stream" },
                TransferOptions = new StorageTransferOptions
                {
                    InitialTransferSize = _options.BlockSizeBytes,
                    MaximumTransferSize = _options.BlockSizeBytes,
                    MaximumConcurrency = _options.MaxConcurrentBlocks,
                },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409 || ex.ErrorCode == BlobErrorCode.BlobAlreadyExists)
        {
            return false;
        }
        catch (RequestFailedException ex)
        {
            throw Failure("store", staged.Digest, name, ex);
        }
    }

    public async Task<Stream> OpenReadAsync(string digest, long sizeBytes, CancellationToken cancellationToken = default)
    {
        string hex = ArtifactDigest.GetHex(digest);
        string name = GetName(hex);
        try
        {
            Response<BlobDownloadStreamingResult> response = await _container.GetBlobClient(name).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            return new VerifyingArtifactStream(response.Value.Content, hex, sizeBytes, $"artifact {digest}", $"{_container.Uri}/{name}");
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            throw new ArtifactNotFoundException(digest, $"the {Description} has no blob '{name}'");
        }
        catch (RequestFailedException ex)
        {
            throw Failure("read", digest, name, ex);
        }
    }

    public async Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken = default)
    {
        string name = GetBlobName(digest);
        try
        {
            return await _container.GetBlobClient(name).ExistsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            throw Failure("look up", digest, name, ex);
        }
    }

    public async Task<bool> DeleteAsync(string digest, CancellationToken cancellationToken = default)
    {
        string name = GetBlobName(digest);
        try
        {
            return await _container.GetBlobClient(name).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            throw Failure("delete", digest, name, ex);
        }
    }

    public async IAsyncEnumerable<StoredArtifact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        IAsyncEnumerator<BlobItem> items = _container.GetBlobsAsync(new GetBlobsOptions { Prefix = _options.BlobPrefix + "sha256/" }, cancellationToken)
            .GetAsyncEnumerator(cancellationToken);
        await using (items.ConfigureAwait(false))
        {
            while (true)
            {
                try
                {
                    if (!await items.MoveNextAsync().ConfigureAwait(false))
                    {
                        yield break;
                    }
                }
                catch (RequestFailedException ex)
                {
                    throw new ModelKitException($"Could not list the {Description}: {ex.Message} (HTTP {ex.Status}, {ex.ErrorCode}). Check the container and the credentials.", ex);
                }

                BlobItem item = items.Current;
                string digest = ArtifactDigest.Prefix + item.Name[(item.Name.LastIndexOf('/') + 1)..];
                if (ArtifactDigest.TryParse(digest, out string hex) && item.Name == GetName(hex))
                {
                    yield return new StoredArtifact(digest, item.Properties.ContentLength ?? 0, item.Properties.LastModified ?? DateTimeOffset.UtcNow);
                }
            }
        }
    }

    private string GetName(string hex) => $"{_options.BlobPrefix}sha256/{hex[..2]}/{hex}";

    private ModelKitException Failure(string operation, string digest, string name, RequestFailedException ex) =>
        new($"Could not {operation} artifact {digest} as '{name}' in the {Description}: {ex.Message} (HTTP {ex.Status}, {ex.ErrorCode}). " +
            "Check the container, the credentials and the network; nothing was changed.", ex);
}
