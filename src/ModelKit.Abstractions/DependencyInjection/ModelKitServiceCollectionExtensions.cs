using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ModelKit's core services.</summary>
public static class ModelKitServiceCollectionExtensions
{
    /// <summary>
    /// Adds ModelKit's core services and options and returns a builder that feature packages extend.
    /// Safe to call more than once: services are registered with <c>TryAdd*</c> and every
    /// <paramref name="configure"/> delegate is applied in call order.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Optional delegate that sets <see cref="ModelKitOptions"/>.</param>
    /// <returns>A builder carrying <paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddModelKit(this IServiceCollection services, Action<ModelKitOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddValidatedModelKitOptions<ModelKitOptions, ModelKitOptionsValidator>(configure);

        services.TryAddSingleton(TimeProvider.System);
        return new ModelKitBuilder(services);
    }
}
