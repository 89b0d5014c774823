using System.Net;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using ModelKit.Registry;

namespace ModelKit.Storage.S3.Internal;

/// <summary>
/// Artifacts as S3 objects <c>{prefix}sha256/ab/abcdef…</c>: keys come from the digest only. Small artifacts are sent with
/// one <c>PutObject</c>, large ones with a multipart upload (parts read straight from the staged file, several at once);
/// reads stream the object and verify its SHA-256 and length. Thread-safe.
/// </summary>
internal sealed class S3ArtifactStore : IArtifactStore, IDisposable
{
    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly S3ArtifactStoreOptions _options;
    private readonly string _bucket;

    public S3ArtifactStore(S3ArtifactStoreOptions options, IAmazonS3? client = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _bucket = options.BucketName ?? throw new ArgumentException("S3ArtifactStoreOptions.BucketName is required.", nameof(options));
        if (client is null)
        {
            var config = new AmazonS3Config
            {
                ForcePathStyle = options.ForcePathStyle,
                // Only the checksums S3 requires: S3-compatible servers do not all understand the SDK's default trailers.
                RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
                ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            };
            if (options.ServiceUrl is not null)
            {
                config.ServiceURL = options.ServiceUrl.ToString();
                config.AuthenticationRegion = options.Region;
            }
            else
            {
                config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
            }

            client = options.AccessKey is not null
                ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config)
                : new AmazonS3Client(config);
            _ownsClient = true;
        }

