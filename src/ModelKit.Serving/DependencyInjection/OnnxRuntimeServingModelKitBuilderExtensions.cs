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
    /// Registers <see cref="IInferenceSessionFactory"/> (a singleton <see cref="OnnxRuntimeSessionFactory"/>),
    /// <see cref="IInferenceSessionPool"/> (a singleton <see cref="OnnxRuntimeSessionPool"/>), <see cref="OnnxRuntimeOptions"/>
    /// and <see cref="InferenceSessionPoolOptions"/>, both validated at host start. Safe to call more than once: services
    /// are registered with <c>TryAdd*</c> and every <paramref name="configure"/> delegate is applied in call order. The
    /// factory and pool use <c>IModelRegistry</c> (from <c>AddModelRegistry()</c>), <c>IMeterFactory</c>,
    /// <c>ILoggerFactory</c>, <see cref="TimeProvider"/> and every registered <see cref="IInferenceObserver"/> when present.
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
        services.AddValidatedModelKitOptions<InferenceSessionPoolOptions, InferenceSessionPoolOptionsValidator>();

        services.TryAddSingleton<OnnxRuntimeSessionFactory>();
        services.TryAddSingleton<IInferenceSessionFactory>(static sp => sp.GetRequiredService<OnnxRuntimeSessionFactory>());
        services.TryAddSingleton<OnnxRuntimeSessionPool>();
        services.TryAddSingleton<IInferenceSessionPool>(static sp => sp.GetRequiredService<OnnxRuntimeSessionPool>());
        return builder;
    }

    /// <summary>
    /// Sets <see cref="InferenceSessionPoolOptions"/> (budget, hot-reload polling, warm-up, batching, per-model settings)
    /// and registers serving as <see cref="AddOnnxRuntimeServing"/> does. Safe to call more than once; delegates apply in call order.
    /// </summary>
    /// <param name="builder">The builder returned by <c>services.AddModelKit()</c>.</param>
    /// <param name="configure">The delegate that sets the options.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder ConfigureSessionPool(this IModelKitBuilder builder, Action<InferenceSessionPoolOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.AddOnnxRuntimeServing();
        builder.Services.AddValidatedModelKitOptions<InferenceSessionPoolOptions, InferenceSessionPoolOptionsValidator>(configure);
        return builder;
    }
}
