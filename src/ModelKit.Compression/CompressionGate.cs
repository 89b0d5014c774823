using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelKit.Compression.Internal;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Compression;

/// <summary>
/// The default <see cref="ICompressionGate"/>: resolves the parent through <see cref="IModelRegistry"/>, compresses it with
/// <see cref="IModelCompressor"/>, loads both models through <see cref="IInferenceSessionFactory"/> (ModelKit.Serving on
/// this host), measures the metric over the evaluation data and the p50 latency at batch 1 and batch 64 (timed runs of the
/// two models interleaved, so a noisy machine slows both alike), registers the candidate as the next version with lineage
/// (parent version, recipe JSON, training run and data set of the parent) and the measurements as metrics, and moves the
/// alias only when every threshold holds and the alias still points where it pointed when the gate started.
/// Thread-safe.
/// </summary>
public sealed class CompressionGate : ICompressionGate, IDisposable
{
    private const int LargeBatch = 64;
    private readonly IModelRegistry _registry;
    private readonly IInferenceSessionFactory _sessions;
    private readonly IModelCompressor _compressor;
    private readonly CompressionGateOptions _options;
    private readonly ILogger _logger;
    private readonly Meter? _ownedMeter;
    private readonly Counter<long> _decisions;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="registry">Resolves the parent, stores the candidate, moves the alias.</param>
    /// <param name="sessions">Loads both models for measurement.</param>
    /// <param name="compressor">Applies the recipe.</param>
    /// <param name="options">Latency measurement settings; validated here.</param>
    /// <param name="logger">Logs the decision; nothing is logged when <see langword="null"/>.</param>
    /// <param name="meterFactory">Creates the <c>ModelKit.Compression</c> meter; when <see langword="null"/> this instance creates and owns one.</param>
    /// <exception cref="ArgumentNullException">A required argument is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid.</exception>
    public CompressionGate(
        IModelRegistry registry,
        IInferenceSessionFactory sessions,
        IModelCompressor compressor,
        IOptions<CompressionGateOptions> options,
        ILogger<CompressionGate>? logger = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(sessions);
        ArgumentNullException.ThrowIfNull(compressor);
        ArgumentNullException.ThrowIfNull(options);
        ValidateOptionsResult validation = new CompressionGateOptionsValidator().Validate(Options.DefaultName, options.Value);
        if (validation.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(CompressionGateOptions), validation.Failures);
        }

