using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelKit.Diagnostics;

/// <summary>
/// The names ModelKit's meters, activity sources and tags use, and the helpers every package shares. Meters and activity
/// sources are named after their package; instruments are <c>modelkit.*</c>; durations are in seconds (<c>s</c>) and
/// sizes in bytes (<c>By</c>). Tensor data never goes into tags, activities or logs.
/// </summary>
public static class ModelKitTelemetry
{
    /// <summary>The meter and activity source of ModelKit.Registry.</summary>
    public const string RegistryName = "ModelKit.Registry";

    /// <summary>The meter and activity source of ModelKit.Serving.</summary>
    public const string ServingName = "ModelKit.Serving";

    /// <summary>The meter and activity source of ModelKit.Training.</summary>
    public const string TrainingName = "ModelKit.Training";

    /// <summary>Tag: the model name, for example <c>fashion-mnist</c>.</summary>
    public const string ModelNameTag = "modelkit.model.name";

    /// <summary>Tag: the model version number.</summary>
    public const string ModelVersionTag = "modelkit.model.version";

    /// <summary>Tag: the execution provider, <c>cpu</c> or <c>cuda</c>.</summary>
    public const string ProviderTag = "modelkit.provider";

    /// <summary>Tag: the full name of the exception type of a failed operation (OpenTelemetry's <c>error.type</c>).</summary>
    public const string ErrorTypeTag = "error.type";

    /// <summary>Creates the meter <paramref name="name"/> from <paramref name="meterFactory"/>, or a free-standing one when there is none.</summary>
    /// <param name="meterFactory">The host's factory (it owns and disposes the meters it creates), or <see langword="null"/>.</param>
    /// <param name="name">The meter name, one of the <c>*Name</c> constants.</param>
    /// <param name="ownedMeter">The meter when the caller owns it (no factory) and must dispose it; otherwise <see langword="null"/>.</param>
    /// <returns>The meter.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static Meter CreateMeter(IMeterFactory? meterFactory, string name, out Meter? ownedMeter)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (meterFactory is not null)
        {
            ownedMeter = null;
            return meterFactory.Create(new MeterOptions(name));
        }

        ownedMeter = new Meter(name);
        return ownedMeter;
    }

    /// <summary>Starts an activity only when <paramref name="source"/> has listeners, so an unobserved call costs one check.</summary>
    /// <param name="source">The package's activity source.</param>
    /// <param name="operationName">The operation, for example <c>modelkit.registry.register</c>.</param>
    /// <returns>The started activity, or <see langword="null"/>; the caller disposes it.</returns>
    public static Activity? StartActivity(ActivitySource source, string operationName)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.HasListeners() ? source.StartActivity(operationName) : null;
    }

    /// <summary>Marks <paramref name="activity"/> as failed with the exception's message and its type in <see cref="ErrorTypeTag"/>.</summary>
    /// <param name="activity">The activity, or <see langword="null"/> (then nothing happens).</param>
    /// <param name="exception">The failure.</param>
    public static void RecordError(Activity? activity, Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.SetTag(ErrorTypeTag, exception.GetType().FullName);
    }
}
