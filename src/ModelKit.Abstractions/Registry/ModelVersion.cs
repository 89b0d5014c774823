namespace ModelKit.Registry;

/// <summary>
/// Where a model version came from. Every member is optional; what is given is stored with the version and
/// never changes afterwards.
/// </summary>
public sealed record ModelLineage
{
    /// <summary>Gets the version of the same model this one was derived from (for example by compression), if any.</summary>
    public int? ParentVersion { get; init; }

    /// <summary>Gets an identifier of the training run that produced the model, if any.</summary>
    public string? TrainingRunId { get; init; }

    /// <summary>Gets the digest of the training data set (for example <c>sha256:…</c> over its files), if known.</summary>
    public string? DatasetDigest { get; init; }

    /// <summary>Gets a description of the compression recipe applied, if any.</summary>
    public string? CompressionRecipe { get; init; }

    /// <summary>Gets the hyper-parameters of the run that produced the model (name to invariant-culture text).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();
}

/// <summary>What a caller supplies, beside the artifact bytes, to register a new model version.</summary>
/// <param name="Name">The model name; must match <c>[a-z0-9][a-z0-9._-]{0,127}</c>.</param>
public sealed record ModelRegistration(string Name)
{
    /// <summary>Gets the artifact format. Only formats with a registered <see cref="IModelFormatInspector"/> are accepted.</summary>
    /// <value>The default is <c>onnx</c>.</value>
    public string Format { get; init; } = ModelFormats.Onnx;

    /// <summary>Gets evaluation metrics to store with the version, for example <c>test_accuracy</c>.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>Gets free-form tags to store with the version.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets the version's lineage.</summary>
    public ModelLineage Lineage { get; init; } = new();

    /// <summary>Gets a description of the version, if any.</summary>
    public string? Description { get; init; }
}

/// <summary>A registered model version: its artifact, signature and lineage never change; tags and metrics can be updated.</summary>
public sealed record ModelVersion
{
    /// <summary>Gets the model name.</summary>
    public required string Name { get; init; }

    /// <summary>Gets the version number, starting at 1 and increasing by one per registration of the same name.</summary>
    public required int Version { get; init; }

    /// <summary>Gets the artifact digest as <c>sha256:</c> followed by 64 lowercase hex digits.</summary>
    public required string Digest { get; init; }

    /// <summary>Gets the artifact size in bytes.</summary>
    public required long SizeBytes { get; init; }

    /// <summary>Gets the artifact format, for example <c>onnx</c>.</summary>
    public required string Format { get; init; }

    /// <summary>Gets the signature read from the artifact when it was registered.</summary>
    public required ModelSignature Signature { get; init; }

    /// <summary>Gets the metrics stored with the version.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();

    /// <summary>Gets the tags stored with the version.</summary>
    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets the lineage stored with the version.</summary>
    public ModelLineage Lineage { get; init; } = new();

    /// <summary>Gets the description, if any.</summary>
    public string? Description { get; init; }

    /// <summary>Gets when the version was registered (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Gets whether the version is archived: still readable by number, but not the latest and not an alias target.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool IsArchived { get; init; }

    /// <summary>Gets the reference to exactly this version, <c>name/version</c>.</summary>
    public ModelReference Reference => ModelReference.ForVersion(Name, Version);
}

/// <summary>Names of model formats.</summary>
public static class ModelFormats
{
    /// <summary>ONNX (<c>ModelProto</c> serialized with protobuf).</summary>
    public const string Onnx = "onnx";
}
