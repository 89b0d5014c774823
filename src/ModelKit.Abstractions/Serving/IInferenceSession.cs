using ModelKit.Registry;

namespace ModelKit.Serving;

/// <summary>
/// One loaded model on one execution provider. <see cref="Run"/> is thread-safe; <see cref="IDisposable.Dispose"/>
/// must not race with it.
/// </summary>
public interface IInferenceSession : IDisposable
{
    /// <summary>Gets the model's inputs and outputs as the engine reports them.</summary>
    ModelSignature Signature { get; }

    /// <summary>Gets the registered version this session was loaded from, or <see langword="null"/> for a model loaded from a file or bytes.</summary>
    ModelVersion? ModelVersion { get; }

    /// <summary>Runs the model once.</summary>
    /// <param name="inputs">One tensor per signature input, matched by name; element types must equal the signature's, shapes must fit it (<c>-1</c> accepts any size).</param>
    /// <returns>One tensor per signature output, in signature order, over newly allocated managed memory that the caller owns.</returns>
    /// <exception cref="InferenceInputException">An input is missing, unknown, of the wrong element type, or of a shape that does not fit; the message names the input, the expected and the actual.</exception>
    /// <exception cref="NativeEngineException">The engine failed while running.</exception>
    /// <exception cref="ObjectDisposedException">The session was disposed.</exception>
    IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs);
}

/// <summary>Loads models into inference sessions. Implementations are thread-safe.</summary>
public interface IInferenceSessionFactory
{
    /// <summary>Loads a model from its serialized bytes.</summary>
    /// <param name="model">The serialized model; copied by the engine, so the caller may reuse the buffer after the call.</param>
    /// <returns>The session; the caller disposes it.</returns>
    /// <exception cref="InvalidModelException">The engine rejected the model.</exception>
    /// <exception cref="NativeEngineException">The engine could not be loaded or failed.</exception>
    IInferenceSession Create(ReadOnlyMemory<byte> model);

    /// <summary>Loads a model from a file.</summary>
    /// <param name="path">The model file's path.</param>
    /// <returns>The session; the caller disposes it.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidModelException">The engine rejected the model.</exception>
    /// <exception cref="NativeEngineException">The engine could not be loaded or failed.</exception>
    IInferenceSession CreateFromFile(string path);

    /// <summary>Resolves a reference through the registry, reads the artifact (verifying its digest) and loads it.</summary>
    /// <param name="reference">The model reference, for example <c>fashion-mnist@production</c>.</param>
    /// <param name="cancellationToken">Cancels resolving and reading.</param>
    /// <returns>The session, with <see cref="IInferenceSession.ModelVersion"/> set; the caller disposes it.</returns>
    /// <exception cref="ModelNotFoundException">The reference does not resolve.</exception>
    /// <exception cref="InvalidOperationException">No <see cref="IModelRegistry"/> is registered.</exception>
    /// <exception cref="InvalidModelException">The engine rejected the model.</exception>
    /// <exception cref="NativeEngineException">The engine could not be loaded or failed.</exception>
    Task<IInferenceSession> CreateAsync(ModelReference reference, CancellationToken cancellationToken = default);
}
