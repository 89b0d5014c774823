using System.Diagnostics;
using System.Diagnostics.Metrics;
using ModelKit.Diagnostics;

namespace ModelKit.Registry.Internal;

/// <summary>The registry's activity source and meter, both named <c>ModelKit.Registry</c>.</summary>
internal sealed class RegistryTelemetry : IDisposable
{
    public const string Name = ModelKitTelemetry.RegistryName;
    public const string ModelNameTag = ModelKitTelemetry.ModelNameTag;
    public const string ModelVersionTag = ModelKitTelemetry.ModelVersionTag;

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Meter? _ownedMeter;

    public RegistryTelemetry(IMeterFactory? meterFactory)
    {
        Meter meter = ModelKitTelemetryHelpers.CreateMeter(meterFactory, Name, out _ownedMeter);

        Registrations = meter.CreateCounter<long>(
            "modelkit.registry.registrations",
            unit: "{registration}",
            description: "Model versions registered.");
        GarbageCollections = meter.CreateCounter<long>(
            "modelkit.registry.gc.runs",
            unit: "{run}",
            description: "Garbage collections, tagged with their outcome (success or failure).");
        GarbageCollectedArtifacts = meter.CreateCounter<long>(
            "modelkit.registry.gc.deleted",
            unit: "{artifact}",
            description: "Unreferenced artifacts deleted by garbage collection.");
        GarbageCollectedBytes = meter.CreateCounter<long>(
            "modelkit.registry.gc.deleted_bytes",
            unit: "By",
            description: "Bytes freed by garbage collection.");
        GarbageCollectionDuration = meter.CreateHistogram<double>(
            "modelkit.registry.gc.duration",
            unit: "s",
            description: "Duration of a garbage collection.");
    }

    /// <summary>The tag of <see cref="GarbageCollections"/>: <c>success</c> or <c>failure</c>.</summary>
    public const string OutcomeTag = "modelkit.registry.gc.outcome";

    /// <summary>Gets the counter of garbage collections, tagged with <see cref="OutcomeTag"/>.</summary>
    public Counter<long> GarbageCollections { get; }

    /// <summary>Gets the counter of artifacts deleted by garbage collection.</summary>
    public Counter<long> GarbageCollectedArtifacts { get; }

    /// <summary>Gets the counter of bytes freed by garbage collection.</summary>
    public Counter<long> GarbageCollectedBytes { get; }

    /// <summary>Gets the histogram of garbage collection durations, in seconds.</summary>
    public Histogram<double> GarbageCollectionDuration { get; }

    /// <summary>Gets the counter of registered versions, tagged with <c>modelkit.model.name</c>.</summary>
    public Counter<long> Registrations { get; }

    /// <summary>Starts an activity only when the source has listeners.</summary>
    public static Activity? StartActivity(string operation, string modelName) =>
        ModelKitTelemetryHelpers.StartActivity(ActivitySource, operation)?.SetTag(ModelNameTag, modelName);

    public static void RecordError(Activity? activity, Exception exception) => ModelKitTelemetryHelpers.RecordError(activity, exception);

    public void Dispose() => _ownedMeter?.Dispose();
}
