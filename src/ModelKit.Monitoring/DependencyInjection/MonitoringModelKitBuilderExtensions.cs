using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Monitoring;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Capture;
using ModelKit.Monitoring.Internal;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;
using ModelKit.Serving;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ModelKit.Monitoring.</summary>
public static class MonitoringModelKitBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="ModelMonitor"/> (a singleton) as an <see cref="IInferenceObserver"/>, so the session pool feeds
    /// it every answered request; <see cref="MonitoringOptions"/>, validated at host start (rules naming unknown metrics,
    /// windows of size zero, bad URLs fail with messages that quote the values); <see cref="IReferenceProfileStore"/>
    /// (<see cref="RegistryReferenceProfileStore"/>: the profile is an attachment of the version in the registry, when an
    /// <c>IModelRegistry</c> is registered; otherwise <see cref="FileReferenceProfileStore"/> under the data directory); <see cref="LoggerAlertSink"/>; and the
    /// Alertmanager, webhook and JSON Lines capture sinks when the options configure them. A host adds its own sinks by
    /// registering more <see cref="IAlertSink"/> services, or its own capture by registering an <see cref="ICaptureSink"/>.
    /// Safe to call more than once; every <paramref name="configure"/> delegate is applied in call order.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddModelKit()</c>.</param>
    /// <param name="configure">Optional delegate that sets <see cref="MonitoringOptions"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddMonitoring(this IModelKitBuilder builder, Action<MonitoringOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddValidatedModelKitOptions<MonitoringOptions, MonitoringOptionsValidator>(configure);
        if (services.Any(d => d.ServiceType == typeof(ModelMonitor)))
        {
            return builder;
        }

        services.TryAddSingleton<IReferenceProfileStore>(static sp => sp.GetService<IModelRegistry>() is IModelRegistry registry
            ? new RegistryReferenceProfileStore(registry, sp.GetRequiredService<IOptions<MonitoringOptions>>())
            : new FileReferenceProfileStore(sp.GetRequiredService<IOptions<ModelKitOptions>>(), sp.GetRequiredService<IOptions<MonitoringOptions>>()));
        services.TryAddSingleton<MonitoringSinks>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IAlertSink, LoggerAlertSink>());
        services.TryAddSingleton(static sp =>
        {
            MonitoringSinks configured = sp.GetRequiredService<MonitoringSinks>();
            return new ModelMonitor(
                sp.GetRequiredService<IOptions<MonitoringOptions>>(),
                sp.GetRequiredService<IReferenceProfileStore>(),
                [.. sp.GetServices<IAlertSink>(), .. configured.AlertSinks],
                sp.GetService<ICaptureSink>() ?? configured.Capture,
                sp.GetService<TimeProvider>(),
                sp.GetService<ILoggerFactory>(),
                sp.GetService<System.Diagnostics.Metrics.IMeterFactory>());
        });
        services.AddSingleton<IInferenceObserver>(static sp => sp.GetRequiredService<ModelMonitor>());
        return builder;
    }
}
