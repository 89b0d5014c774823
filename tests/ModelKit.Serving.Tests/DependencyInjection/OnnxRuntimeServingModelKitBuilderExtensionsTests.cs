using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelKit.Serving.Tests.DependencyInjection;

public sealed class OnnxRuntimeServingModelKitBuilderExtensionsTests
{
    [Fact]
    public void AddOnnxRuntimeServing_CalledTwice_RegistersOnceAndAppliesBothDelegates()
    {
        var services = new ServiceCollection();
        IModelKitBuilder builder = services.AddModelKit();
        builder.AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 2);
        int count = services.Count;
        builder.AddOnnxRuntimeServing(o => o.InterOpThreadCount = 3);

        Assert.Equal(1, services.Count(d => d.ServiceType == typeof(IInferenceSessionFactory)));
        Assert.Equal(1, services.Count(d => d.ServiceType == typeof(OnnxRuntimeSessionFactory)));
        Assert.Equal(1, services.Count(d => d.ServiceType == typeof(IValidateOptions<OnnxRuntimeOptions>) && d.ImplementationType == typeof(ModelKit.Serving.Internal.OnnxRuntimeOptionsValidator)));
        Assert.Equal(count + 1, services.Count); // only the second configure delegate is new
        using ServiceProvider provider = services.BuildServiceProvider();
        OnnxRuntimeOptions options = provider.GetRequiredService<IOptions<OnnxRuntimeOptions>>().Value;
        Assert.Equal(2, options.IntraOpThreadCount);
        Assert.Equal(3, options.InterOpThreadCount);
        Assert.Same(provider.GetRequiredService<OnnxRuntimeSessionFactory>(), provider.GetRequiredService<IInferenceSessionFactory>());
    }

    [Fact]
    public void AddOnnxRuntimeServing_ResolvedFactory_LoadsAndRunsAModel()
    {
        var services = new ServiceCollection();
        services.AddModelKit().AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1);
        using ServiceProvider provider = services.BuildServiceProvider();

        using IInferenceSession session = provider.GetRequiredService<IInferenceSessionFactory>().Create(TestModels.GemmRelu());

        var output = (Tensor<float>)session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)])[0].Value;
        Assert.Equal([0f, 5.25f], output.Span.ToArray());
    }

    [Fact]
    public void AddOnnxRuntimeServing_InvalidOptions_FailStartupValidationQuotingValue()
    {
        var services = new ServiceCollection();
        services.AddModelKit().AddOnnxRuntimeServing(o => o.InterOpThreadCount = -5);
        using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("OnnxRuntimeOptions.InterOpThreadCount is -5", ex.Message, StringComparison.Ordinal);
    }
}
