using ModelKit.Registry;

namespace ModelKit.Serving;

/// <summary>
/// Observes completed inference requests, for example to capture predictions for drift monitoring. The pool calls every
/// registered observer once per successfully answered request, on the thread that completed the batch, after the caller's
/// result is set. Implementations must be thread-safe and must only enqueue (no I/O, no blocking): their time is added to
/// the model's throughput. An exception thrown by an observer is logged and otherwise ignored.
/// </summary>
public interface IInferenceObserver
{
    /// <summary>Called once per answered request.</summary>
    /// <param name="observation">The request and its result. The tensors are the caller's inputs and outputs: read them, copy what must be kept, never change them.</param>
    void OnInferenceCompleted(InferenceObservation observation);
}

/// <summary>One answered inference request, as seen by an <see cref="IInferenceObserver"/>.</summary>
/// <param name="Reference">The model reference the request named.</param>
/// <param name="ModelVersion">The version that answered.</param>
/// <param name="Inputs">The request's inputs.</param>
/// <param name="Outputs">The request's outputs.</param>
/// <param name="Duration">From the request's arrival to its result.</param>
/// <param name="CompletedAt">When the result was set (UTC, by the pool's clock).</param>
public sealed record InferenceObservation(
    string Reference,
    ModelVersion ModelVersion,
    IReadOnlyList<NamedTensor> Inputs,
    IReadOnlyList<NamedTensor> Outputs,
    TimeSpan Duration,
    DateTimeOffset CompletedAt)
{
    /// <summary>Gets the caller's request identifier (<see cref="InferenceRequestOptions.RequestId"/>), or <see langword="null"/> when it gave none.</summary>
    public string? RequestId { get; init; }
}
