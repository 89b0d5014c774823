using Microsoft.Extensions.Options;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving.Tests;

public sealed class OnnxRuntimeOptionsTests
{
    [Fact]
    public void Defaults_AreDocumentedValues()
    {
        var options = new OnnxRuntimeOptions();

        Assert.True(options.EnableMemoryArena);
        Assert.Null(options.ConfigureSessionOptions);
        Assert.Equal(0, options.IntraOpThreadCount);
        Assert.Equal(0, options.InterOpThreadCount);
        Assert.Equal(GraphOptimizationLevel.All, options.GraphOptimizationLevel);
        Assert.Equal(ExecutionProvider.Cpu, options.ExecutionProvider);
        Assert.Equal(0, options.CudaDeviceId);
        Assert.Equal(0, options.CudaMemoryLimitBytes);
        Assert.False(options.AllowCpuFallback);
        Assert.True(new OnnxRuntimeOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public void Validate_InvalidValues_FailsQuotingEachValue()
    {
        var options = new OnnxRuntimeOptions
        {
            IntraOpThreadCount = 2000,
            InterOpThreadCount = -1,
            GraphOptimizationLevel = (GraphOptimizationLevel)42,
            CudaDeviceId = 2,
        };

        ValidateOptionsResult result = new OnnxRuntimeOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Equal(
        [
            "OnnxRuntimeOptions.IntraOpThreadCount is 2000; it must be between 0 and 1024 (0 lets ONNX Runtime choose).",
            "OnnxRuntimeOptions.InterOpThreadCount is -1; it must be between 0 and 1024 (0 lets ONNX Runtime choose).",
            "OnnxRuntimeOptions.GraphOptimizationLevel is 42, which is not a GraphOptimizationLevel; use Disabled, Basic, Extended or All.",
            "OnnxRuntimeOptions.CudaDeviceId is 2 but ExecutionProvider is Cpu, so the device would be ignored; set ExecutionProvider = Cuda or leave CudaDeviceId at 0.",
        ],
        result.Failures);
    }

    [Fact]
    public void Validate_CudaWithDevice_Succeeds()
    {
        var options = new OnnxRuntimeOptions { ExecutionProvider = ExecutionProvider.Cuda, CudaDeviceId = 1, CudaMemoryLimitBytes = 1L << 30 };

        Assert.True(new OnnxRuntimeOptionsValidator().Validate(null, options).Succeeded);
    }
}
