using System.Diagnostics.Metrics;

namespace ModelKit.Serving.Internal;

/// <summary>
/// The <c>ModelKit.Serving</c> meter and its instruments. The meter comes from <see cref="IMeterFactory"/> when the host
/// has one (the factory owns it); otherwise this object creates and disposes it.
/// </summary>
internal sealed class ServingMetrics : IDisposable
{
    public const string MeterName = "ModelKit.Serving";
    public const string InferenceDurationName = "modelkit.inference.duration";
    public const string ModelNameTag = "modelkit.model.name";
    public const string ModelVersionTag = "modelkit.model.version";
    public const string ProviderTag = "modelkit.provider";
    public const string ErrorTypeTag = "error.type";

    // Bucket boundaries in seconds, from 100 µs to 10 s: inference latencies of small to large models.
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public ServingMetrics(IMeterFactory? meterFactory)
    {
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(new MeterOptions(MeterName)) ?? new Meter(MeterName);
        InferenceDuration = _meter.CreateHistogram(
            InferenceDurationName,
            unit: "s",
            description: "Duration of one inference session Run call, from input validation to managed outputs.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
    }

    /// <summary>Gets <c>modelkit.inference.duration</c> (seconds; tags: model name and version when known, provider, <c>error.type</c> on failure).</summary>
    public Histogram<double> InferenceDuration { get; }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
