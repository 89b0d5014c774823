namespace ModelKit.Registry;

/// <summary>
/// Stores model versions, their metadata and aliases. Implementations are thread-safe. A version's artifact, signature,
/// lineage and number never change once registered; only its tags and metrics can be updated, and it can be archived or
/// deleted while no alias points at it.
/// </summary>
/// <remarks>
/// Members added after the first release have default implementations that throw <see cref="NotSupportedException"/>,
/// so that existing implementations keep compiling; ModelKit.Registry's registry implements all of them.
/// </remarks>
public interface IModelRegistry
{
    /// <summary>
    /// Registers <paramref name="content"/> as the next version of <paramref name="registration"/>'s model. The
    /// stream is read to its end and hashed with SHA-256; the artifact is validated by the
    /// <see cref="IModelFormatInspector"/> of its format, and its signature is read from it.
    /// </summary>
    /// <param name="registration">Name, format, metrics, tags and lineage.</param>
    /// <param name="content">The artifact bytes; read from the current position to the end. The caller keeps ownership.</param>
    /// <param name="cancellationToken">Cancels the registration; nothing is stored when cancelled.</param>
    /// <returns>The new version.</returns>
    /// <exception cref="ArgumentException">The model name is invalid.</exception>
    /// <exception cref="InvalidModelException">The artifact is not a valid model of the declared format; nothing is stored.</exception>
    /// <exception cref="ModelKitException">No inspector is registered for the format, or the store failed.</exception>
    Task<ModelVersion> RegisterAsync(ModelRegistration registration, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Resolves a reference (latest, version or alias) to the version it names now.</summary>
    /// <param name="reference">The reference.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The version.</returns>
    /// <exception cref="ModelNotFoundException">The model, version or alias does not exist.</exception>
    Task<ModelVersion> ResolveAsync(ModelReference reference, CancellationToken cancellationToken = default);

    /// <summary>Lists the names of all registered models, in ordinal order.</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The names.</returns>
    Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists every version of a model, oldest first.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The versions; empty when the model does not exist.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists the aliases of a model and the versions they point at now.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>Alias name to version.</returns>
    /// <exception cref="ArgumentException">The name is invalid.</exception>
    Task<IReadOnlyDictionary<string, int>> GetAliasesAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Points <paramref name="alias"/> of model <paramref name="name"/> at <paramref name="version"/>, creating or moving it. The move is recorded.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias, for example <c>production</c>.</param>
    /// <param name="version">An existing version of the model.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>A task that completes when the alias has moved.</returns>
    /// <exception cref="ArgumentException">The name or alias is invalid.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    Task SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default);

    /// <summary>Opens the artifact of a version for reading. The bytes are checked against the stored digest as they are read to the end.</summary>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>A read-only stream; the caller disposes it.</returns>
    /// <exception cref="ModelNotFoundException">The version or its artifact does not exist.</exception>
    Task<Stream> OpenArtifactAsync(ModelVersion version, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves <paramref name="alias"/> to <paramref name="newVersion"/> only if it still points at
    /// <paramref name="expectedVersion"/> (<see langword="null"/>: only if the alias does not exist yet). The check and the
    /// move are one transaction, so of several writers expecting the same version exactly one wins. The move is appended
    /// to the alias history with <paramref name="info"/>.
    /// </summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias.</param>
    /// <param name="expectedVersion">The version the alias must point at now, or <see langword="null"/> when it must not exist.</param>
    /// <param name="newVersion">An existing, not archived version of the model.</param>
    /// <param name="info">Who moves it and why; <see langword="null"/> records neither.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The recorded change; when the alias already points at <paramref name="newVersion"/> (and that was expected), the latest history entry of the alias.</returns>
    /// <exception cref="ArgumentException">The name, alias or info is invalid.</exception>
    /// <exception cref="AliasConflictException">The alias points elsewhere; the exception names the expected and the actual version.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelKitException">The version is archived, or the store failed.</exception>
    Task<AliasChange> CompareAndSetAliasAsync(
        string name, string alias, int? expectedVersion, int newVersion, AliasChangeInfo? info = null, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(CompareAndSetAliasAsync));

    /// <summary>Points an alias at a version unconditionally, recording who and why in the alias history.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias.</param>
    /// <param name="version">An existing, not archived version.</param>
    /// <param name="info">Who moves it and why.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The recorded change, or <see langword="null"/> when the alias already pointed at the version.</returns>
    /// <exception cref="ArgumentException">The name, alias or info is invalid.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelKitException">The version is archived, or the store failed.</exception>
    Task<AliasChange?> SetAliasAsync(string name, string alias, int version, AliasChangeInfo info, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(SetAliasAsync));

    /// <summary>Removes an alias, recording the removal in the alias history.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias.</param>
    /// <param name="info">Who removes it and why; <see langword="null"/> records neither.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The recorded change, or <see langword="null"/> when the alias did not exist.</returns>
    /// <exception cref="ArgumentException">The name, alias or info is invalid.</exception>
    Task<AliasChange?> RemoveAliasAsync(string name, string alias, AliasChangeInfo? info = null, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(RemoveAliasAsync));

    /// <summary>Reads the append-only alias history (who, when, from, to, why), oldest first.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">One alias, or <see langword="null"/> for every alias of the model.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The history entries.</returns>
    /// <exception cref="ArgumentException">The name or alias is invalid.</exception>
    Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string name, string? alias = null, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(GetAliasHistoryAsync));

    /// <summary>Sets and removes tags and metrics of a version.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="update">The changes; keys follow the same rules as at registration.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The version after the change.</returns>
    /// <exception cref="ArgumentException">A key or value is invalid; nothing is changed.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    Task<ModelVersion> UpdateVersionAsync(string name, int version, ModelVersionUpdate update, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(UpdateVersionAsync));

    /// <summary>Archives a version: <c>name</c> (latest) no longer resolves to it and no alias can point at it; <c>name/N</c> still does.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The archived version.</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelVersionInUseException">An alias points at the version; it names the aliases.</exception>
    Task<ModelVersion> ArchiveVersionAsync(string name, int version, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(ArchiveVersionAsync));

    /// <summary>Deletes a version. Its number is never reused; its artifact is removed by garbage collection once nothing references it.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The deleted version.</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelVersionInUseException">An alias points at it.</exception>
    Task<ModelVersion> DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(DeleteVersionAsync));

