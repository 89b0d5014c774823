using System.Diagnostics;
using System.Diagnostics.Metrics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelKit.Compression.Internal;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving;

namespace ModelKit.Compression;

/// <summary>
/// The ONNX implementation of <see cref="IModelCompressor"/>: parses the model with ModelKit.Onnx (as untrusted input),
/// applies each recipe step to the <c>ModelProto</c>, removes initializers nothing reads any more, validates the result
/// with <see cref="OnnxModel.Load(ReadOnlySpan{byte})"/>, and (when it has an <see cref="IInferenceSessionFactory"/>) checks that ONNX
/// Runtime loads it. Thread-safe: every call works on its own copy of the model. Register it with
/// <c>services.AddModelKit().AddCompression()</c>.
/// </summary>
/// <remarks>
/// <para>Operators each step covers, and what stays in float:</para>
/// <list type="bullet">
/// <item><see cref="DynamicQuantizationStep"/>: MatMul and Gemm with a constant 2-D float32 weight (Gemm with transA = 0),
/// and Conv (opt-in) with a constant weight. Everything else stays float32.</item>
/// <item><see cref="StaticQuantizationStep"/>: Conv, MatMul, Gemm (weights int8 per channel, bias int32), Add, Mul, pooling,
/// Concat, Relu/Clip (folded into the producer's quantization when activations are asymmetric), and the data-movement
/// operators (Reshape, Flatten, Transpose, Squeeze, Unsqueeze). Softmax, normalizations, recurrent operators and every other
/// operator run in float32 between DequantizeLinear and QuantizeLinear.</item>
/// <item><see cref="Float16Step"/>: every default-domain operator except the keep-list and nodes with subgraphs.</item>
/// <item>Pruning and clipping: the weights of MatMul, Gemm and Conv.</item>
/// </list>
/// A node a step does not understand (an unexpected layout, a non-constant weight, an unsupported element type) is left
/// as it was, with a line in <see cref="CompressionStepReport.Notes"/>.
/// </remarks>
public sealed partial class OnnxModelCompressor : IModelCompressor, IDisposable
{
    /// <summary>The meter and activity source name, <c>ModelKit.Compression</c>.</summary>
    public const string TelemetryName = "ModelKit.Compression";

    private static readonly ActivitySource s_activitySource = new(TelemetryName);
    private readonly IInferenceSessionFactory? _sessions;
    private readonly ILogger _logger;
    private readonly Meter? _ownedMeter;
    private readonly Histogram<double> _duration;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="sessions">
    /// Loads models into ONNX Runtime: runs calibration data for <see cref="StaticQuantizationStep"/> and checks that each
    /// result loads. Without it, static quantization throws <see cref="CompressionException"/> and the load check is skipped.
    /// </param>
    /// <param name="logger">Logs each step's outcome; nothing is logged when <see langword="null"/>.</param>
    /// <param name="meterFactory">Creates the <c>ModelKit.Compression</c> meter; when <see langword="null"/> this instance creates and owns one.</param>
    public OnnxModelCompressor(IInferenceSessionFactory? sessions = null, ILogger<OnnxModelCompressor>? logger = null, IMeterFactory? meterFactory = null)
    {
        _sessions = sessions;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Meter meter = ModelKit.Diagnostics.ModelKitTelemetryHelpers.CreateMeter(meterFactory, TelemetryName, out _ownedMeter);
        _duration = meter.CreateHistogram<double>(
            "modelkit.compression.step.duration", "s", "Time one compression step took, by step kind (modelkit.compression.step).");
    }

    /// <inheritdoc />
    public Task<CompressionResult> CompressAsync(
        ReadOnlyMemory<byte> model,
        CompressionRecipe recipe,
        CalibrationData? calibration = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        recipe.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        using Activity? activity = ModelKit.Diagnostics.ModelKitTelemetryHelpers.StartActivity(s_activitySource, "modelkit.compression.compress");
        try
        {
            return Task.FromResult(Compress(model, recipe, calibration, cancellationToken));
        }
        catch (Exception ex)
        {
            ModelKit.Diagnostics.ModelKitTelemetryHelpers.RecordError(activity, ex);
            throw;
        }
    }

    /// <summary>Disposes the meter this instance owns (none when a meter factory was given).</summary>
    public void Dispose() => _ownedMeter?.Dispose();

