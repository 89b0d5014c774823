using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>How ModelKit's feature packages register their options, so that every <c>Add*()</c> is safe to call twice.</summary>
/// <remarks>
/// Shared source (src/Shared), compiled as an internal class into each ModelKit library that registers options: an
/// implementation helper, not public API.
/// </remarks>
internal static class ModelKitOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TOptions"/> with DataAnnotations validation, the cross-field
    /// <typeparamref name="TValidator"/> and validation on start, the first time it is called for that pair; every call
    /// then adds <paramref name="configure"/> (when given), so configurations apply in call order.
    /// </summary>
    /// <typeparam name="TOptions">The options class.</typeparam>
    /// <typeparam name="TValidator">The validator whose messages quote the offending values.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Optional delegate that sets the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is <see langword="null"/>.</exception>
    public static IServiceCollection AddValidatedModelKitOptions<TOptions, TValidator>(this IServiceCollection services, Action<TOptions>? configure = null)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(services);
        bool registered = false;
        foreach (ServiceDescriptor d in services)
        {
            if (d.ServiceType == typeof(IValidateOptions<TOptions>) && d.ImplementationType == typeof(TValidator))
            {
                registered = true;
                break;
            }
        }

        if (!registered)
        {
            // ValidateOnStart and ValidateDataAnnotations add a registration on every call: add them once.
            services.AddOptions<TOptions>().ValidateDataAnnotations().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        }

        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services;
    }
}