        _client = client;
        Description = $"S3 bucket '{_bucket}' prefix '{options.KeyPrefix}'" + (options.ServiceUrl is null ? string.Empty : $" at {options.ServiceUrl}");
    }

    public string Description { get; }

    public string StagingDirectory => _options.StagingDirectory;

    public string GetKey(string digest) => GetKeyFromHex(ArtifactDigest.GetHex(digest));

    public async Task<bool> PutAsync(StagedArtifact staged, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(staged);
        string key = GetKeyFromHex(staged.Sha256Hex);
        if (await ExistsKeyAsync(key, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        try
        {
            if (staged.SizeBytes < _options.MultipartThresholdBytes)
            {
                await _client.PutObjectAsync(new PutObjectRequest
                {
                    BucketName = _bucket,
                    Key = key,
                    FilePath = staged.FilePath,
                    UseChunkEncoding = false,
                    ContentType = "application/octet-stream",
                }, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await PutMultipartAsync(staged, key, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (AmazonServiceException ex)
        {
            throw Failure("store", staged.Digest, key, ex);
        }

        return true;
    }

    public async Task<Stream> OpenReadAsync(string digest, long sizeBytes, CancellationToken cancellationToken = default)
    {
        string hex = ArtifactDigest.GetHex(digest);
        string key = GetKeyFromHex(hex);
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(new GetObjectRequest { BucketName = _bucket, Key = key }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ArtifactNotFoundException(digest, $"the {Description} has no object '{key}'");
        }
        catch (AmazonServiceException ex)
        {
            throw Failure("read", digest, key, ex);
        }

        return new VerifyingArtifactStream(new ResponseStream(response), hex, sizeBytes, $"artifact {digest}", $"s3://{_bucket}/{key}");
    }

    public Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken = default) => ExistsKeyAsync(GetKey(digest), cancellationToken);

    public async Task<bool> DeleteAsync(string digest, CancellationToken cancellationToken = default)
    {
        string key = GetKey(digest);
        if (!await ExistsKeyAsync(key, cancellationToken).ConfigureAwait(false))
        {
            return false;
        }

        try
        {
            await _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonServiceException ex)
        {
            throw Failure("delete", digest, key, ex);
        }
    }

    public async IAsyncEnumerable<StoredArtifact> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _options.KeyPrefix + "sha256/" };
        while (true)
        {
            ListObjectsV2Response response;
            try
            {
                response = await _client.ListObjectsV2Async(request, cancellationToken).ConfigureAwait(false);
            }
            catch (AmazonServiceException ex)
            {
                throw new ModelKitException($"Could not list the {Description}: {ex.Message} (HTTP {(int)ex.StatusCode}, {ex.ErrorCode}). Check the bucket and the credentials.", ex);
            }

            foreach (S3Object item in response.S3Objects ?? [])
            {
                string digest = ArtifactDigest.Prefix + item.Key[(item.Key.LastIndexOf('/') + 1)..];
                if (ArtifactDigest.TryParse(digest, out string hex) && item.Key == GetKeyFromHex(hex))
                {
                    DateTime modified = item.LastModified ?? DateTime.UtcNow;
                    yield return new StoredArtifact(digest, item.Size ?? 0, new DateTimeOffset(modified.ToUniversalTime(), TimeSpan.Zero));
                }
            }

            if (response.IsTruncated != true)
            {
                yield break;
            }

            request.ContinuationToken = response.NextContinuationToken;
        }
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private string GetKeyFromHex(string hex) => $"{_options.KeyPrefix}sha256/{hex[..2]}/{hex}";

    private async Task<bool> ExistsKeyAsync(string key, CancellationToken cancellationToken)
    {
        try
        {
            await _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _bucket, Key = key }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
        catch (AmazonServiceException ex)
        {
            throw new ModelKitException($"Could not look up '{key}' in the {Description}: {ex.Message} (HTTP {(int)ex.StatusCode}, {ex.ErrorCode}). Check the bucket and the credentials.", ex);
        }
    }

    private async Task PutMultipartAsync(StagedArtifact staged, string key, CancellationToken cancellationToken)
    {
        InitiateMultipartUploadResponse start = await _client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key, ContentType = "application/octet-stream" }, cancellationToken).ConfigureAwait(false);
        try
        {
            long partSize = _options.PartSizeBytes;
            int parts = checked((int)((staged.SizeBytes + partSize - 1) / partSize));
            var etags = new PartETag[parts];
            using var gate = new SemaphoreSlim(_options.MaxConcurrentParts);
            var uploads = new List<Task>(parts);
            for (int i = 0; i < parts; i++)
            {
                await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
                int index = i;
                uploads.Add(Task.Run(async () =>
                {
                    try
                    {
                        long position = index * partSize;
                        UploadPartResponse part = await _client.UploadPartAsync(new UploadPartRequest
                        {
                            BucketName = _bucket,
                            Key = key,
                            UploadId = start.UploadId,
                            PartNumber = index + 1,
                            FilePath = staged.FilePath,
                            FilePosition = position,
                            PartSize = Math.Min(partSize, staged.SizeBytes - position),
                            IsLastPart = index == parts - 1,
                            UseChunkEncoding = false,
                        }, cancellationToken).ConfigureAwait(false);
                        etags[index] = new PartETag(index + 1, part.ETag);
                    }
                    finally
                    {
                        gate.Release();
                    }
                }, cancellationToken));
            }

            await Task.WhenAll(uploads).ConfigureAwait(false);
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket,
                Key = key,
                UploadId = start.UploadId,
                PartETags = [.. etags],
            }, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            try
            {
                await _client.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = start.UploadId }, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AmazonServiceException)
            {
                // The bucket's lifecycle rule for incomplete uploads cleans up what remains.
            }

            throw;
        }
    }

    private ModelKitException Failure(string operation, string digest, string key, AmazonServiceException ex) =>
        new($"Could not {operation} artifact {digest} as '{key}' in the {Description}: {ex.Message} (HTTP {(int)ex.StatusCode}, {ex.ErrorCode}). " +
            "Check the bucket, the credentials and the network; nothing was changed.", ex);

    /// <summary>The object's body; disposing it disposes the response.</summary>
    private sealed class ResponseStream(GetObjectResponse response) : Stream
    {
        private readonly Stream _body = response.ResponseStream;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _body.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => _body.Read(buffer);

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => _body.ReadAsync(buffer, offset, count, cancellationToken);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => _body.ReadAsync(buffer, cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
