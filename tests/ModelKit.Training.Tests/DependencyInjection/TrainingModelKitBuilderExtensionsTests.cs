using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Training.Tests.DependencyInjection;

public sealed class TrainingModelKitBuilderExtensionsTests
{
    [Fact]
    public void AddTraining_Twice_RegistersOnce_AndAppliesConfigureInOrder()
    {
        var services = new ServiceCollection();
        IModelKitBuilder builder = services.AddModelKit();

        builder.AddTraining(o => o.ThreadCount = 1);
        int validators = services.Count(d => d.ServiceType == typeof(IValidateOptions<TorchTrainingOptions>));
        int configures = services.Count(d => d.ServiceType == typeof(IConfigureOptions<TorchTrainingOptions>));
        builder.AddTraining(o => o.ThreadCount = 3);

        Assert.Equal(2, validators); // data annotations + TorchTrainingOptionsValidator
        Assert.Equal(validators, services.Count(d => d.ServiceType == typeof(IValidateOptions<TorchTrainingOptions>)));
        Assert.Equal(configures + 1, services.Count(d => d.ServiceType == typeof(IConfigureOptions<TorchTrainingOptions>))); // the second delegate only
        Assert.Single(services, d => d.ServiceType == typeof(Trainer));
        using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Assert.Same(provider.GetRequiredService<Trainer>(), provider.GetRequiredService<Trainer>());
        Assert.Equal(3, provider.GetRequiredService<IOptions<TorchTrainingOptions>>().Value.ThreadCount);
        Assert.Contains(provider.GetServices<IModelFormatInspector>(), i => i.Format == "onnx");
    }

    [Fact]
    public void AddTraining_InvalidOptions_FailValidationWithQuotedValue_Once()
    {
        var services = new ServiceCollection();
        services.AddModelKit().AddTraining(o => o.ThreadCount = -2).AddTraining();
        using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<TorchTrainingOptions>>().Value);

        Assert.Contains(ex.Failures, f => f.Contains("TorchTrainingOptions.ThreadCount is -2", StringComparison.Ordinal));
        Assert.Equal(ex.Failures.Distinct().Count(), ex.Failures.Count());
    }

    [Fact]
    public void AddTraining_NullBuilder_Throws() =>
        Assert.Throws<ArgumentNullException>(() => TrainingModelKitBuilderExtensions.AddTraining(null!));
}
