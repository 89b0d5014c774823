namespace ModelKit.Registry;

/// <summary>What the registry hands a metadata store to record a new version.</summary>
/// <param name="Registration">Name, format, metrics, tags, lineage and description, already validated.</param>
/// <param name="Digest">The artifact digest, <c>sha256:…</c>.</param>
/// <param name="SizeBytes">The artifact size in bytes.</param>
/// <param name="Signature">The signature read from the artifact.</param>
/// <param name="CreatedAt">The registration time (UTC).</param>
public sealed record ModelVersionDraft(ModelRegistration Registration, string Digest, long SizeBytes, ModelSignature Signature, DateTimeOffset CreatedAt);

/// <summary>Changes to a version's mutable metadata: tags and metrics. Removals apply before additions.</summary>
public sealed record ModelVersionUpdate
{
    /// <summary>Gets tags to add or overwrite.</summary>
    public IReadOnlyDictionary<string, string> SetTags { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets tag keys to remove; absent keys are ignored.</summary>
    public IReadOnlyList<string> RemoveTags { get; init; } = [];

    /// <summary>Gets metrics to add or overwrite.</summary>
    public IReadOnlyDictionary<string, double> SetMetrics { get; init; } = new Dictionary<string, double>();

    /// <summary>Gets metric keys to remove; absent keys are ignored.</summary>
    public IReadOnlyList<string> RemoveMetrics { get; init; } = [];
}

/// <summary>The outcome of <see cref="IModelMetadataStore.TryBeginArtifactDeletionAsync"/>.</summary>
public enum ArtifactDeletionCheck
{
    /// <summary>Nothing references the digest; it is marked as being deleted, and registrations that need it wait.</summary>
    MayDelete = 0,

    /// <summary>A version or an attachment references the digest.</summary>
    Referenced = 1,

    /// <summary>A registration in progress pinned the digest.</summary>
    Pinned = 2,
}

/// <summary>
/// The registry's metadata seam: versions, aliases with their history, tags, metrics, lineage, artifact pins and the
/// change sequence. Every method is one transaction; implementations are thread-safe and safe to share between
/// processes (and, for server databases, between hosts). Arguments are validated by the registry before they get here.
/// </summary>
/// <remarks>
/// Artifact safety rests on two records kept here: a <em>pin</em> marks a digest that a registration is uploading (taken
/// before the upload, released in the transaction that records the version), and a <em>deletion mark</em> that garbage
/// collection takes, in one transaction with the proof that no version and no pin references the digest, before it
/// deletes the artifact. <see cref="PinArtifactAsync"/> waits while a deletion mark exists, so an artifact is never deleted
/// under a registration that deduplicated onto it.
/// </remarks>
public interface IModelMetadataStore
{
    /// <summary>Gets a short description of the store for messages, for example <c>SQLite database '/data/registry.db'</c>.</summary>
    string Description { get; }