        _registry = registry;
        _sessions = sessions;
        _compressor = compressor;
        _options = options.Value;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Meter meter = ModelKit.Diagnostics.ModelKitTelemetryHelpers.CreateMeter(meterFactory, OnnxModelCompressor.TelemetryName, out _ownedMeter);
        _decisions = meter.CreateCounter<long>(
            "modelkit.compression.gate.decisions", "{decision}", "Compression gate runs by outcome (modelkit.compression.gate.outcome: promoted, rejected, alias_moved).");
    }

    /// <inheritdoc />
    public async Task<CompressionGateReport> RunAsync(CompressionGateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request.Recipe.Validate();
        request.Thresholds.Validate();
        ArgumentException.ThrowIfNullOrEmpty(request.Alias, nameof(request));

        ModelVersion parent = await _registry.ResolveAsync(request.Parent, cancellationToken).ConfigureAwait(false);
        IReadOnlyDictionary<string, int> aliases = await _registry.GetAliasesAsync(parent.Name, cancellationToken).ConfigureAwait(false);
        int? aliasBefore = aliases.TryGetValue(request.Alias, out int v) ? v : null;

        byte[] parentBytes;
        Stream artifact = await _registry.OpenArtifactAsync(parent, cancellationToken).ConfigureAwait(false);
        await using (artifact.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            await artifact.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            parentBytes = buffer.ToArray();
        }

        CompressionResult compressed = await _compressor.CompressAsync(parentBytes, request.Recipe, request.Calibration, cancellationToken).ConfigureAwait(false);
        (ModelMeasurement parentMeasurement, ModelMeasurement candidateMeasurement) = Measure(parentBytes, compressed.Model, request.Evaluation, cancellationToken);
        List<GateCheck> checks = Check(parentMeasurement, candidateMeasurement, request.Thresholds);
        bool passed = checks.TrueForAll(c => c.Passed);

        string metricName = request.Evaluation.Metric == EvaluationMetric.Accuracy ? "gate_accuracy" : "gate_agreement";
        var registration = new ModelRegistration(parent.Name)
        {
            Format = parent.Format,
            Description = request.Description ?? $"{parent.Name}/{parent.Version} compressed with {request.Recipe}",
            Metrics = new Dictionary<string, double>(StringComparer.Ordinal)
            {
                [metricName] = candidateMeasurement.Metric,
                ["gate_parent_" + metricName[5..]] = parentMeasurement.Metric,
                ["gate_latency_p50_batch1_s"] = candidateMeasurement.LatencyBatch1.TotalSeconds,
                ["gate_latency_p50_batch64_s"] = candidateMeasurement.LatencyBatch64.TotalSeconds,
                ["gate_speedup_batch1"] = Ratio(parentMeasurement.LatencyBatch1, candidateMeasurement.LatencyBatch1),
                ["gate_speedup_batch64"] = Ratio(parentMeasurement.LatencyBatch64, candidateMeasurement.LatencyBatch64),
                ["gate_size_ratio"] = (double)candidateMeasurement.SizeBytes / parentMeasurement.SizeBytes,
            },
            Tags = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["compression"] = string.Join("+", request.Recipe.Steps.Select(s => s.Kind)),
                ["gate"] = passed ? "passed" : "failed",
            },
            Lineage = new ModelLineage
            {
                ParentVersion = parent.Version,
                CompressionRecipe = request.Recipe.ToJson(),
                TrainingRunId = parent.Lineage.TrainingRunId,
                DatasetDigest = parent.Lineage.DatasetDigest,
                Parameters = parent.Lineage.Parameters,
            },
        };

        ModelVersion candidate;
        using (var content = new MemoryStream(compressed.Model, writable: false))
        {
            candidate = await _registry.RegisterAsync(registration, content, cancellationToken).ConfigureAwait(false);
        }

        bool promoted = false;
        string decision;
        if (!passed)
        {
            decision = $"not promoted: alias '{request.Alias}' stays at {Describe(aliasBefore)}; failed: " +
                string.Join("; ", checks.Where(c => !c.Passed).Select(c => c.Description));
            _decisions.Add(1, new KeyValuePair<string, object?>("modelkit.compression.gate.outcome", "rejected"));
        }
        else
        {
            (promoted, int? current) = await MoveAliasIfUnchangedAsync(parent.Name, request.Alias, aliasBefore, candidate.Version, cancellationToken).ConfigureAwait(false);
            if (promoted)
            {
                decision = $"promoted: alias '{request.Alias}' moved from {Describe(aliasBefore)} to version {candidate.Version}; every check passed";
                _decisions.Add(1, new KeyValuePair<string, object?>("modelkit.compression.gate.outcome", "promoted"));
            }
            else
            {
                decision = $"not promoted: every check passed, but alias '{request.Alias}' moved from {Describe(aliasBefore)} to {Describe(current)} while the gate ran; run the gate again against the new target";
                CompressionLog.AliasMovedConcurrently(_logger, parent.Name, request.Alias, aliasBefore, current, candidate.Version);
                _decisions.Add(1, new KeyValuePair<string, object?>("modelkit.compression.gate.outcome", "alias_moved"));
            }
        }

        CompressionLog.GateDecided(_logger, parent.Name, parent.Version, candidate.Version, decision);
        return new CompressionGateReport
        {
            Parent = parent,
            Candidate = candidate,
            ParentMeasurement = parentMeasurement,
            CandidateMeasurement = candidateMeasurement,
            Checks = checks,
            Compression = compressed.Report,
            Alias = request.Alias,
            PreviousAliasVersion = aliasBefore,
            Promoted = promoted,
            Decision = decision,
        };
    }

    /// <summary>Disposes the meter this instance owns (none when a meter factory was given).</summary>
    public void Dispose() => _ownedMeter?.Dispose();

    /// <summary>
    /// Moves <paramref name="alias"/> to <paramref name="candidate"/> only if it still points at <paramref name="expected"/>,
    /// through the registry's atomic <see cref="IModelRegistry.CompareAndSetAliasAsync"/>: a move by anyone else since the
    /// gate read the alias makes this one lose (reported, nothing changed) instead of overwriting it.
    /// </summary>
    private async Task<(bool Moved, int? Current)> MoveAliasIfUnchangedAsync(string name, string alias, int? expected, int candidate, CancellationToken cancellationToken)
    {
        try
        {
            await _registry.CompareAndSetAliasAsync(
                name, alias, expected, candidate, new AliasChangeInfo { ChangedBy = "ModelKit.Compression gate", Reason = "compressed candidate passed every gate check" }, cancellationToken).ConfigureAwait(false);
            return (true, candidate);
        }
        catch (AliasConflictException ex)
        {
            return (false, ex.ActualVersion);
        }
    }

    private static string Describe(int? version) => version is { } v ? $"version {v.ToString(CultureInfo.InvariantCulture)}" : "nowhere (it did not exist)";

    private static double Ratio(TimeSpan parent, TimeSpan candidate) => candidate > TimeSpan.Zero ? parent / candidate : 0;

    private static List<GateCheck> Check(ModelMeasurement parent, ModelMeasurement candidate, CompressionThresholds t)
    {
        var checks = new List<GateCheck>(4);
        double drop = parent.Metric - candidate.Metric;
        bool dropPassed = drop <= t.MaxMetricDrop + 1e-12;
        checks.Add(Make("metric drop", drop, t.MaxMetricDrop, dropPassed,
            $"metric {parent.Metric:F4} → {candidate.Metric:F4}, drop {drop * 100:F2} pp {AtMost(dropPassed)} {t.MaxMetricDrop * 100:F2} pp"));
        double size = (double)candidate.SizeBytes / parent.SizeBytes;
        checks.Add(Make("size ratio", size, t.MaxSizeRatio, size <= t.MaxSizeRatio,
            $"size {parent.SizeBytes:N0} → {candidate.SizeBytes:N0} bytes, ratio {size:F3}x {AtMost(size <= t.MaxSizeRatio)} {t.MaxSizeRatio:F3}x"));
        double s64 = Ratio(parent.LatencyBatch64, candidate.LatencyBatch64);
        checks.Add(Make("speed-up at batch 64", s64, t.MinSpeedupBatch64, s64 >= t.MinSpeedupBatch64,
            $"p50 at batch 64 {Micro(parent.LatencyBatch64)} → {Micro(candidate.LatencyBatch64)}, speed-up {s64:F3}x {AtLeast(s64 >= t.MinSpeedupBatch64)} {t.MinSpeedupBatch64:F2}x"));
        double s1 = Ratio(parent.LatencyBatch1, candidate.LatencyBatch1);
        if (t.MinSpeedupBatch1 is { } min1)
        {
            checks.Add(Make("speed-up at batch 1", s1, min1, s1 >= min1,
                $"p50 at batch 1 {Micro(parent.LatencyBatch1)} → {Micro(candidate.LatencyBatch1)}, speed-up {s1:F3}x {AtLeast(s1 >= min1)} {min1:F2}x"));
        }

        return checks;

        // The relation printed is the one that holds, so a failed check never reads "1.50x ≥ 1.50x" after rounding.
        static string AtMost(bool passed) => passed ? "≤" : ">";
        static string AtLeast(bool passed) => passed ? "≥" : "<";

        static GateCheck Make(string name, double measured, double threshold, bool passed, string text) =>
            new(name, measured, threshold, passed, string.Create(CultureInfo.InvariantCulture, $"{text}: {(passed ? "passed" : "FAILED")}"));
    }

    private static string Micro(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalMicroseconds:F1} µs");

    private (ModelMeasurement Parent, ModelMeasurement Candidate) Measure(byte[] parentBytes, byte[] candidateBytes, CompressionEvaluation evaluation, CancellationToken cancellationToken)
    {
        using IInferenceSession parent = _sessions.Create(parentBytes);
        using IInferenceSession candidate = _sessions.Create(candidateBytes);

        // Metric over every evaluation batch.
        long rows = 0, parentHits = 0, candidateHits = 0;
        ReadOnlySpan<long> labels = evaluation.Labels is { } l ? l.Span : default;
        for (int b = 0; b < evaluation.Batches.Count; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int[] p = ArgMax(Run(parent, evaluation.Batches[b], evaluation.OutputName, b));
            int[] c = ArgMax(Run(candidate, evaluation.Batches[b], evaluation.OutputName, b));
            if (p.Length != c.Length)
            {
                throw new CompressionException(string.Create(CultureInfo.InvariantCulture,
                    $"Evaluation batch {b}: the parent gives {p.Length} predictions but the candidate {c.Length}; the compressed model changed the output shape. Report the model and recipe."));
            }

            for (int i = 0; i < p.Length; i++)
            {
                if (evaluation.Metric == EvaluationMetric.Accuracy)
                {
                    if (rows + i >= labels.Length)
                    {
                        throw new CompressionException(string.Create(CultureInfo.InvariantCulture,
                            $"The evaluation has {labels.Length} labels but its batches hold more predictions (at least {rows + i + 1}); give one label per sample (per row of the output)."));
                    }

                    long label = labels[(int)(rows + i)];
                    parentHits += p[i] == label ? 1 : 0;
                    candidateHits += c[i] == label ? 1 : 0;
                }
                else
                {
                    parentHits++;
                    candidateHits += p[i] == c[i] ? 1 : 0;
                }
            }

            rows += p.Length;
        }

        if (evaluation.Metric == EvaluationMetric.Accuracy && rows != labels.Length)
        {
            throw new CompressionException(string.Create(CultureInfo.InvariantCulture,
                $"The evaluation has {labels.Length} labels but its batches hold {rows} predictions; give one label per sample."));
        }

        // Latency: interleaved timed runs of both models at batch 1 and batch 64.
        IReadOnlyList<NamedTensor> first = evaluation.Batches[0];
        NamedTensor[] one = [.. first.Select(t => new NamedTensor(t.Name, TensorRows.Take(t.Value, 1)))];
        NamedTensor[] many = [.. first.Select(t => new NamedTensor(t.Name, TensorRows.Take(t.Value, LargeBatch)))];
        (TimeSpan p1, TimeSpan c1) = Time(parent, candidate, one, cancellationToken);
        (TimeSpan p64, TimeSpan c64) = Time(parent, candidate, many, cancellationToken);
        double parentMetric = (double)parentHits / rows, candidateMetric = (double)candidateHits / rows;
        return (new ModelMeasurement(parentBytes.Length, parentMetric, p1, p64), new ModelMeasurement(candidateBytes.Length, candidateMetric, c1, c64));
    }

    private (TimeSpan Parent, TimeSpan Candidate) Time(IInferenceSession parent, IInferenceSession candidate, NamedTensor[] inputs, CancellationToken cancellationToken)
    {
        for (int i = 0; i < _options.WarmupIterations; i++)
        {
            parent.Run(inputs);
            candidate.Run(inputs);
        }

        double[] p = new double[_options.LatencyIterations], c = new double[_options.LatencyIterations];
        for (int i = 0; i < p.Length; i++)
        {
            if ((i & 15) == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            long start = Stopwatch.GetTimestamp();
            parent.Run(inputs);
            long middle = Stopwatch.GetTimestamp();
            candidate.Run(inputs);
            long end = Stopwatch.GetTimestamp();
            p[i] = middle - start;
            c[i] = end - middle;
        }

        return (Median(p), Median(c));

        static TimeSpan Median(double[] ticks)
        {
            Array.Sort(ticks);
            double m = ticks.Length % 2 == 1 ? ticks[ticks.Length / 2] : (ticks[(ticks.Length / 2) - 1] + ticks[ticks.Length / 2]) / 2;
            return TimeSpan.FromSeconds(m / Stopwatch.Frequency);
        }
    }

    private static Tensor Run(IInferenceSession session, IReadOnlyList<NamedTensor> inputs, string? outputName, int batch)
    {
        IReadOnlyList<NamedTensor> outputs;
        try
        {
            outputs = session.Run(inputs);
        }
        catch (InferenceInputException ex)
        {
            throw new CompressionException($"Evaluation batch {batch} does not fit the model: {ex.Message}", ex);
        }

        if (outputName is null)
        {
            return outputs[0].Value;
        }

        foreach (NamedTensor o in outputs)
        {
            if (o.Name == outputName)
            {
                return o.Value;
            }
        }

        throw new CompressionException($"The evaluation reads output '{outputName}', which the model does not have; its outputs are {string.Join(", ", outputs.Select(o => $"'{o.Name}'"))}.");
    }

    private static int[] ArgMax(Tensor scores)
    {
        if (scores is not Tensor<float> f || scores.Shape.Length == 0)
        {
            throw new CompressionException($"The evaluated output is {scores.ElementType} {TensorSpec.FormatShape(scores.Shape)}; the gate needs float32 scores with the classes in the last dimension.");
        }

        int classes = (int)scores.Shape[^1];
        int rows = classes == 0 ? 0 : (int)(scores.ElementCount / classes);
        var result = new int[rows];
        ReadOnlySpan<float> v = f.Span;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> row = v.Slice(r * classes, classes);
            int best = 0;
            for (int k = 1; k < classes; k++)
            {
                if (row[k] > row[best])
                {
                    best = k;
                }
            }

            result[r] = best;
        }

        return result;
    }
}
