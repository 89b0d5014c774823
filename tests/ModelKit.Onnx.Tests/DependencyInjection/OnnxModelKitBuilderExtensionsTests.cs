using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Onnx.Tests.DependencyInjection;

public class OnnxModelKitBuilderExtensionsTests
{
    [Fact]
    public void AddOnnx_CalledTwice_RegistersOneInspector()
    {
        var services = new ServiceCollection();
        services.AddModelKit().AddOnnx().AddOnnx();

        using ServiceProvider provider = services.BuildServiceProvider(validateScopes: true);
        IModelFormatInspector inspector = Assert.Single(provider.GetServices<IModelFormatInspector>());

        Assert.IsType<OnnxModelInspector>(inspector);
        Assert.Equal("onnx", inspector.Format);
        Assert.Single(services, d => d.ServiceType == typeof(IModelFormatInspector));
    }

    [Fact]
    public void AddOnnx_ConfiguredLimit_IsApplied()
    {
        var services = new ServiceCollection();
        services.AddModelKit().AddOnnx(o => o.MaxModelBytes = 100);
        using ServiceProvider provider = services.BuildServiceProvider();
        IModelFormatInspector inspector = provider.GetRequiredService<IModelFormatInspector>();
        byte[] model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 8)
            .AddInitializer("0.weight", new float[64], 8, 8)
            .AddInitializer("0.bias", new float[8], 8)
            .AddNode("Gemm", ["x", "0.weight", "0.bias"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 8)
            .ToBytes();
        using var stream = new MemoryStream(model);

        var ex = Assert.Throws<InvalidModelException>(() => inspector.Inspect(stream));
        Assert.StartsWith($"The ONNX model is {model.Length} bytes, larger than the limit of 100 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddOnnx_InvalidLimit_FailsValidationQuotingTheValue()
    {
        var services = new ServiceCollection();
        services.AddModelKit().AddOnnx(o => o.MaxModelBytes = 0);
        using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<OnnxModelOptions>>().Value);
        Assert.Contains("OnnxModelOptions.MaxModelBytes is 0; it must be from 1 to 2147483647 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddOnnx_NullBuilder_Throws()
    {
        Assert.Throws<ArgumentNullException>(() => OnnxModelKitBuilderExtensions.AddOnnx(null!));
    }
}