    /// <summary>Pins <paramref name="digest"/> for a registration in progress; waits while garbage collection is deleting it.</summary>
    /// <param name="digest">The artifact digest.</param>
    /// <param name="now">The current time (UTC); pins older than the grace period count as abandoned.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The pin's identifier.</returns>
    /// <exception cref="ModelKitException">The store failed.</exception>
    Task<Guid> PinArtifactAsync(string digest, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Releases a pin (a registration failed or was cancelled). Releasing an unknown pin does nothing.</summary>
    /// <param name="pin">The pin.</param>
    /// <param name="cancellationToken">Cancels the release.</param>
    /// <returns>A task that completes when the pin is gone.</returns>
    Task UnpinArtifactAsync(Guid pin, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records a new version under the next number of its model (numbers are consecutive, without gaps or duplicates,
    /// under any concurrency), releases <paramref name="pin"/> and appends a <see cref="RegistryChangeKind.VersionRegistered"/> change,
    /// all in one transaction.
    /// </summary>
    /// <param name="draft">The version.</param>
    /// <param name="pin">The pin taken for its artifact.</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The stored version.</returns>
    /// <exception cref="ModelNotFoundException">The lineage parent version does not exist.</exception>
    /// <exception cref="ModelKitException">The store failed; nothing was recorded.</exception>
    Task<ModelVersion> AddVersionAsync(ModelVersionDraft draft, Guid pin, CancellationToken cancellationToken = default);

    /// <summary>Finds the version a reference names now: a version number, an alias, or the latest version that is not archived.</summary>
    /// <param name="reference">The reference.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The version, or <see langword="null"/> when there is none.</returns>
    Task<ModelVersion?> FindVersionAsync(ModelReference reference, CancellationToken cancellationToken = default);

    /// <summary>Lists model names in ordinal order.</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The names.</returns>
    Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default);

    /// <summary>Lists every version of a model (archived ones included), oldest first.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The versions; empty when the model does not exist.</returns>
    Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Lists a model's aliases and their versions.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>Alias to version, in ordinal order of the alias.</returns>
    Task<IReadOnlyDictionary<string, int>> GetAliasesAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>
    /// Points an alias at a version, appending to the alias history and the change sequence in the same transaction.
    /// With <paramref name="compare"/>, the move happens only when the alias points at <paramref name="expectedVersion"/>
    /// (<see langword="null"/>: does not exist).
    /// </summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias.</param>
    /// <param name="version">The target version; must exist and not be archived.</param>
    /// <param name="compare">Whether to compare with <paramref name="expectedVersion"/> first.</param>
    /// <param name="expectedVersion">The expected current target.</param>
    /// <param name="info">Who and why.</param>
    /// <param name="now">The time recorded (UTC).</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The recorded change, or <see langword="null"/> when the alias already pointed at <paramref name="version"/> (nothing recorded).</returns>
    /// <exception cref="AliasConflictException">The comparison failed.</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelKitException">The version is archived.</exception>
    Task<AliasChange?> SetAliasAsync(
        string name, string alias, int version, bool compare, int? expectedVersion, AliasChangeInfo info, DateTimeOffset now,
        CancellationToken cancellationToken = default);

    /// <summary>Removes an alias, recording the removal.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias.</param>
    /// <param name="info">Who and why.</param>
    /// <param name="now">The time recorded (UTC).</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The recorded change, or <see langword="null"/> when the alias did not exist.</returns>
    Task<AliasChange?> RemoveAliasAsync(string name, string alias, AliasChangeInfo info, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Reads the alias history of a model, oldest first.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">One alias, or <see langword="null"/> for all of the model's aliases.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The entries.</returns>
    Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string name, string? alias, CancellationToken cancellationToken = default);

    /// <summary>Changes a version's tags and metrics, appending a <see cref="RegistryChangeKind.VersionUpdated"/> change.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="update">The changes.</param>
    /// <param name="now">The time recorded (UTC).</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The version after the change.</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    Task<ModelVersion> UpdateVersionAsync(string name, int version, ModelVersionUpdate update, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Archives a version: it no longer counts as the latest, and cannot become an alias target.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="now">The time recorded (UTC).</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The archived version.</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelVersionInUseException">An alias points at it.</exception>
    Task<ModelVersion> ArchiveVersionAsync(string name, int version, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Deletes a version's metadata and its attachments; its number is never given out again. Its artifact and the attachments' bytes are left to garbage collection.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="now">The time recorded (UTC).</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The deleted version.</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    /// <exception cref="ModelVersionInUseException">An alias points at it.</exception>
    Task<ModelVersion> DeleteVersionAsync(string name, int version, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records <paramref name="attachment"/> with its version, replacing an attachment of the same name, releases
    /// <paramref name="pin"/> and appends a <see cref="RegistryChangeKind.AttachmentAdded"/> change, all in one transaction.
    /// </summary>
    /// <param name="attachment">The attachment; its digest was stored in the artifact store under <paramref name="pin"/>.</param>
    /// <param name="pin">The pin taken for its bytes.</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The stored attachment.</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist; nothing was recorded.</exception>
    /// <exception cref="ModelKitException">The store failed; nothing was recorded.</exception>
    Task<ModelAttachment> PutAttachmentAsync(ModelAttachment attachment, Guid pin, CancellationToken cancellationToken = default);

    /// <summary>Finds one attachment of a version.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="attachmentName">The attachment name.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The attachment, or <see langword="null"/> when the version or the attachment does not exist.</returns>
    Task<ModelAttachment?> FindAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default);

    /// <summary>Lists a version's attachments in ordinal order of their names.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The attachments, or <see langword="null"/> when the version does not exist.</returns>
    Task<IReadOnlyList<ModelAttachment>?> ListAttachmentsAsync(string name, int version, CancellationToken cancellationToken = default);

    /// <summary>Removes an attachment, appending a <see cref="RegistryChangeKind.AttachmentDeleted"/> change. Its bytes are left to garbage collection.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="attachmentName">The attachment name.</param>
    /// <param name="now">The time recorded (UTC).</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>The removed attachment, or <see langword="null"/> when there was none of that name (nothing recorded).</returns>
    /// <exception cref="ModelNotFoundException">The version does not exist.</exception>
    Task<ModelAttachment?> DeleteAttachmentAsync(string name, int version, string attachmentName, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Searches versions.</summary>
    /// <param name="query">The validated query.</param>
    /// <param name="cancellationToken">Cancels the search.</param>
    /// <returns>One page of results.</returns>
    Task<ModelSearchResult> SearchAsync(ModelSearchQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// In one transaction: checks that no version and no attachment references <paramref name="digest"/> and no pin newer than
    /// <paramref name="abandonPinsBefore"/> holds it (older pins are removed as abandoned), and if so marks the digest as
    /// being deleted.
    /// </summary>
    /// <param name="digest">The artifact digest.</param>
    /// <param name="abandonPinsBefore">Pins taken before this time belong to registrations that died.</param>
    /// <param name="cancellationToken">Cancels before the commit.</param>
    /// <returns>Whether the caller may delete the artifact now.</returns>
    Task<ArtifactDeletionCheck> TryBeginArtifactDeletionAsync(string digest, DateTimeOffset abandonPinsBefore, CancellationToken cancellationToken = default);

    /// <summary>Removes the deletion mark of <paramref name="digest"/> (the artifact is gone, or the deletion failed).</summary>
    /// <param name="digest">The artifact digest.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that completes when the mark is gone.</returns>
    Task EndArtifactDeletionAsync(string digest, CancellationToken cancellationToken = default);

    /// <summary>Gets the sequence number of the latest change (0 when there is none).</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    /// <returns>The sequence number.</returns>
    Task<long> GetLatestChangeSequenceAsync(CancellationToken cancellationToken = default);

    /// <summary>Reads changes after <paramref name="afterSequence"/>, oldest first.</summary>
    /// <param name="afterSequence">The last sequence number already seen.</param>
    /// <param name="maxCount">The most to return.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The changes.</returns>
    Task<IReadOnlyList<RegistryChange>> ReadChangesAsync(long afterSequence, int maxCount, CancellationToken cancellationToken = default);

    /// <summary>
    /// Waits until a change after <paramref name="afterSequence"/> may exist (SQLite: its data version moved; PostgreSQL:
    /// a notification arrived) or <paramref name="timeout"/> passed. Returns early when such a change exists already.
    /// </summary>
    /// <param name="afterSequence">The last sequence number already seen.</param>
    /// <param name="timeout">The longest wait.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the caller should read changes again.</returns>
    Task WaitForChangesAsync(long afterSequence, TimeSpan timeout, CancellationToken cancellationToken = default);
}
