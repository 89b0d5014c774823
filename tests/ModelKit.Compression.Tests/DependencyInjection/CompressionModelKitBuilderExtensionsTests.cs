using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelKit.Compression.Tests.DependencyInjection;

public class CompressionModelKitBuilderExtensionsTests
{
    [Fact]
    public void AddCompression_CalledTwice_RegistersOneCompressorAndOneGateAndAppliesBothConfigurations()
    {
        IServiceCollection services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = Path.GetTempPath()).AddModelRegistry().AddOnnxRuntimeServing()
            .AddCompression(o => o.LatencyIterations = 50).AddCompression(o => o.WarmupIterations = 3);

        Assert.Single(services, d => d.ServiceType == typeof(IModelCompressor));
        Assert.Single(services, d => d.ServiceType == typeof(ICompressionGate));
        using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        Assert.IsType<OnnxModelCompressor>(provider.GetRequiredService<IModelCompressor>());
        Assert.IsType<CompressionGate>(provider.GetRequiredService<ICompressionGate>());
        CompressionGateOptions options = provider.GetRequiredService<IOptions<CompressionGateOptions>>().Value;
        Assert.Equal(50, options.LatencyIterations);
        Assert.Equal(3, options.WarmupIterations);
    }

    [Fact]
    public void AddCompression_InvalidIterations_FailsValidationQuotingTheValue()
    {
        IServiceCollection services = new ServiceCollection();
        services.AddModelKit().AddCompression(o => o.LatencyIterations = 1);
        using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<CompressionGateOptions>>().Value);
        Assert.Contains("LatencyIterations", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddCompression_WithoutServing_CompressorStillRunsStepsThatNeedNoEngine()
    {
        IServiceCollection services = new ServiceCollection();
        services.AddModelKit().AddCompression();
        using ServiceProvider provider = services.BuildServiceProvider();

        CompressionResult result = await provider.GetRequiredService<IModelCompressor>()
            .CompressAsync(TestSupport.TestModels.Mlp(), new CompressionRecipe([new DynamicQuantizationStep()]));
        Assert.True(result.Report.SizeRatio < 0.5);
    }
}
