using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelKit.Registry.Internal;

/// <summary>
/// The registry over its two seams, an <see cref="IModelMetadataStore"/> and an <see cref="IArtifactStore"/>: validation,
/// inspection, staging with a size limit, artifact pins, garbage collection, the change feed and the resolve cache.
/// Thread-safe.
/// </summary>
/// <remarks>
/// A registration never deletes an artifact: it stages and inspects the upload, pins its digest in the metadata store,
/// puts the artifact, then records the version and releases the pin in one transaction. A failure releases the pin and
/// leaves the artifact to garbage collection, which deletes only artifacts older than the grace period for which the
/// metadata store proves, in the same transaction that marks them as being deleted, that no version and no live pin
/// references them. This closes the race in which a failing registration deleted a blob that another process had just
/// deduplicated onto.
/// </remarks>
internal sealed class ModelRegistry : IModelRegistry, IDisposable
{
    private const int MaxNamesInMessages = 20;
    private const int ChangeBatch = 256;
    private static readonly TimeSpan FeedWaitTimeout = TimeSpan.FromSeconds(5);

    private readonly IModelMetadataStore _metadata;
    private readonly IArtifactStore _artifacts;
    private readonly IReadOnlyDictionary<string, IModelFormatInspector> _inspectors;
    private readonly ModelRegistryOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly RegistryTelemetry _telemetry;
    private readonly ConcurrentDictionary<ModelReference, ModelVersion> _cache = new();
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _feedLock = new();
    private Task? _feed;
    private volatile bool _feedLive;
    private long _cacheGeneration;
    private int _disposeState;

    public ModelRegistry(
        IModelMetadataStore metadata,
        IArtifactStore artifacts,
        IEnumerable<IModelFormatInspector> inspectors,
        IOptions<ModelRegistryOptions> options,
        TimeProvider timeProvider,
        ILogger<ModelRegistry>? logger = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(artifacts);
        ArgumentNullException.ThrowIfNull(inspectors);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _metadata = metadata;
        _artifacts = artifacts;
        var byFormat = new Dictionary<string, IModelFormatInspector>(StringComparer.Ordinal);
        foreach (IModelFormatInspector inspector in inspectors)
        {
            byFormat[inspector.Format] = inspector;
        }

        _inspectors = byFormat;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _telemetry = new RegistryTelemetry(meterFactory);
    }

    public IModelMetadataStore Metadata => _metadata;

    public IArtifactStore Artifacts => _artifacts;

    /// <summary>
    /// Gets whether staging writes the file to disk while it copies: only for the file store, which renames the staged file
    /// into place after an fsync (the disk writes then overlap the copy and the hash). Stores that upload elsewhere need no
    /// local durability and skip the disk writes.
    /// </summary>
    private bool WriteBackWhileStaging => _artifacts is Files.FileArtifactStore;

    /// <summary>Gets whether the change feed runs and resolved references are being cached.</summary>
    public bool IsResolveCacheLive => _feedLive;