    /// <summary>Searches versions by name prefix, tags, metric thresholds and lineage; ordered and paged.</summary>
    /// <param name="query">The query.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>One page of matching versions.</returns>
    /// <exception cref="ArgumentException">The query is invalid (for example a metric order without a metric, or a page size out of range).</exception>
    Task<ModelSearchResult> SearchAsync(ModelSearchQuery query, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(SearchAsync));

    /// <summary>
    /// Reports a version's lineage: its ancestors through <see cref="ModelLineage.ParentVersion"/>, the versions derived from
    /// it, and the versions that share its training run or data set digest.
    /// </summary>
    /// <param name="reference">The version (any reference form).</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The lineage.</returns>
    /// <exception cref="ModelNotFoundException">The reference does not resolve.</exception>
    Task<ModelLineageGraph> GetLineageAsync(ModelReference reference, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(GetLineageAsync));

    /// <summary>
    /// Streams registry changes (versions registered, aliases moved or removed, versions updated, archived or deleted) as
    /// they are committed by this or any other process sharing the registry, in commit order, without polling by the
    /// caller. Serving uses this to reload when an alias moves.
    /// </summary>
    /// <param name="afterSequence">
    /// Resume after this <see cref="RegistryChange.Sequence"/>; <see langword="null"/> starts with changes committed after the
    /// enumeration starts (its first <c>MoveNextAsync</c>). To miss nothing between reading state and watching it, take
    /// <see cref="GetChangeSequenceAsync"/> first, then read (for example resolve an alias), then watch after that sequence.
    /// </param>
    /// <param name="cancellationToken">Ends the stream.</param>
    /// <returns>An endless stream of changes; ends when <paramref name="cancellationToken"/> is cancelled.</returns>
    IAsyncEnumerable<RegistryChange> WatchAsync(long? afterSequence = null, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(WatchAsync));

    /// <summary>Gets the sequence number of the latest committed change (0 when there is none), a starting point for <see cref="WatchAsync"/>.</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The sequence number.</returns>
    Task<long> GetChangeSequenceAsync(CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(GetChangeSequenceAsync));

    /// <summary>
    /// Deletes artifacts that no version references, that are older than the grace period and that no registration in
    /// progress uses. Safe to run from any process at any time.
    /// </summary>
    /// <param name="gracePeriod">Artifacts and abandoned uploads younger than this are kept; <see langword="null"/> uses the configured period.</param>
    /// <param name="cancellationToken">Cancels the collection between artifacts.</param>
    /// <returns>What was examined and deleted.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="gracePeriod"/> is negative.</exception>
    Task<ArtifactCollectionResult> CollectGarbageAsync(TimeSpan? gracePeriod = null, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(CollectGarbageAsync));

