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
    }

    /// <summary>Gets the counter of registered versions, tagged with <c>modelkit.model.name</c>.</summary>
    public Counter<long> Registrations { get; }

    /// <summary>Starts an activity only when the source has listeners.</summary>
    public static Activity? StartActivity(string operation, string modelName) =>
        ModelKitTelemetryHelpers.StartActivity(ActivitySource, operation)?.SetTag(ModelNameTag, modelName);

    public static void RecordError(Activity? activity, Exception exception) => ModelKitTelemetryHelpers.RecordError(activity, exception);

    public void Dispose() => _ownedMeter?.Dispose();
}