    public async Task<ModelVersion> RegisterAsync(ModelRegistration registration, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentNullException.ThrowIfNull(content);
        ModelName.ThrowIfInvalid(registration.Name, nameof(registration));
        ValidateRegistration(registration);
        if (!content.CanRead)
        {
            throw new ArgumentException($"The content stream for model '{registration.Name}' is not readable; pass a stream opened for reading.", nameof(content));
        }

        IModelFormatInspector inspector = GetInspector(registration.Format);
        cancellationToken.ThrowIfCancellationRequested();

        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.register", registration.Name);
        try
        {
            if (registration.Lineage.ParentVersion is int parent &&
                await _metadata.FindVersionAsync(ModelReference.ForVersion(registration.Name, parent), cancellationToken).ConfigureAwait(false) is null)
            {
                ModelNotFoundException notFound = await NotFoundAsync(ModelReference.ForVersion(registration.Name, parent), cancellationToken).ConfigureAwait(false);
                throw new ModelNotFoundException(notFound.Reference, $"The lineage parent does not exist. {notFound.Message}");
            }

            StagedArtifact staged = await StagedArtifact.CreateAsync(
                content, _artifacts.StagingDirectory, _options.MaxArtifactSizeBytes, $"model '{registration.Name}'", WriteBackWhileStaging, cancellationToken).ConfigureAwait(false);
            await using (staged.ConfigureAwait(false))
            {
                ModelArtifactInfo info;
                try
                {
                    info = Inspect(inspector, staged, registration);
                }
                catch (InvalidModelException ex)
                {
                    RegistryLog.RegistrationRejected(_logger, registration.Name, registration.Format, ex);
                    throw;
                }

                cancellationToken.ThrowIfCancellationRequested();
                Guid pin = await _metadata.PinArtifactAsync(staged.Digest, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                ModelVersion version;
                try
                {
                    if (!await _artifacts.PutAsync(staged, cancellationToken).ConfigureAwait(false))
                    {
                        RegistryLog.BlobAlreadyStored(_logger, staged.Digest);
                    }

                    // From here on the registration completes: the artifact is stored and pinned.
                    version = await _metadata.AddVersionAsync(
                        new ModelVersionDraft(registration, staged.Digest, staged.SizeBytes, info.Signature, _timeProvider.GetUtcNow()),
                        pin,
                        CancellationToken.None).ConfigureAwait(false);
                }
                catch
                {
                    // Release the pin; the artifact stays until garbage collection proves nothing references it.
                    try
                    {
                        await _metadata.UnpinArtifactAsync(pin, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (ModelKitException)
                    {
                        // The pin expires after the grace period.
                    }

                    throw;
                }

                Invalidate();
                activity?.SetTag(RegistryTelemetry.ModelVersionTag, version.Version);
                _telemetry.Registrations.Add(1, new KeyValuePair<string, object?>(RegistryTelemetry.ModelNameTag, version.Name));
                RegistryLog.VersionRegistered(_logger, version.Name, version.Version, version.Digest, version.SizeBytes, version.Format);
                return version;
            }
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    public async Task<ModelVersion> ResolveAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        bool useCache = _options.CacheResolvedReferences && EnsureFeed();
        if (useCache && _cache.TryGetValue(reference, out ModelVersion? cached))
        {
            return cached;
        }

        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.resolve", reference.Name);
        try
        {
            long generation = Interlocked.Read(ref _cacheGeneration);
            ModelVersion found = await _metadata.FindVersionAsync(reference, cancellationToken).ConfigureAwait(false)
                ?? throw await NotFoundAsync(reference, cancellationToken).ConfigureAwait(false);
            if (useCache && _feedLive)
            {
                _cache[reference] = found;
                if (Interlocked.Read(ref _cacheGeneration) != generation)
                {
                    // A change arrived while this read ran: the entry may be stale.
                    _cache.TryRemove(reference, out _);
                }
            }

            activity?.SetTag(RegistryTelemetry.ModelVersionTag, found.Version);
            return found;
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    public Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default) => _metadata.ListModelsAsync(cancellationToken);

    public Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        return _metadata.ListVersionsAsync(name, cancellationToken);
    }

    public Task<IReadOnlyDictionary<string, int>> GetAliasesAsync(string name, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        return _metadata.GetAliasesAsync(name, cancellationToken);
    }

    public Task SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default) =>
        MoveAliasAsync(name, alias, version, compare: false, expected: null, new AliasChangeInfo(), cancellationToken);

    public Task<AliasChange?> SetAliasAsync(string name, string alias, int version, AliasChangeInfo info, CancellationToken cancellationToken = default) =>
        MoveAliasAsync(name, alias, version, compare: false, expected: null, info, cancellationToken);

    public async Task<AliasChange> CompareAndSetAliasAsync(
        string name, string alias, int? expectedVersion, int newVersion, AliasChangeInfo? info = null, CancellationToken cancellationToken = default)
    {
        if (expectedVersion is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(expectedVersion), expectedVersion, "The expected version must be 1 or greater, or null when the alias must not exist yet.");
        }

        AliasChange? change = await MoveAliasAsync(name, alias, newVersion, compare: true, expectedVersion, info ?? new AliasChangeInfo(), cancellationToken).ConfigureAwait(false);
        if (change is not null)
        {
            return change;
        }

        // Expected and new version are the same and the alias points there: report the entry that put it there.
        IReadOnlyList<AliasChange> history = await _metadata.GetAliasHistoryAsync(name, alias, cancellationToken).ConfigureAwait(false);
        return history[^1];
    }

    public async Task<AliasChange?> RemoveAliasAsync(string name, string alias, AliasChangeInfo? info = null, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ModelName.ThrowIfInvalidAlias(alias);
        info ??= new AliasChangeInfo();
        RegistryValidation.ValidateInfo(info, nameof(info));
        AliasChange? change = await _metadata.RemoveAliasAsync(name, alias, info, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        Invalidate();
        if (change is not null)
        {
            RegistryLog.AliasRemoved(_logger, name, alias, change.OldVersion ?? 0);
        }

        return change;
    }

    public Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string name, string? alias = null, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        if (alias is not null)
        {
            ModelName.ThrowIfInvalidAlias(alias);
        }

        return _metadata.GetAliasHistoryAsync(name, alias, cancellationToken);
    }

    public async Task<ModelVersion> UpdateVersionAsync(string name, int version, ModelVersionUpdate update, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ArgumentNullException.ThrowIfNull(update);
        RegistryValidation.ValidateTags(update.SetTags, name, nameof(update));
        RegistryValidation.ValidateMetrics(update.SetMetrics, name, nameof(update));
        ArgumentNullException.ThrowIfNull(update.RemoveTags, "update.RemoveTags");
        ArgumentNullException.ThrowIfNull(update.RemoveMetrics, "update.RemoveMetrics");
        foreach (string key in update.RemoveTags)
        {
            RegistryValidation.ThrowIfBadKey(key, "Tag", name, nameof(update));
        }

        foreach (string key in update.RemoveMetrics)
        {
            RegistryValidation.ThrowIfBadKey(key, "Metric", name, nameof(update));
        }

        ModelVersion updated = await WithRichNotFound(name, version,
            () => _metadata.UpdateVersionAsync(name, version, update, _timeProvider.GetUtcNow(), cancellationToken), cancellationToken).ConfigureAwait(false);
        Invalidate();
        return updated;
    }

    public async Task<ModelVersion> ArchiveVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ModelVersion archived = await WithRichNotFound(name, version,
            () => _metadata.ArchiveVersionAsync(name, version, _timeProvider.GetUtcNow(), cancellationToken), cancellationToken).ConfigureAwait(false);
        Invalidate();
        return archived;
    }

    public async Task<ModelVersion> DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ModelVersion deleted = await WithRichNotFound(name, version,
            () => _metadata.DeleteVersionAsync(name, version, _timeProvider.GetUtcNow(), cancellationToken), cancellationToken).ConfigureAwait(false);
        Invalidate();
        RegistryLog.VersionDeleted(_logger, name, version, deleted.Digest);
        return deleted;
    }

