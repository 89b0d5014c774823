namespace ModelKit.Registry;

/// <summary>
/// Stores model versions, their metadata and aliases. Implementations are thread-safe. Versions are
/// immutable: nothing a call does changes an artifact or metadata already stored.
/// </summary>
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
