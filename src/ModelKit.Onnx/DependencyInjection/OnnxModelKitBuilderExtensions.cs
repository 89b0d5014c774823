using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Onnx;
using ModelKit.Onnx.Internal;
using ModelKit.Registry;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers ModelKit's ONNX services.</summary>
public static class OnnxModelKitBuilderExtensions
{
    /// <summary>
    /// Registers <see cref="OnnxModelInspector"/> as the <see cref="IModelFormatInspector"/> for the <c>onnx</c> format
    /// (a singleton, added with <c>TryAddEnumerable</c>), and <see cref="OnnxModelOptions"/> validated on start.
    /// Safe to call more than once: the inspector is registered once and every <paramref name="configure"/> is applied in call order.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddModelKit()</c>.</param>
    /// <param name="configure">Optional delegate that sets <see cref="OnnxModelOptions"/>, for example a lower <see cref="OnnxModelOptions.MaxModelBytes"/>.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddOnnx(this IModelKitBuilder builder, Action<OnnxModelOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddValidatedModelKitOptions<OnnxModelOptions, OnnxModelOptionsValidator>(configure);

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IModelFormatInspector, OnnxModelInspector>(
            sp => new OnnxModelInspector(sp.GetRequiredService<IOptions<OnnxModelOptions>>())));
        return builder;
    }
}
