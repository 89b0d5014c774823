using ModelKit.Serving;

namespace ModelKit.Monitoring.Capture;

/// <summary>One captured record: a sampled prediction, or a label joined to one later.</summary>
public sealed record CaptureRecord
{
    /// <summary>Gets <c>prediction</c> or <c>label</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>Gets the caller's request id, or <see langword="null"/>.</summary>
    public string? RequestId { get; init; }

    /// <summary>Gets the model name.</summary>
    public required string ModelName { get; init; }

    /// <summary>Gets the model version.</summary>
    public required int ModelVersion { get; init; }

    /// <summary>Gets when the request was answered or the label posted (UTC).</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>Gets the request's duration in seconds (predictions).</summary>
    public double DurationSeconds { get; init; }

    /// <summary>Gets the feature names (predictions).</summary>
    public IReadOnlyList<string> FeatureNames { get; init; } = [];

    /// <summary>Gets the feature values, rows × features (predictions).</summary>
    public ReadOnlyMemory<double> FeatureValues { get; init; }

    /// <summary>Gets the raw inputs, or empty when only summaries are captured.</summary>
    public IReadOnlyList<NamedTensor> Inputs { get; init; } = [];

    /// <summary>Gets the raw outputs, or empty when only summaries are captured.</summary>
    public IReadOnlyList<NamedTensor> Outputs { get; init; } = [];

    /// <summary>Gets the label (label records).</summary>
    public double Label { get; init; } = double.NaN;
}

/// <summary>Where captured records go. Called only from the monitor's background processor, one record at a time.</summary>
public interface ICaptureSink
{
    /// <summary>Writes one record.</summary>
    /// <param name="record">The record; its tensors stay valid only during the call.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>A task that completes when the record is written (buffered).</returns>
    ValueTask WriteAsync(CaptureRecord record, CancellationToken cancellationToken);

    /// <summary>Flushes buffered records to storage.</summary>
    /// <param name="cancellationToken">Cancels the flush.</param>
    /// <returns>A task that completes when flushed.</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
