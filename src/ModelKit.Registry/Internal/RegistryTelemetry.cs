using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelKit.Registry.Internal;

/// <summary>The registry's activity source and meter, both named <c>ModelKit.Registry</c>.</summary>
internal sealed class RegistryTelemetry : IDisposable
{
    public const string Name = "ModelKit.Registry";
    public const string ModelNameTag = "modelkit.model.name";
    public const string ModelVersionTag = "modelkit.model.version";
    public const string ErrorTypeTag = "error.type";

    public static readonly ActivitySource ActivitySource = new(Name);

    private readonly Meter? _ownedMeter;

    public RegistryTelemetry(IMeterFactory? meterFactory)
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

        Registrations = meter.CreateCounter<long>(
            "modelkit.registry.registrations",
            unit: "{registration}",
            description: "Model versions registered.");
    }

    /// <summary>Gets the counter of registered versions, tagged with <c>modelkit.model.name</c>.</summary>
    public Counter<long> Registrations { get; }

    /// <summary>Starts an activity only when the source has listeners.</summary>
    public static Activity? StartActivity(string operation, string modelName) =>
        ActivitySource.HasListeners()
            ? ActivitySource.StartActivity(operation)?.SetTag(ModelNameTag, modelName)
            : null;

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