    public async Task<ModelAttachment> PutAttachmentAsync(
        string name, int version, string attachmentName, string mediaType, Stream content, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ModelName.ThrowIfInvalidAttachmentName(attachmentName);
        ModelName.ThrowIfInvalidMediaType(mediaType);
        ArgumentNullException.ThrowIfNull(content);
        if (!content.CanRead)
        {
            throw new ArgumentException(
                $"The content stream for attachment '{attachmentName}' of model '{name}' version {version} is not readable; pass a stream opened for reading.", nameof(content));
        }

        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.put_attachment", name);
        activity?.SetTag(RegistryTelemetry.ModelVersionTag, version);
        try
        {
            // Fail before the upload when the version does not exist; the metadata store checks again in the commit.
            if (await _metadata.FindVersionAsync(ModelReference.ForVersion(name, version), cancellationToken).ConfigureAwait(false) is null)
            {
                ModelNotFoundException notFound = await NotFoundAsync(ModelReference.ForVersion(name, version), cancellationToken).ConfigureAwait(false);
                throw new ModelNotFoundException(notFound.Reference, $"Cannot attach '{attachmentName}': {notFound.Message}");
            }

            string what = string.Create(CultureInfo.InvariantCulture, $"attachment '{attachmentName}' of model '{name}' version {version}");
            StagedArtifact staged = await StagedArtifact.CreateAsync(
                content, _artifacts.StagingDirectory, _options.MaxAttachmentSizeBytes, what, WriteBackWhileStaging, cancellationToken).ConfigureAwait(false);
            await using (staged.ConfigureAwait(false))
            {
                Guid pin = await _metadata.PinArtifactAsync(staged.Digest, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
                try
                {
                    if (!await _artifacts.PutAsync(staged, cancellationToken).ConfigureAwait(false))
                    {
                        RegistryLog.BlobAlreadyStored(_logger, staged.Digest);
                    }

                    ModelAttachment recorded = await WithRichNotFound(name, version,
                        () => _metadata.PutAttachmentAsync(
                            new ModelAttachment(name, version, attachmentName, mediaType, staged.Digest, staged.SizeBytes, _timeProvider.GetUtcNow()),
                            pin,
                            CancellationToken.None),
                        cancellationToken).ConfigureAwait(false);
                    RegistryLog.AttachmentAdded(_logger, name, version, attachmentName, recorded.Digest, recorded.SizeBytes);
                    return recorded;
                }
                catch
                {
                    // Release the pin; the bytes stay until garbage collection proves nothing references them.
                    try
                    {
                        await _metadata.UnpinArtifactAsync(pin, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (ModelKitException)
                    {
                        // The pin expires after the grace period.
                    }

                    throw;
                }
            }
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    public async Task<Stream> OpenAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ModelName.ThrowIfInvalidAttachmentName(attachmentName);
        ModelAttachment? attachment = await _metadata.FindAttachmentAsync(name, version, attachmentName, cancellationToken).ConfigureAwait(false);
        string reference = ModelReference.ForVersion(name, version).ToString();
        if (attachment is null)
        {
            IReadOnlyList<ModelAttachment>? present = await _metadata.ListAttachmentsAsync(name, version, cancellationToken).ConfigureAwait(false);
            if (present is null)
            {
                throw await NotFoundAsync(ModelReference.ForVersion(name, version), cancellationToken).ConfigureAwait(false);
            }

            string known = present.Count == 0 ? "(none)" : JoinLimited(present.Select(a => a.Name).ToList());
            throw new ModelNotFoundException(reference, string.Create(CultureInfo.InvariantCulture,
                $"Model '{name}' version {version} has no attachment '{attachmentName}'; its attachments are: {known}. Attach one with PutAttachmentAsync."));
        }

        if (!ArtifactDigest.TryParse(attachment.Digest, out _))
        {
            throw new ModelKitException(
                $"Attachment '{attachmentName}' of model '{name}' version {version} has a malformed digest '{attachment.Digest}' in the {_metadata.Description}; " +
                "expected 'sha256:' and 64 lowercase hex digits. The metadata was edited outside ModelKit; restore it from a backup.");
        }

        try
        {
            Stream stream = await _artifacts.OpenReadAsync(attachment.Digest, attachment.SizeBytes, cancellationToken).ConfigureAwait(false);
            return new DescribedArtifactStream(stream, string.Create(CultureInfo.InvariantCulture, $"attachment '{attachmentName}' of model '{name}' version {version}"));
        }
        catch (ArtifactNotFoundException ex)
        {
            throw new ModelNotFoundException(reference, string.Create(CultureInfo.InvariantCulture,
                $"The bytes of attachment '{attachmentName}' of model '{name}' version {version} ({attachment.Digest}) are missing: {ex.Location}. Restore them from a backup, or attach the file again."));
        }
    }

    public async Task<IReadOnlyList<ModelAttachment>> ListAttachmentsAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        return await _metadata.ListAttachmentsAsync(name, version, cancellationToken).ConfigureAwait(false)
            ?? throw await NotFoundAsync(ModelReference.ForVersion(name, version), cancellationToken).ConfigureAwait(false);
    }

    public async Task<ModelAttachment?> DeleteAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ModelName.ThrowIfInvalidAttachmentName(attachmentName);
        ModelAttachment? deleted = null;
        await WithRichNotFound(name, version, async () =>
        {
            deleted = await _metadata.DeleteAttachmentAsync(name, version, attachmentName, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        if (deleted is not null)
        {
            RegistryLog.AttachmentDeleted(_logger, name, version, attachmentName, deleted.Digest);
        }

        return deleted;
    }

    public Task<ModelSearchResult> SearchAsync(ModelSearchQuery query, CancellationToken cancellationToken = default)
    {
        RegistryValidation.ValidateQuery(query);
        return _metadata.SearchAsync(query, cancellationToken);
    }

    public async Task<ModelLineageGraph> GetLineageAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ModelVersion version = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ModelVersion> all = await _metadata.ListVersionsAsync(version.Name, cancellationToken).ConfigureAwait(false);
        var byNumber = all.ToDictionary(v => v.Version);

        var ancestors = new List<ModelVersion>();
        var seen = new HashSet<int> { version.Version };
        int? next = version.Lineage.ParentVersion;
        while (next is int p && seen.Add(p) && byNumber.TryGetValue(p, out ModelVersion? parent))
        {
            ancestors.Add(parent);
            next = parent.Lineage.ParentVersion;
        }

        var descendants = new List<ModelVersion>();
        var frontier = new HashSet<int> { version.Version };
        foreach (ModelVersion candidate in all)
        {
            // Parents always have smaller numbers than their children, so one pass in version order finds every descendant.
            if (candidate.Lineage.ParentVersion is int pv && frontier.Contains(pv) && candidate.Version != version.Version)
            {
                descendants.Add(candidate);
                frontier.Add(candidate.Version);
            }
        }

        IReadOnlyList<ModelVersion> sameRun = version.Lineage.TrainingRunId is string run
            ? await RelatedAsync(new ModelSearchQuery { TrainingRunId = run }, version, cancellationToken).ConfigureAwait(false)
            : [];
        IReadOnlyList<ModelVersion> sameData = version.Lineage.DatasetDigest is string dataset
            ? await RelatedAsync(new ModelSearchQuery { DatasetDigest = dataset }, version, cancellationToken).ConfigureAwait(false)
            : [];
        return new ModelLineageGraph(version, ancestors, descendants, sameRun, sameData);
    }

    public async IAsyncEnumerable<RegistryChange> WatchAsync(long? afterSequence = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (afterSequence is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(afterSequence), afterSequence, "The sequence number to resume after must be 0 or greater.");
        }

        long cursor = afterSequence ?? await _metadata.GetLatestChangeSequenceAsync(cancellationToken).ConfigureAwait(false);
        while (!cancellationToken.IsCancellationRequested)
        {
            IReadOnlyList<RegistryChange> changes = await _metadata.ReadChangesAsync(cursor, ChangeBatch, cancellationToken).ConfigureAwait(false);
            foreach (RegistryChange change in changes)
            {
                cursor = change.Sequence;
                yield return change;
            }

            if (changes.Count < ChangeBatch)
            {
                await _metadata.WaitForChangesAsync(cursor, FeedWaitTimeout, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public Task<long> GetChangeSequenceAsync(CancellationToken cancellationToken = default) => _metadata.GetLatestChangeSequenceAsync(cancellationToken);

    public async Task<ArtifactCollectionResult> CollectGarbageAsync(TimeSpan? gracePeriod = null, CancellationToken cancellationToken = default)
    {
        TimeSpan grace = gracePeriod ?? _options.GarbageCollectionGracePeriod;
        ArgumentOutOfRangeException.ThrowIfLessThan(grace, TimeSpan.Zero, nameof(gracePeriod));
        long started = _timeProvider.GetTimestamp();
        try
        {
            ArtifactCollectionResult result = await CollectGarbageCoreAsync(grace, cancellationToken).ConfigureAwait(false);
            _telemetry.GarbageCollectedArtifacts.Add(result.Deleted.Count);
            _telemetry.GarbageCollectedBytes.Add(result.BytesDeleted);
            _telemetry.GarbageCollections.Add(1, new KeyValuePair<string, object?>(RegistryTelemetry.OutcomeTag, "success"));
            return result;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _telemetry.GarbageCollections.Add(1, new KeyValuePair<string, object?>(RegistryTelemetry.OutcomeTag, "failure"));
            throw;
        }
        finally
        {
            if (_telemetry.GarbageCollectionDuration.Enabled)
            {
                _telemetry.GarbageCollectionDuration.Record(_timeProvider.GetElapsedTime(started).TotalSeconds);
            }
        }
    }

    private async Task<ArtifactCollectionResult> CollectGarbageCoreAsync(TimeSpan grace, CancellationToken cancellationToken)
    {
        DateTimeOffset cutoff = _timeProvider.GetUtcNow() - grace;
        int examined = 0, referenced = 0, young = 0, inUpload = 0;
        long bytes = 0;
        var deleted = new List<string>();
        await foreach (StoredArtifact artifact in _artifacts.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            examined++;
            if (artifact.LastModified > cutoff)
            {
                young++;
                continue;
            }

            ArtifactDeletionCheck check = await _metadata.TryBeginArtifactDeletionAsync(artifact.Digest, cutoff, cancellationToken).ConfigureAwait(false);
            if (check == ArtifactDeletionCheck.Referenced)
            {
                referenced++;
                continue;
            }

            if (check == ArtifactDeletionCheck.Pinned)
            {
                inUpload++;
                continue;
            }

            try
            {
                if (await _artifacts.DeleteAsync(artifact.Digest, CancellationToken.None).ConfigureAwait(false))
                {
                    deleted.Add(artifact.Digest);
                    bytes += artifact.SizeBytes;
                }
            }
            finally
            {
                await _metadata.EndArtifactDeletionAsync(artifact.Digest, CancellationToken.None).ConfigureAwait(false);
            }
        }

        int staleStaging = DeleteStaleStagingFiles(cutoff);
        RegistryLog.GarbageCollected(_logger, examined, deleted.Count, bytes, staleStaging, _artifacts.Description);
        return new ArtifactCollectionResult(examined, deleted, bytes, referenced, young, inUpload);
    }

    public async Task<Stream> OpenArtifactAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ModelVersion stored = await _metadata.FindVersionAsync(ModelReference.ForVersion(version.Name, version.Version), cancellationToken).ConfigureAwait(false)
            ?? throw await NotFoundAsync(ModelReference.ForVersion(version.Name, version.Version), cancellationToken).ConfigureAwait(false);
        if (!ArtifactDigest.TryParse(stored.Digest, out _))
        {
            throw new ModelKitException(
                $"Model '{stored.Name}' version {stored.Version} has a malformed digest '{stored.Digest}' in the {_metadata.Description}; " +
                "expected 'sha256:' and 64 lowercase hex digits. The metadata was edited outside ModelKit; restore it from a backup.");
        }

        try
        {
            Stream stream = await _artifacts.OpenReadAsync(stored.Digest, stored.SizeBytes, cancellationToken).ConfigureAwait(false);
            return new DescribedArtifactStream(stream, string.Create(CultureInfo.InvariantCulture, $"model '{stored.Name}' version {stored.Version}"));
        }
        catch (ArtifactNotFoundException ex)
        {
            throw new ModelNotFoundException(
                stored.Reference.ToString(),
                $"The artifact of model '{stored.Name}' version {stored.Version} ({stored.Digest}) is missing: {ex.Location}. " +
                "Restore it from a backup, or register the model again.");
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposeState, 1) != 0)
        {
            return;
        }

        _disposed.Cancel();
        Task? feed;
        lock (_feedLock)
        {
            feed = _feed;
        }

        // The feed ends at its next await; wait so that it never touches a disposed store.
        if (feed is null || feed.Wait(TimeSpan.FromSeconds(10)))
        {
            _disposed.Dispose();
        }

        _telemetry.Dispose();
    }

    private async Task<AliasChange?> MoveAliasAsync(
        string name, string alias, int version, bool compare, int? expected, AliasChangeInfo info, CancellationToken cancellationToken)
    {
        ModelName.ThrowIfInvalid(name);
        ModelName.ThrowIfInvalidAlias(alias);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ArgumentNullException.ThrowIfNull(info);
        RegistryValidation.ValidateInfo(info, nameof(info));
        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.set_alias", name);
        activity?.SetTag(RegistryTelemetry.ModelVersionTag, version);
        try
        {
            AliasChange? change;
            try
            {
                change = await _metadata.SetAliasAsync(name, alias, version, compare, expected, info, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            }
            catch (ModelNotFoundException)
            {
                ModelNotFoundException notFound = await NotFoundAsync(ModelReference.ForVersion(name, version), cancellationToken).ConfigureAwait(false);
                throw new ModelNotFoundException(notFound.Reference, $"The alias target does not exist. {notFound.Message}");
            }

            Invalidate();
            if (change is { OldVersion: int previous })
            {
                RegistryLog.AliasMoved(_logger, name, alias, previous, version);
            }
            else if (change is not null)
            {
                RegistryLog.AliasCreated(_logger, name, alias, version);
            }

            return change;
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    private async Task<T> WithRichNotFound<T>(string name, int version, Func<Task<T>> action, CancellationToken cancellationToken)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (ModelNotFoundException)
        {
            throw await NotFoundAsync(ModelReference.ForVersion(name, version), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<IReadOnlyList<ModelVersion>> RelatedAsync(ModelSearchQuery query, ModelVersion self, CancellationToken cancellationToken)
    {
        var related = new List<ModelVersion>();
        query = query with { IncludeArchived = true, OrderBy = ModelSearchOrder.CreatedAscending, Take = ModelSearchQuery.MaxTake };
        ModelSearchResult page = await _metadata.SearchAsync(query, cancellationToken).ConfigureAwait(false);
        foreach (ModelVersion v in page.Versions)
        {
            if (v.Name != self.Name || v.Version != self.Version)
            {
                related.Add(v);
            }
        }

        return related;
    }

    /// <summary>Starts the change feed that keeps the cache correct; returns whether it is live.</summary>
    private bool EnsureFeed()
    {
        if (_feed is null)
        {
            lock (_feedLock)
            {
                if (_disposeState == 0)
                {
                    _feed ??= Task.Run(RunFeedAsync);
                }
            }
        }

        return _feedLive;
    }

    private async Task RunFeedAsync()
    {
        CancellationToken stop = _disposed.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                long cursor = await _metadata.GetLatestChangeSequenceAsync(stop).ConfigureAwait(false);
                Invalidate();
                _feedLive = true;
                await foreach (RegistryChange change in WatchAsync(cursor, stop).ConfigureAwait(false))
                {
                    Invalidate();
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (Exception ex) when (ex is ModelKitException or IOException or InvalidOperationException or TimeoutException or System.Data.Common.DbException)
            {
                _feedLive = false;
                Invalidate();
                RegistryLog.ChangeFeedFailed(_logger, _metadata.Description, ex);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _timeProvider, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        _feedLive = false;
    }

    private void Invalidate()
    {
        Interlocked.Increment(ref _cacheGeneration);
        _cache.Clear();
    }

    private int DeleteStaleStagingFiles(DateTimeOffset cutoff)
    {
        if (!Directory.Exists(_artifacts.StagingDirectory))
        {
            return 0;
        }

        int deleted = 0;
        foreach (string path in Directory.EnumerateFiles(_artifacts.StagingDirectory, "*.tmp"))
        {
            try
            {
                if (File.GetLastWriteTimeUtc(path) < cutoff.UtcDateTime)
                {
                    File.Delete(path);
                    deleted++;
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return deleted;
    }

    private IModelFormatInspector GetInspector(string format)
    {
        if (_inspectors.TryGetValue(format, out IModelFormatInspector? inspector))
        {
            return inspector;
        }

        string registered = _inspectors.Count == 0 ? "(none)" : string.Join(", ", _inspectors.Keys.Order(StringComparer.Ordinal));
        throw new ModelKitException(
            $"No inspector is registered for format '{format}'; call AddOnnx() (package ModelKit.Onnx) on the ModelKit builder, " +
            $"for example services.AddModelKit().AddModelRegistry().AddOnnx(), or register an IModelFormatInspector for '{format}'. " +
            $"Registered formats: {registered}.");
    }

    private static ModelArtifactInfo Inspect(IModelFormatInspector inspector, StagedArtifact staged, ModelRegistration registration)
    {
        using FileStream file = staged.OpenRead();
        ModelArtifactInfo? info = inspector.Inspect(file);
        if (info?.Signature is null)
        {
            throw new ModelKitException(
                $"The '{registration.Format}' inspector {inspector.GetType().FullName} returned no signature for model '{registration.Name}'. " +
                "This is a bug in the inspector; report it to its authors.");
        }

        return info;
    }

    private static void ValidateRegistration(ModelRegistration registration)
    {
        const string Param = nameof(registration);
        if (string.IsNullOrWhiteSpace(registration.Format) || registration.Format.Length > 64)
        {
            throw new ArgumentException($"The format of model '{registration.Name}' is empty or longer than 64 characters; set ModelRegistration.Format, for example to '{ModelFormats.Onnx}'.", Param);
        }

        ArgumentNullException.ThrowIfNull(registration.Lineage, "registration.Lineage");
        RegistryValidation.ValidateMetrics(registration.Metrics, registration.Name, Param);
        RegistryValidation.ValidateTags(registration.Tags, registration.Name, Param);
        RegistryValidation.ValidateTags(registration.Lineage.Parameters, registration.Name, Param, "Lineage parameter");
        if (registration.Lineage.ParentVersion is < 1)
        {
            throw new ArgumentException(
                $"Lineage parent version {registration.Lineage.ParentVersion} of model '{registration.Name}' is invalid; versions start at 1. " +
                "Set ParentVersion to an existing version or leave it null.", Param);
        }

        ThrowIfTooLong(registration.Lineage.TrainingRunId, "Lineage.TrainingRunId", 256, registration.Name);
        ThrowIfTooLong(registration.Lineage.DatasetDigest, "Lineage.DatasetDigest", 256, registration.Name);
        ThrowIfTooLong(registration.Lineage.CompressionRecipe, "Lineage.CompressionRecipe", 16 * 1024, registration.Name);
        ThrowIfTooLong(registration.Description, "Description", 16 * 1024, registration.Name);

        static void ThrowIfTooLong(string? value, string what, int max, string model)
        {
            if (value is not null && value.Length > max)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"{what} of model '{model}' has {value.Length} characters; at most {max} are accepted. Shorten it."), nameof(registration));
            }
        }
    }

    private async Task<ModelNotFoundException> NotFoundAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        string text = reference.ToString();
        IReadOnlyList<ModelVersion> versions = await _metadata.ListVersionsAsync(reference.Name, cancellationToken).ConfigureAwait(false);
        if (versions.Count == 0)
        {
            IReadOnlyList<string> names = await _metadata.ListModelsAsync(cancellationToken).ConfigureAwait(false);
            string known = names.Count == 0
                ? $"the registry ({_metadata.Description}) holds no models yet. Register one with RegisterAsync."
                : $"registered models: {JoinLimited(names)}. Check the name.";
            return new ModelNotFoundException(text, $"No model named '{reference.Name}' is registered; {known}");
        }

        if (reference.Alias is not null)
        {
            IReadOnlyDictionary<string, int> aliases = await _metadata.GetAliasesAsync(reference.Name, cancellationToken).ConfigureAwait(false);
            string known = aliases.Count == 0 ? "(none)" : JoinLimited(aliases.Keys.ToList());
            return new ModelNotFoundException(
                text,
                $"Model '{reference.Name}' has no alias '{reference.Alias}'; its aliases are: {known}. Set one with SetAliasAsync.");
        }

        int latest = versions[^1].Version;
        if (reference.Version is null)
        {
            return new ModelNotFoundException(text, string.Create(CultureInfo.InvariantCulture,
                $"Every version of model '{reference.Name}' is archived (the latest is {latest}); name a version explicitly, for example '{reference.Name}/{latest}'."));
        }

        return new ModelNotFoundException(
            text,
            string.Create(CultureInfo.InvariantCulture, $"Model '{reference.Name}' has no version {reference.Version}; the latest is {latest}."));
    }

    private static string JoinLimited(IReadOnlyList<string> names)
    {
        if (names.Count <= MaxNamesInMessages)
        {
            return string.Join(", ", names);
        }

        var sb = new StringBuilder();
        sb.AppendJoin(", ", names.Take(MaxNamesInMessages));
        return sb.Append(", …").ToString();
    }
}
