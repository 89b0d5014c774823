using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelKit.Training.Internal;

/// <summary>The training package's activity source and meter, both named <c>ModelKit.Training</c>.</summary>
internal sealed class TrainingTelemetry : IDisposable
{
    public const string Name = "ModelKit.Training";
    public const string OptimizerTag = "modelkit.training.optimizer";
    public const string ErrorTypeTag = "error.type";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Meter? _ownedMeter;

    public TrainingTelemetry(IMeterFactory? meterFactory)
    {
        Meter meter;
        if (meterFactory is not null)
        {
            meter = meterFactory.Create(new MeterOptions(Name));
        }
        else
        {
            meter = new Meter(Name);
            _ownedMeter = meter;
        }

        EpochDuration = meter.CreateHistogram<double>(
            "modelkit.training.epoch.duration",
            unit: "s",
            description: "Wall-clock time of one training epoch, validation included.");
        Samples = meter.CreateCounter<long>(
            "modelkit.training.samples",
            unit: "{sample}",
            description: "Training samples processed by optimizer steps.");
    }

    /// <summary>Gets the epoch duration histogram (seconds), tagged with <c>modelkit.training.optimizer</c>.</summary>
    public Histogram<double> EpochDuration { get; }

    /// <summary>Gets the counter of trained samples, tagged with <c>modelkit.training.optimizer</c>.</summary>
    public Counter<long> Samples { get; }

    /// <summary>Starts an activity only when the source has listeners.</summary>
    public static Activity? StartActivity(string operation) =>
        ActivitySource.HasListeners() ? ActivitySource.StartActivity(operation) : null;

    public static void RecordError(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag(ErrorTypeTag, exception.GetType().FullName);
    }

    public void Dispose() => _ownedMeter?.Dispose();
}
