namespace ModelKit.Registry;

/// <summary>Who moved an alias and why, recorded in the alias history.</summary>
/// <param name="ChangedBy">Who made the change (a user, service or job name), or <see langword="null"/>; at most 256 characters.</param>
/// <param name="Reason">Why, or <see langword="null"/>; at most 1,024 characters.</param>
public sealed record AliasChangeInfo(string? ChangedBy = null, string? Reason = null)
{
    /// <summary>The longest accepted <see cref="ChangedBy"/>, in characters.</summary>
    public const int MaxChangedByLength = 256;

    /// <summary>The longest accepted <see cref="Reason"/>, in characters.</summary>
    public const int MaxReasonLength = 1024;
}

/// <summary>One entry of the append-only alias history (the audit ledger).</summary>
/// <param name="Sequence">The entry's position in the registry's change sequence; increases with every change, in commit order.</param>
/// <param name="Name">The model name.</param>
/// <param name="Alias">The alias.</param>
/// <param name="OldVersion">The version it pointed at before, or <see langword="null"/> when the alias was created.</param>
/// <param name="NewVersion">The version it points at after, or <see langword="null"/> when the alias was removed.</param>
/// <param name="ChangedAt">When (UTC).</param>
/// <param name="ChangedBy">Who, if given.</param>
/// <param name="Reason">Why, if given.</param>
public sealed record AliasChange(
    long Sequence, string Name, string Alias, int? OldVersion, int? NewVersion, DateTimeOffset ChangedAt, string? ChangedBy, string? Reason);

/// <summary>What kind of change a <see cref="RegistryChange"/> reports.</summary>
public enum RegistryChangeKind
{
    /// <summary>A new version was registered.</summary>
    VersionRegistered = 1,

    /// <summary>An alias was created or moved to another version.</summary>
    AliasMoved = 2,

    /// <summary>An alias was removed.</summary>
    AliasRemoved = 3,

    /// <summary>A version's tags or metrics changed.</summary>
    VersionUpdated = 4,

    /// <summary>A version was archived.</summary>
    VersionArchived = 5,

    /// <summary>A version was deleted.</summary>
    VersionDeleted = 6,

    /// <summary>A file was attached to a version, or an attachment's content was replaced; <see cref="RegistryChange.Attachment"/> names it.</summary>
    AttachmentAdded = 7,

    /// <summary>An attachment was removed from a version; <see cref="RegistryChange.Attachment"/> names it.</summary>
    AttachmentDeleted = 8,
}

/// <summary>A change to the registry, as delivered by <see cref="IModelRegistry.WatchAsync"/>.</summary>
/// <param name="Sequence">The change's position in the registry's change sequence (gap-free, commit order).</param>
/// <param name="Kind">What changed.</param>
/// <param name="Name">The model name.</param>
/// <param name="Version">The version concerned: the new version, or the alias's new target; <see langword="null"/> when an alias was removed.</param>
/// <param name="Alias">The alias, for alias changes; otherwise <see langword="null"/>.</param>
/// <param name="OldVersion">The alias's previous target, for alias changes; otherwise <see langword="null"/>.</param>
/// <param name="ChangedAt">When (UTC).</param>
public sealed record RegistryChange(
    long Sequence, RegistryChangeKind Kind, string Name, int? Version, string? Alias, int? OldVersion, DateTimeOffset ChangedAt)
{
    /// <summary>Gets the attachment name, for <see cref="RegistryChangeKind.AttachmentAdded"/> and <see cref="RegistryChangeKind.AttachmentDeleted"/>; otherwise <see langword="null"/>.</summary>
    public string? Attachment { get; init; }
}

/// <summary>The order of search results.</summary>
public enum ModelSearchOrder
{
    /// <summary>Newest first (creation time, then name and version).</summary>
    CreatedDescending = 0,

    /// <summary>Oldest first.</summary>
    CreatedAscending = 1,

    /// <summary>By <see cref="ModelSearchQuery.OrderByMetric"/>, highest first; versions without it come last.</summary>
    MetricDescending = 2,

