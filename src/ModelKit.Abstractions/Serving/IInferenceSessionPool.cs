using ModelKit.Registry;

namespace ModelKit.Serving;

/// <summary>
/// The loaded generations of every referenced model in one process. A model reference (<c>name</c>, <c>name/3</c>,
/// <c>name@production</c>, <c>models:/name@production</c>) resolves through the registry; each model version is loaded
/// once, on its first request (concurrent first requests share one load), and shared by every caller. Callers either
/// take a <see cref="IInferenceSessionLease"/> or call <see cref="RunAsync"/>, which goes through the model's dynamic
/// batcher. When an alias that a served reference names moves, the pool loads the new version in the background, warms
/// it up, swaps atomically and disposes the old generation after its in-flight requests finish (hot reload). Idle models
/// are unloaded least-recently-used first when the budget is exceeded. Every member is thread-safe.
/// </summary>
/// <remarks>Named after what it holds (ONNX Runtime inference sessions, pooled per model), as in DESIGN.md's "session pool".</remarks>
public interface IInferenceSessionPool
{
    /// <summary>
    /// Returns a lease on the generation that serves <paramref name="reference"/> now, loading it first when needed. The
    /// session is not disposed while the lease is held, even when a hot reload swaps it out or the budget unloads it.
    /// </summary>
    /// <param name="reference">The model reference.</param>
    /// <param name="cancellationToken">Cancels waiting for the load (the load itself goes on for other callers).</param>
    /// <returns>The lease; the caller disposes it (with <c>using</c>) as soon as it has finished running the session.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="reference"/> is <see langword="null"/>.</exception>
    /// <exception cref="ModelNotFoundException">The model, version or alias does not exist.</exception>
    /// <exception cref="InvalidModelException">The artifact is not a valid ONNX model, or ONNX Runtime rejected it.</exception>
    /// <exception cref="NativeEngineException">ONNX Runtime failed to load the model (for example a missing execution provider).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    ValueTask<IInferenceSessionLease> AcquireAsync(ModelReference reference, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs one request on the model that <paramref name="reference"/> names, through its dynamic batcher when batching is
    /// enabled for it and its inputs and outputs have a dynamic dimension 0; otherwise directly. The request is validated
    /// against the signature before it is queued. Exactly one generation answers it; the result says which.
    /// </summary>
    /// <remarks>
    /// A batched request's task is completed by the thread that ran its batch, and the caller's continuation runs there
    /// synchronously (no thread-pool hop per request; the model's other batches keep running meanwhile). A caller that
    /// does long blocking work after the await should move it off that thread (for example with <c>Task.Run</c>).
    /// The returned <see cref="ValueTask{TResult}"/> may be backed by a pooled, reused object (so that a request
    /// allocates no task): await it exactly once, or call <see cref="ValueTask{TResult}.AsTask"/> once to combine it
    /// (<c>Task.WhenAll</c>) or to block on it; do not await it twice or read its result before it completes.
    /// </remarks>
    /// <param name="reference">The model reference.</param>
    /// <param name="inputs">One tensor per signature input, matched by name. The caller keeps the buffers alive and unchanged until the task completes.</param>
    /// <param name="options">Deadline and priority; <see langword="null"/> for no deadline and normal priority.</param>
    /// <param name="cancellationToken">Cancels the request; a request cancelled before it runs is dropped and never answered with a result.</param>
    /// <returns>The outputs (read-only tensors over managed memory that nothing else writes; with dynamic batching, the requests of one batch share the batch's output arrays, each tensor a view of its own rows) with the version, provider and batch that produced them.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="reference"/> or <paramref name="inputs"/> is <see langword="null"/>.</exception>
    /// <exception cref="InferenceInputException">An input is missing, unknown, of the wrong element type or of a shape the signature does not accept.</exception>
    /// <exception cref="InferenceQueueFullException">The model's queue holds <see cref="BatchingOptions.MaxQueueLength"/> requests already (HTTP 429).</exception>
    /// <exception cref="InferenceTimeoutException">The request's deadline passed before it ran.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the request ran.</exception>
    /// <exception cref="ModelNotFoundException">The model, version or alias does not exist.</exception>
    /// <exception cref="InvalidModelException">The artifact is not a valid ONNX model.</exception>
    /// <exception cref="NativeEngineException">ONNX Runtime failed.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    ValueTask<InferenceResult> RunAsync(ModelReference reference, IReadOnlyList<NamedTensor> inputs, InferenceRequestOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resolves <paramref name="reference"/> again and, when it names another version than the one serving, loads that
    /// version, warms it up and swaps it in (the hot reload, on demand). Clears a pin set by <see cref="RollbackAsync"/>.
    /// A failed load or warm-up leaves the serving generation in place and throws.
    /// </summary>
    /// <param name="reference">The model reference; loaded first when it is not loaded yet.</param>
    /// <param name="cancellationToken">Cancels the reload.</param>
    /// <returns>The version that serves the reference afterwards.</returns>
    /// <exception cref="ModelNotFoundException">The reference does not resolve.</exception>
    /// <exception cref="InvalidModelException">The new version is not a valid model; the old one keeps serving.</exception>
    /// <exception cref="NativeEngineException">The new version failed to load or to warm up; the old one keeps serving.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    Task<ModelVersion> ReloadAsync(ModelReference reference, CancellationToken cancellationToken = default);

