using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Serving;
using ModelKit.Serving.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ONNX Runtime serving.</summary>
public static class OnnxRuntimeServingModelKitBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="IInferenceSessionFactory"/> (a singleton <see cref="OnnxRuntimeSessionFactory"/>) and
    /// <see cref="OnnxRuntimeOptions"/>, validated at host start. Safe to call more than once: services are registered with
    /// <c>TryAdd*</c> and every <paramref name="configure"/> delegate is applied in call order. The factory uses
    /// <c>IModelRegistry</c> (from <c>AddModelRegistry()</c>), <c>IMeterFactory</c> and <c>ILoggerFactory</c> when they are registered.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddModelKit()</c>.</param>
    /// <param name="configure">Optional delegate that sets <see cref="OnnxRuntimeOptions"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddOnnxRuntimeServing(this IModelKitBuilder builder, Action<OnnxRuntimeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddValidatedModelKitOptions<OnnxRuntimeOptions, OnnxRuntimeOptionsValidator>(configure);

        services.TryAddSingleton<OnnxRuntimeSessionFactory>();
        services.TryAddSingleton<IInferenceSessionFactory>(static sp => sp.GetRequiredService<OnnxRuntimeSessionFactory>());
        return builder;
    }
}
