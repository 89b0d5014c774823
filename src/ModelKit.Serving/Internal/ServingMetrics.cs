using System.Diagnostics.Metrics;
using ModelKit.Diagnostics;

namespace ModelKit.Serving.Internal;

/// <summary>
/// The <c>ModelKit.Serving</c> meter and its instruments. The meter comes from <see cref="IMeterFactory"/> when the host
/// has one (the factory owns it); otherwise this object creates and disposes it.
/// </summary>
internal sealed class ServingMetrics : IDisposable
{
    public const string MeterName = ModelKitTelemetry.ServingName;
    public const string InferenceDurationName = "modelkit.inference.duration";
    public const string ModelNameTag = ModelKitTelemetry.ModelNameTag;
    public const string ModelVersionTag = ModelKitTelemetry.ModelVersionTag;
    public const string ProviderTag = ModelKitTelemetry.ProviderTag;
    public const string ErrorTypeTag = ModelKitTelemetry.ErrorTypeTag;

    // Bucket boundaries in seconds, from 100 µs to 10 s: inference latencies of small to large models.
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Meter? _ownedMeter;

    public ServingMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = ModelKitTelemetry.CreateMeter(meterFactory, MeterName, out _ownedMeter);
        InferenceDuration = meter.CreateHistogram(
            InferenceDurationName,
            unit: "s",
            description: "Duration of one inference session Run call, from input validation to managed outputs.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    /// <summary>Gets <c>modelkit.inference.duration</c> (seconds; tags: model name and version when known, provider, <c>error.type</c> on failure).</summary>
    public Histogram<double> InferenceDuration { get; }

    public void Dispose() => _ownedMeter?.Dispose();
}