    private CompressionResult Compress(ReadOnlyMemory<byte> bytes, CompressionRecipe recipe, CalibrationData? calibration, CancellationToken cancellationToken)
    {
        // ModelKit.Onnx validates the untrusted bytes; this assembly then parses its own (internal) copy of the object model.
        _ = OnnxModel.Load(bytes.Span);
        ModelProto model = ModelProto.Parser.ParseFrom(bytes.Span);
        var graph = new OnnxGraph(model);
        graph.HoistConstants();
        var reports = new List<CompressionStepReport>(recipe.Steps.Count);
        for (int i = 0; i < recipe.Steps.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            CompressionStep step = recipe.Steps[i];
            CheckNodesExist(graph, step, i);
            long start = Stopwatch.GetTimestamp();
            StepResult result = step switch
            {
                DynamicQuantizationStep d => DynamicQuantizer.Apply(graph, d),
                StaticQuantizationStep s => StaticQuantizer.Apply(graph, s, RequireSessions(), calibration, cancellationToken),
                Float16Step f => Float16Converter.Apply(graph, f),
                MagnitudePruningStep m => Pruning.ApplyMagnitude(graph, m),
                StructuredPruningStep s => Pruning.ApplyStructured(graph, s),
                WeightClippingStep w => WeightClipper.Apply(graph, w),
                _ => throw new ArgumentException($"Step {i + 1} of the recipe is a {step.GetType().Name}, which this compressor does not know; use the step kinds {string.Join(", ", CompressionStep.Kinds)}.", nameof(recipe)),
            };
            if (result.Changed)
            {
                graph.ClearValueInfo();
                graph.RemoveUnused();
            }

            CompressionStepReport report = result.ToReport();
            reports.Add(report);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            _duration.Record(seconds, new KeyValuePair<string, object?>("modelkit.compression.step", step.Kind));
            CompressionLog.StepApplied(_logger, step.Kind, report.TransformedNodes.Count, report.Notes.Count, seconds);
        }

        try
        {
            _ = OnnxModel.Load(model.ToByteArray());
        }
        catch (InvalidModelException ex)
        {
            throw new CompressionException($"The compressed model failed ONNX validation ({ex.Message}); recipe {recipe}. This is a defect in the compressor: report it with the model.", ex);
        }

        byte[] output = model.ToByteArray();
        if (_sessions is not null)
        {
            try
            {
                using IInferenceSession check = _sessions.Create(output);
            }
            catch (Exception ex) when (ex is InvalidModelException or NativeEngineException)
            {
                throw new CompressionException($"ONNX Runtime does not load the compressed model ({ex.Message}); recipe {recipe}. Exclude the node it names with NodesToExclude, or report the model.", ex);
            }
        }

        return new CompressionResult(output, new CompressionReport { InputSizeBytes = bytes.Length, OutputSizeBytes = output.Length, Steps = reports });
    }

    private IInferenceSessionFactory RequireSessions() => _sessions ?? throw new CompressionException(
        "Static quantization runs calibration data through ONNX Runtime, but this compressor has no IInferenceSessionFactory. " +
        "Register serving (services.AddModelKit().AddOnnxRuntimeServing().AddCompression()) or pass a factory to the constructor.");

    private static void CheckNodesExist(OnnxGraph graph, CompressionStep step, int index)
    {
        IReadOnlyList<string> names = step switch
        {
            DynamicQuantizationStep d => d.NodesToExclude,
            StaticQuantizationStep s => s.NodesToExclude,
            Float16Step f => f.NodesToExclude,
            StructuredPruningStep p => p.Layers,
            _ => [],
        };
        if (names.Count == 0)
        {
            return;
        }

        var existing = new HashSet<string>(graph.Graph.Node.Select(n => n.Name), StringComparer.Ordinal);
        foreach (string name in names)
        {
            if (!existing.Contains(name))
            {
                string sample = string.Join(", ", graph.Graph.Node.Take(8).Select(n => $"'{n.Name}' ({n.OpType})"));
                throw new ArgumentException(
                    $"Step {index + 1} ('{step.Kind}') names node '{name}', which the model does not have. Node names are case-sensitive; the model's first nodes are {sample}.",
                    nameof(step));
            }
        }
    }
}
