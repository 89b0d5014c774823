using System.Diagnostics;
using System.Diagnostics.Metrics;
using ModelKit.Diagnostics;

namespace ModelKit.Serving.Internal;

/// <summary>
/// The <c>ModelKit.Serving</c> meter, its instruments and activity source. The meter comes from <see cref="IMeterFactory"/>
/// when the host has one (the factory owns it); otherwise this object creates and disposes it. Tags: model name and
/// version, provider, <c>error.type</c> on failures; never tensor data.
/// </summary>
internal sealed class ServingMetrics : IDisposable
{
    public const string MeterName = ModelKitTelemetry.ServingName;
    public const string InferenceDurationName = "modelkit.inference.duration";
    public const string RequestDurationName = "modelkit.serving.request.duration";
    public const string QueueDurationName = "modelkit.serving.queue.duration";
    public const string RunDurationName = "modelkit.serving.run.duration";
    public const string BatchSizeName = "modelkit.serving.batch.size";
    public const string QueueDepthName = "modelkit.serving.queue.depth";
    public const string RejectedName = "modelkit.serving.requests.rejected";
    public const string TimedOutName = "modelkit.serving.requests.timed_out";
    public const string CancelledName = "modelkit.serving.requests.cancelled";
    public const string LoadsName = "modelkit.serving.model.loads";
    public const string LoadDurationName = "modelkit.serving.model.load.duration";
    public const string LoadFailuresName = "modelkit.serving.model.load.failures";
    public const string LoadedModelsName = "modelkit.serving.models.loaded";
    public const string ModelNameTag = ModelKitTelemetry.ModelNameTag;
    public const string ModelVersionTag = ModelKitTelemetry.ModelVersionTag;
    public const string ProviderTag = ModelKitTelemetry.ProviderTag;
    public const string ErrorTypeTag = ModelKitTelemetry.ErrorTypeTag;

    /// <summary>The activity source: one <c>modelkit.serving.request</c> span per request, one <c>modelkit.serving.batch</c> span per batch linked to its requests.</summary>
    public static readonly ActivitySource ActivitySource = new(ModelKitTelemetry.ServingName);

    // Bucket boundaries in seconds, from 10 µs to 10 s: inference latencies of small to large models.
    private static readonly double[] DurationBuckets = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

    private readonly Meter? _ownedMeter;

    public ServingMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = ModelKitTelemetryHelpers.CreateMeter(meterFactory, MeterName, out _ownedMeter);
        InferenceDuration = Duration(meter, InferenceDurationName, "Duration of one inference session Run call, from input validation to managed outputs.");
        RequestDuration = Duration(meter, RequestDurationName, "Duration of one pool request, from arrival to result (queue wait plus run).");
        QueueDuration = Duration(meter, QueueDurationName, "Time a request waited in its model's queue before its batch started.");
        RunDuration = Duration(meter, RunDurationName, "Duration of one batch (or unbatched request) on the engine, including merging and splitting.");
        BatchSize = meter.CreateHistogram(BatchSizeName, unit: "{row}", description: "Rows (dimension 0) per executed batch.", tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });
        QueueDepth = meter.CreateUpDownCounter<int>(QueueDepthName, unit: "{request}", description: "Requests waiting in a model's queue.");
        Rejected = meter.CreateCounter<long>(RejectedName, unit: "{request}", description: "Requests rejected at once because the model's queue was full.");
        TimedOut = meter.CreateCounter<long>(TimedOutName, unit: "{request}", description: "Requests dropped because their deadline passed before they ran.");
        Cancelled = meter.CreateCounter<long>(CancelledName, unit: "{request}", description: "Requests dropped because they were cancelled before they ran.");
        Loads = meter.CreateCounter<long>(LoadsName, unit: "{load}", description: "Model generations loaded (first loads and hot reloads).");
        LoadDuration = Duration(meter, LoadDurationName, "Duration of loading one model generation: resolve, read, validate, create the session, warm up.");
        LoadFailures = meter.CreateCounter<long>(LoadFailuresName, unit: "{load}", description: "Failed loads or warm-ups of a model generation.");
        LoadedModels = meter.CreateUpDownCounter<int>(LoadedModelsName, unit: "{model}", description: "Model generations loaded now.");
    }

    /// <summary>Gets <c>modelkit.inference.duration</c> (seconds; tags: model name and version when known, provider, <c>error.type</c> on failure).</summary>
    public Histogram<double> InferenceDuration { get; }

    public Histogram<double> RequestDuration { get; }

    public Histogram<double> QueueDuration { get; }

    public Histogram<double> RunDuration { get; }

    public Histogram<int> BatchSize { get; }

    public UpDownCounter<int> QueueDepth { get; }

    public Counter<long> Rejected { get; }

    public Counter<long> TimedOut { get; }

    public Counter<long> Cancelled { get; }

    public Counter<long> Loads { get; }

    public Histogram<double> LoadDuration { get; }

    public Counter<long> LoadFailures { get; }

    public UpDownCounter<int> LoadedModels { get; }

    public void Dispose() => _ownedMeter?.Dispose();

    private static Histogram<double> Duration(Meter meter, string name, string description) =>
        meter.CreateHistogram(name, unit: "s", description: description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
}
