using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Compression;

/// <summary>
/// Compresses a registered model version, measures the parent and the candidate on this host (metric, size, p50 latency
/// at batch 1 and batch 64), registers the candidate as the next version with its lineage (parent version, recipe,
/// report), and moves an alias to it only when every threshold holds. Implementations are thread-safe.
/// </summary>
public interface ICompressionGate
{
    /// <summary>Runs the gate once.</summary>
    /// <param name="request">The parent, the recipe, the evaluation and the thresholds.</param>
    /// <param name="cancellationToken">Cancels the run; a candidate already registered stays registered, the alias does not move.</param>
    /// <returns>The measurements, each check with its numbers, the registered candidate, and whether the alias moved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="ModelNotFoundException">The parent reference does not resolve.</exception>
    /// <exception cref="ArgumentException">The recipe or thresholds are invalid.</exception>
    /// <exception cref="CompressionException">The evaluation data does not fit the model, or the model cannot be compressed as asked.</exception>
    /// <exception cref="InvalidModelException">The parent artifact is not a valid ONNX model.</exception>
    /// <exception cref="NativeEngineException">The inference engine failed.</exception>
    Task<CompressionGateReport> RunAsync(CompressionGateRequest request, CancellationToken cancellationToken = default);
}

/// <summary>What the gate measures with: labelled accuracy, or agreement of the top-1 class with the parent.</summary>
public enum EvaluationMetric
{
    /// <summary>The fraction of samples whose arg-max over the output's last dimension equals the label.</summary>
    Accuracy,

    /// <summary>The fraction of samples whose arg-max equals the parent model's arg-max (no labels needed).</summary>
    Agreement,
}

/// <summary>The data a gate evaluates both models on.</summary>
public sealed class CompressionEvaluation
{
    /// <summary>Initializes an evaluation.</summary>
    /// <param name="batches">Batches of named inputs (one tensor per model input, batch along dimension 0); at least one.</param>
    /// <param name="labels">For <see cref="EvaluationMetric.Accuracy"/>: one class label per sample, all batches concatenated in order; otherwise <see langword="null"/>.</param>
    /// <param name="metric">The metric.</param>
    /// <exception cref="ArgumentNullException"><paramref name="batches"/> or a batch is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">There are no batches, or labels are missing for <see cref="EvaluationMetric.Accuracy"/>.</exception>
    public CompressionEvaluation(IReadOnlyList<IReadOnlyList<NamedTensor>> batches, ReadOnlyMemory<long>? labels, EvaluationMetric metric)
    {
        ArgumentNullException.ThrowIfNull(batches);
        if (batches.Count == 0)
        {
            throw new ArgumentException("The evaluation has no batches; give at least one batch of inputs.", nameof(batches));
        }

        foreach (IReadOnlyList<NamedTensor> batch in batches)
        {
            ArgumentNullException.ThrowIfNull(batch, nameof(batches));
        }

        if (metric == EvaluationMetric.Accuracy && labels is null)
        {
            throw new ArgumentException("The Accuracy metric needs labels; pass one label per sample, or use EvaluationMetric.Agreement.", nameof(labels));
        }

        Batches = batches;
        Labels = labels;
        Metric = metric;
    }

    /// <summary>Gets the batches of named inputs.</summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>> Batches { get; }

    /// <summary>Gets the labels, one per sample, or <see langword="null"/>.</summary>
    public ReadOnlyMemory<long>? Labels { get; }

    /// <summary>Gets the metric.</summary>
    public EvaluationMetric Metric { get; }

    /// <summary>Gets or sets the name of the output the metric reads (scores over classes in its last dimension); <see langword="null"/> reads the first output.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? OutputName { get; init; }
}

/// <summary>What a candidate must achieve to be promoted. Every threshold must hold.</summary>
public sealed record CompressionThresholds
{
    /// <summary>Gets the largest allowed drop of the metric (parent − candidate, absolute: 0.003 is 0.3 percentage points), from 0 to 1.</summary>
    /// <value>The default is 0.01.</value>
    public double MaxMetricDrop { get; init; } = 0.01;

    /// <summary>Gets the smallest required speed-up at batch 64 (parent p50 latency ÷ candidate p50 latency), greater than 0.</summary>
    /// <value>The default is 1.0 (not slower).</value>
    public double MinSpeedupBatch64 { get; init; } = 1.0;

    /// <summary>Gets the smallest required speed-up at batch 1, or <see langword="null"/> to report batch 1 without a threshold.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public double? MinSpeedupBatch1 { get; init; }

    /// <summary>Gets the largest allowed size ratio (candidate bytes ÷ parent bytes), greater than 0.</summary>
    /// <value>The default is 1.0 (not larger).</value>
    public double MaxSizeRatio { get; init; } = 1.0;

