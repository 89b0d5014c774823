using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Training;
using ModelKit.Training.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers libtorch training.</summary>
public static class TrainingModelKitBuilderExtensions
{
    /// <summary>
    /// Adds <see cref="Trainer"/> as a singleton (also registered as <see cref="ITrainer"/>), <see cref="TorchTrainingOptions"/> (validated at start), and ModelKit.Onnx's
    /// services (<c>AddOnnx()</c>, used by <see cref="SequentialNetwork.ExportOnnx"/>). Safe to call more than once: services
    /// are registered with <c>TryAdd*</c> and every <paramref name="configure"/> delegate is applied in call order.
    /// </summary>
    /// <remarks>
    /// Nothing native is loaded here: <c>libmodelkit_torch.so</c> (see <see cref="TorchTrainingOptions.LibraryPath"/>) is
    /// loaded when the first network is created. The trainer uses an <c>ILogger</c> and an <c>IMeterFactory</c> when they are registered.
    /// </remarks>
    /// <param name="builder">The builder returned by <c>AddModelKit()</c>.</param>
    /// <param name="configure">Optional delegate that sets <see cref="TorchTrainingOptions"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddTraining(this IModelKitBuilder builder, Action<TorchTrainingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddOnnx();
        IServiceCollection services = builder.Services;
        services.AddValidatedModelKitOptions<TorchTrainingOptions, TorchTrainingOptionsValidator>(configure);

        services.TryAddSingleton<Trainer>();
        services.TryAddSingleton<ITrainer>(static provider => provider.GetRequiredService<Trainer>());
        return builder;
    }
}