    /// <summary>
    /// Swaps the previous generation of <paramref name="reference"/> back in (loading its version again when it was
    /// disposed) and pins the reference to it, so that change detection does not move it forward again until
    /// <see cref="ReloadAsync"/> is called.
    /// </summary>
    /// <param name="reference">A loaded model reference that has been reloaded at least once.</param>
    /// <param name="cancellationToken">Cancels the rollback.</param>
    /// <returns>The version that serves the reference afterwards.</returns>
    /// <exception cref="InvalidOperationException">The reference is not loaded, or has no previous generation.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    Task<ModelVersion> RollbackAsync(ModelReference reference, CancellationToken cancellationToken = default);

    /// <summary>Gets a snapshot of the loaded references and the versions that serve them.</summary>
    /// <returns>One entry per loaded reference, ordered by reference text.</returns>
    IReadOnlyList<LoadedModel> GetLoadedModels();
}

/// <summary>
/// A reference-counted hold on one loaded generation of a model. While it is held, the session is neither disposed nor
/// unloaded. Dispose it exactly once (with <c>using</c>); never dispose <see cref="Session"/> itself.
/// </summary>
public interface IInferenceSessionLease : IDisposable
{
    /// <summary>Gets the session; thread-safe, owned by the pool.</summary>
    /// <exception cref="ObjectDisposedException">The lease was disposed.</exception>
    IInferenceSession Session { get; }

    /// <summary>Gets the registered version the session was loaded from.</summary>
    ModelVersion Version { get; }

    /// <summary>Gets the execution provider that actually runs the session: <c>cpu</c> or <c>cuda</c>.</summary>
    string ExecutionProvider { get; }
}

/// <summary>The answer to one <see cref="IInferenceSessionPool.RunAsync"/> request.</summary>
public sealed record InferenceResult
{
    /// <summary>Gets one read-only tensor per signature output, in signature order, over managed memory that nothing else writes (with dynamic batching a view of the request's rows of the batch's output array); dimension 0 is the request's own.</summary>
    public required IReadOnlyList<NamedTensor> Outputs { get; init; }

    /// <summary>Gets the version that answered; exactly one generation answers each request.</summary>
    public required ModelVersion ModelVersion { get; init; }

    /// <summary>Gets the execution provider that ran the request: <c>cpu</c> or <c>cuda</c>.</summary>
    public required string ExecutionProvider { get; init; }

    /// <summary>Gets the number of rows (dimension 0, summed over the merged requests) of the batch the request ran in; the request's own rows when it ran alone.</summary>
    public required int BatchSize { get; init; }

    /// <summary>Gets how long the request waited in the queue before its batch started.</summary>
    public required TimeSpan QueueDuration { get; init; }
}

/// <summary>Per-request settings of <see cref="IInferenceSessionPool.RunAsync"/>.</summary>
public sealed record InferenceRequestOptions
{
    /// <summary>Gets the instant after which the request must not run any more; it then fails with <see cref="InferenceTimeoutException"/>.</summary>
    /// <value>The default is <see langword="null"/>: no deadline.</value>
    public DateTimeOffset? Deadline { get; init; }

    /// <summary>Gets the priority: queued high-priority requests are batched before normal ones.</summary>
    /// <value>The default is <see cref="InferencePriority.Normal"/>.</value>
    public InferencePriority Priority { get; init; } = InferencePriority.Normal;

    /// <summary>
    /// Gets the caller's identifier of the request, passed to every <see cref="IInferenceObserver"/> as
    /// <see cref="InferenceObservation.RequestId"/> (for example so that monitoring can join labels that arrive later).
    /// It is not interpreted by the pool and never put in tags or logs.
    /// </summary>
    /// <value>The default is <see langword="null"/>: the request has no identifier.</value>
    public string? RequestId { get; init; }
}

/// <summary>Priority levels of a queued inference request.</summary>
public enum InferencePriority
{
    /// <summary>Normal priority.</summary>
    Normal = 0,

    /// <summary>Served before every queued normal-priority request of the same model.</summary>
    High = 1,
}

/// <summary>A reference that the pool serves now.</summary>
/// <param name="Reference">The reference text, for example <c>fashion-mnist@production</c>.</param>
/// <param name="Version">The version that serves it.</param>
/// <param name="ExecutionProvider">The provider that runs it: <c>cpu</c> or <c>cuda</c>.</param>
/// <param name="SizeBytes">The artifact size in bytes, counted against the pool's byte budget.</param>
/// <param name="LastUsed">When a request last used it (UTC, by the pool's clock).</param>
public sealed record LoadedModel(string Reference, ModelVersion Version, string ExecutionProvider, long SizeBytes, DateTimeOffset LastUsed);
