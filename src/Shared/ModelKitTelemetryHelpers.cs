using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelKit.Diagnostics;

/// <summary>
/// The telemetry helpers every ModelKit library shares. Shared source (src/Shared), compiled as an internal class into each
/// library: an implementation helper, not public API (the names in <see cref="ModelKitTelemetry"/> are).
/// </summary>
internal static class ModelKitTelemetryHelpers
{
    /// <summary>Creates the meter <paramref name="name"/> from <paramref name="meterFactory"/>, or a free-standing one when there is none.</summary>
    /// <param name="meterFactory">The host's factory (it owns and disposes the meters it creates), or <see langword="null"/>.</param>
    /// <param name="name">The meter name, one of the <c>ModelKitTelemetry.*Name</c> constants.</param>
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

    /// <summary>Marks <paramref name="activity"/> as failed with the exception's message and its type in <see cref="ModelKitTelemetry.ErrorTypeTag"/>.</summary>
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
        activity.SetTag(ModelKitTelemetry.ErrorTypeTag, exception.GetType().FullName);
    }
}