    /// <summary>By <see cref="ModelSearchQuery.OrderByMetric"/>, lowest first; versions without it come last.</summary>
    MetricAscending = 3,
}

/// <summary>A metric condition: the version's metric <paramref name="Key"/> is at least (or at most) <paramref name="Threshold"/>.</summary>
/// <param name="Key">The metric key.</param>
/// <param name="Threshold">The bound.</param>
/// <param name="AtMost"><see langword="false"/> for "at least" (the default), <see langword="true"/> for "at most".</param>
public sealed record MetricFilter(string Key, double Threshold, bool AtMost = false);

/// <summary>What <see cref="IModelRegistry.SearchAsync"/> looks for. Every condition given must hold.</summary>
public sealed record ModelSearchQuery
{
    /// <summary>The largest accepted <see cref="Take"/>.</summary>
    public const int MaxTake = 1000;

    /// <summary>Gets the model name prefix; <see langword="null"/> or empty matches every model.</summary>
    public string? NamePrefix { get; init; }

    /// <summary>Gets tags the version must carry with exactly these values.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets metric conditions.</summary>
    public IReadOnlyList<MetricFilter> Metrics { get; init; } = [];

    /// <summary>Gets the training run the version must come from, if given.</summary>
    public string? TrainingRunId { get; init; }

    /// <summary>Gets the data set digest the version must have been trained on, if given.</summary>
    public string? DatasetDigest { get; init; }

    /// <summary>Gets whether archived versions are included.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool IncludeArchived { get; init; }

    /// <summary>Gets the order.</summary>
    /// <value>The default is <see cref="ModelSearchOrder.CreatedDescending"/>.</value>
    public ModelSearchOrder OrderBy { get; init; }

    /// <summary>Gets the metric to order by; required with <see cref="ModelSearchOrder.MetricAscending"/> and <see cref="ModelSearchOrder.MetricDescending"/>.</summary>
    public string? OrderByMetric { get; init; }

    /// <summary>Gets how many matching versions to skip (paging).</summary>
    /// <value>The default is 0.</value>
    public int Skip { get; init; }

    /// <summary>Gets the page size, 1 to <see cref="MaxTake"/>.</summary>
    /// <value>The default is 50.</value>
    public int Take { get; init; } = 50;
}

/// <summary>One page of search results.</summary>
/// <param name="Versions">The matching versions of this page, in the requested order.</param>
/// <param name="HasMore">Whether more matches follow; ask again with <c>Skip + Take</c>.</param>
public sealed record ModelSearchResult(IReadOnlyList<ModelVersion> Versions, bool HasMore);

/// <summary>How a version is related to others, as <see cref="IModelRegistry.GetLineageAsync"/> reports it.</summary>
/// <param name="Version">The version asked about.</param>
/// <param name="Ancestors">Its parent, the parent's parent and so on, nearest first.</param>
/// <param name="Descendants">Versions derived from it (children, their children, …), in version order.</param>
/// <param name="SameTrainingRun">Other versions (of any model) produced by the same training run, oldest first.</param>
/// <param name="SameDataset">Other versions (of any model) trained on the same data set digest, oldest first.</param>
public sealed record ModelLineageGraph(
    ModelVersion Version,
    IReadOnlyList<ModelVersion> Ancestors,
    IReadOnlyList<ModelVersion> Descendants,
    IReadOnlyList<ModelVersion> SameTrainingRun,
    IReadOnlyList<ModelVersion> SameDataset);

/// <summary>What a garbage collection did.</summary>
/// <param name="Examined">Artifacts listed in the store.</param>
/// <param name="Deleted">Digests of the artifacts deleted.</param>
/// <param name="BytesDeleted">Bytes freed.</param>
/// <param name="KeptReferenced">Artifacts kept because a version references them.</param>
/// <param name="KeptYoung">Artifacts kept because they are younger than the grace period.</param>
/// <param name="KeptInUpload">Artifacts kept because a registration in progress uses them.</param>
public sealed record ArtifactCollectionResult(
    int Examined, IReadOnlyList<string> Deleted, long BytesDeleted, int KeptReferenced, int KeptYoung, int KeptInUpload);