    /// <summary>
    /// Attaches a file to a version, for example a monitoring reference profile (<c>monitoring/profile.json</c>), or
    /// replaces the content of the attachment of that name. The stream is copied to a local staging file while it is hashed
    /// with SHA-256 and held to the registry's attachment size limit (<c>ModelRegistryOptions.MaxAttachmentSizeBytes</c>, 256 MiB by default), stored content-addressed in the
    /// artifact store, then recorded with the version in one transaction that also appends an
    /// <see cref="RegistryChangeKind.AttachmentAdded"/> change. A replaced content is left to garbage collection.
    /// </summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">An existing version (archived ones included).</param>
    /// <param name="attachmentName">The attachment name: <c>/</c>-separated segments matching <c>[a-z0-9][a-z0-9._-]*</c>, at most 256 characters.</param>
    /// <param name="mediaType">The media type of the content, for example <c>application/json</c>.</param>
    /// <param name="content">The bytes; read from the current position to the end. The caller keeps ownership.</param>
    /// <param name="cancellationToken">Cancels the upload; nothing is recorded when cancelled.</param>
    /// <returns>The recorded attachment.</returns>
    /// <exception cref="ArgumentException">The model name, attachment name or media type is invalid, or the stream is not readable.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist; nothing is stored.</exception>
    /// <exception cref="ArtifactTooLargeException">The content is larger than the limit; nothing is stored.</exception>
    /// <exception cref="ModelKitException">The store failed.</exception>
    Task<ModelAttachment> PutAttachmentAsync(
        string name, int version, string attachmentName, string mediaType, Stream content, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(PutAttachmentAsync));

    /// <summary>Opens an attachment of a version for reading. The bytes are checked against the stored digest and size as they are read to the end.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="attachmentName">The attachment name.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>A read-only, forward-only stream; the caller disposes it. A read that reaches a mismatch throws <see cref="ArtifactCorruptedException"/>.</returns>
    /// <exception cref="ArgumentException">The model name or attachment name is invalid.</exception>
    /// <exception cref="ModelNotFoundException">The version, the attachment or its stored bytes do not exist; the message lists the version's attachments.</exception>
    Task<Stream> OpenAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(OpenAttachmentAsync));

    /// <summary>Lists the attachments of a version, in ordinal order of their names.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The attachments; empty when the version has none.</returns>
    /// <exception cref="ArgumentException">The model name is invalid.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    Task<IReadOnlyList<ModelAttachment>> ListAttachmentsAsync(string name, int version, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(ListAttachmentsAsync));

    /// <summary>
    /// Removes an attachment from a version, appending an <see cref="RegistryChangeKind.AttachmentDeleted"/> change. Its bytes
    /// are left to garbage collection. Deleting a version removes its attachments with it.
    /// </summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="attachmentName">The attachment name.</param>
    /// <param name="cancellationToken">Cancels the change.</param>
    /// <returns>The removed attachment, or <see langword="null"/> when the version had no attachment of that name.</returns>
    /// <exception cref="ArgumentException">The model name or attachment name is invalid.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    Task<ModelAttachment?> DeleteAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default) =>
        throw NotSupported(nameof(DeleteAttachmentAsync));

    private NotSupportedException NotSupported(string member) =>
        new($"{GetType().FullName} does not implement IModelRegistry.{member}; use the registry of ModelKit.Registry (AddModelRegistry()).");
}

/// <summary>What an inspector learns from a model artifact.</summary>
/// <param name="Signature">The model's inputs and outputs.</param>
/// <param name="Properties">Format-specific facts, for example <c>onnx.opset</c> or <c>onnx.producer</c>.</param>
public sealed record ModelArtifactInfo(ModelSignature Signature, IReadOnlyDictionary<string, string> Properties);

/// <summary>Validates artifacts of one format and reads their signature. Implementations are thread-safe.</summary>
public interface IModelFormatInspector
{
    /// <summary>Gets the format this inspector reads, for example <c>onnx</c>.</summary>
    string Format { get; }

    /// <summary>Validates an artifact and reads its signature.</summary>
    /// <param name="content">The artifact, readable from its start; the caller keeps ownership.</param>
    /// <returns>The signature and properties.</returns>
    /// <exception cref="InvalidModelException">The bytes are not a valid model of this format.</exception>
    ModelArtifactInfo Inspect(Stream content);
}