    /// <summary>Checks the ranges.</summary>
    /// <exception cref="ArgumentException">A threshold is out of range; the message names it and its value.</exception>
    public void Validate()
    {
        if (!(MaxMetricDrop >= 0 && MaxMetricDrop <= 1))
        {
            throw new ArgumentException(FormattableString.Invariant($"MaxMetricDrop is {MaxMetricDrop}; it must be from 0 to 1 (0.003 allows a drop of 0.3 percentage points)."), nameof(MaxMetricDrop));
        }

        if (!(MinSpeedupBatch64 > 0) || double.IsInfinity(MinSpeedupBatch64))
        {
            throw new ArgumentException(FormattableString.Invariant($"MinSpeedupBatch64 is {MinSpeedupBatch64}; it must be a finite number greater than 0, for example 1.5."), nameof(MinSpeedupBatch64));
        }

        if (MinSpeedupBatch1 is { } b1 && (!(b1 > 0) || double.IsInfinity(b1)))
        {
            throw new ArgumentException(FormattableString.Invariant($"MinSpeedupBatch1 is {b1}; it must be a finite number greater than 0, or null."), nameof(MinSpeedupBatch1));
        }

        if (!(MaxSizeRatio > 0) || double.IsInfinity(MaxSizeRatio))
        {
            throw new ArgumentException(FormattableString.Invariant($"MaxSizeRatio is {MaxSizeRatio}; it must be a finite number greater than 0, for example 0.3."), nameof(MaxSizeRatio));
        }
    }
}

/// <summary>One run of the gate.</summary>
/// <param name="Parent">The registered version to compress, for example <c>fashion-mnist@production</c> or <c>fashion-mnist/1</c>.</param>
/// <param name="Recipe">The compression recipe.</param>
/// <param name="Evaluation">The data and metric both models are measured on.</param>
public sealed record CompressionGateRequest(ModelReference Parent, CompressionRecipe Recipe, CompressionEvaluation Evaluation)
{
    /// <summary>Gets the thresholds the candidate must meet.</summary>
    /// <value>The default is <see cref="CompressionThresholds"/>' defaults.</value>
    public CompressionThresholds Thresholds { get; init; } = new();

    /// <summary>Gets the alias moved to the candidate when it passes.</summary>
    /// <value>The default is <c>production</c>.</value>
    public string Alias { get; init; } = "production";

    /// <summary>Gets the calibration data for recipes with a static quantization step; <see langword="null"/> otherwise.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public CalibrationData? Calibration { get; init; }

    /// <summary>Gets the description stored with the candidate version; <see langword="null"/> writes one naming the parent and the recipe.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? Description { get; init; }
}

/// <summary>The numbers measured for one model on this host.</summary>
/// <param name="SizeBytes">The artifact size in bytes.</param>
/// <param name="Metric">The evaluation metric (accuracy or agreement, 0 to 1).</param>
/// <param name="LatencyBatch1">The median (p50) latency of one <c>Run</c> with batch 1.</param>
/// <param name="LatencyBatch64">The median (p50) latency of one <c>Run</c> with batch 64.</param>
public sealed record ModelMeasurement(long SizeBytes, double Metric, TimeSpan LatencyBatch1, TimeSpan LatencyBatch64);

/// <summary>One threshold check of the gate.</summary>
/// <param name="Name">The check, for example <c>metric drop</c>, <c>size ratio</c>, <c>speed-up at batch 64</c>.</param>
/// <param name="Measured">The measured value.</param>
/// <param name="Threshold">The threshold it was compared with.</param>
/// <param name="Passed">Whether the check holds.</param>
/// <param name="Description">One line with the numbers, for example <c>speed-up at batch 64 2.41x ≥ 1.50x: passed</c>.</param>
public sealed record GateCheck(string Name, double Measured, double Threshold, bool Passed, string Description);

/// <summary>What the gate measured and decided.</summary>
public sealed record CompressionGateReport
{
    /// <summary>Gets the parent version.</summary>
    public required ModelVersion Parent { get; init; }

    /// <summary>Gets the registered candidate version (registered whether or not it passed).</summary>
    public required ModelVersion Candidate { get; init; }

    /// <summary>Gets the parent's measurements.</summary>
    public required ModelMeasurement ParentMeasurement { get; init; }

    /// <summary>Gets the candidate's measurements.</summary>
    public required ModelMeasurement CandidateMeasurement { get; init; }

    /// <summary>Gets every check, passed or not.</summary>
    public required IReadOnlyList<GateCheck> Checks { get; init; }

    /// <summary>Gets the compression report.</summary>
    public required CompressionReport Compression { get; init; }

    /// <summary>Gets the alias the gate was asked to move.</summary>
    public required string Alias { get; init; }

    /// <summary>Gets the version the alias pointed at before the gate, or <see langword="null"/> when it did not exist.</summary>
    public int? PreviousAliasVersion { get; init; }

    /// <summary>Gets whether the alias now points at the candidate.</summary>
    public required bool Promoted { get; init; }

    /// <summary>Gets why the alias moved or did not, for example the failed checks with their numbers.</summary>
    public required string Decision { get; init; }

    /// <summary>Gets whether every check passed.</summary>
    public bool Passed => Checks.All(c => c.Passed);
}
