using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Compression;
using ModelKit.Registry;
using ModelKit.Serving;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ModelKit's compression services.</summary>
public static class CompressionModelKitBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="OnnxModelCompressor"/> as the <see cref="IModelCompressor"/> and <see cref="CompressionGate"/> as the
    /// <see cref="ICompressionGate"/> (singletons, added with <c>TryAdd</c>), and <see cref="CompressionGateOptions"/> validated on
    /// start. The compressor uses an <see cref="IInferenceSessionFactory"/> when one is registered (<c>AddOnnxRuntimeServing()</c>);
    /// the gate needs it and an <see cref="IModelRegistry"/> (<c>AddModelRegistry()</c>). Safe to call more than once: every
    /// <paramref name="configure"/> is applied in call order.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddModelKit()</c>.</param>
    /// <param name="configure">Optional delegate that sets <see cref="CompressionGateOptions"/>.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddCompression(this IModelKitBuilder builder, Action<CompressionGateOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddValidatedModelKitOptions<CompressionGateOptions, CompressionGateOptionsValidator>(configure);
        services.TryAddSingleton<IModelCompressor>(sp => new OnnxModelCompressor(
            sp.GetService<IInferenceSessionFactory>(),
            sp.GetService<ILogger<OnnxModelCompressor>>(),
            sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<ICompressionGate>(sp => new CompressionGate(
            sp.GetRequiredService<IModelRegistry>(),
            sp.GetRequiredService<IInferenceSessionFactory>(),
            sp.GetRequiredService<IModelCompressor>(),
            sp.GetRequiredService<IOptions<CompressionGateOptions>>(),
            sp.GetService<ILogger<CompressionGate>>(),
            sp.GetService<IMeterFactory>()));
        return builder;
    }
}
