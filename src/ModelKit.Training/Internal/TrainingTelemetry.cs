using System.Diagnostics;
using System.Diagnostics.Metrics;
using ModelKit.Diagnostics;

namespace ModelKit.Training.Internal;

/// <summary>The training package's activity source and meter, both named <c>ModelKit.Training</c>.</summary>
internal sealed class TrainingTelemetry : IDisposable
{
    public const string Name = ModelKitTelemetry.TrainingName;
    public const string OptimizerTag = "modelkit.training.optimizer";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Meter? _ownedMeter;

    public TrainingTelemetry(IMeterFactory? meterFactory)
    {
        Meter meter = ModelKitTelemetryHelpers.CreateMeter(meterFactory, Name, out _ownedMeter);

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
    public static Activity? StartActivity(string operation) => ModelKitTelemetryHelpers.StartActivity(ActivitySource, operation);

    public static void RecordError(Activity? activity, Exception exception) => ModelKitTelemetryHelpers.RecordError(activity, exception);

    public void Dispose() => _ownedMeter?.Dispose();
}
