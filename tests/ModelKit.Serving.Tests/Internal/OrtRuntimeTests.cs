using ModelKit.Serving.Internal;
using ModelKit.Serving.Interop;

namespace ModelKit.Serving.Tests.Internal;

public sealed unsafe class OrtRuntimeTests
{
    [Fact]
    public void RawRun_ThroughTheCApi_ComputesTheSameOutputAsTheSession()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        OrtRuntime runtime = factory.GetRuntime();
        using OrtSessionHandle session = runtime.CreateSession(TestModels.GemmRelu(), new OnnxRuntimeOptions { IntraOpThreadCount = 1 }, out ExecutionProvider provider);
        float[] input = [-1f, 0.5f, 4f];
        long[] shape = [1, 3];

        fixed (float* data = input)
        fixed (byte* inputName = "input\0"u8, outputName = "output\0"u8)
        {
            using OrtValueHandle value = runtime.CreateTensor(data, (nuint)(input.Length * sizeof(float)), shape, TensorElementType.Float);
            OrtValue* inputValue = value.Pointer;
            OrtValue* outputValue = null;
            runtime.Library.ThrowIfFailed(runtime.Api->Run(session.Pointer, null, &inputName, &inputValue, 1, &outputName, 1, &outputValue), "Run");
            using var output = new OrtValueHandle(runtime.Api, runtime.Handles, outputValue);
            float* result = null;
            runtime.Library.ThrowIfFailed(runtime.Api->GetTensorMutableData(outputValue, (void**)&result), "GetTensorMutableData");

            Assert.Equal(ExecutionProvider.Cpu, provider);
            Assert.Equal(0.5f, result[0]);
            Assert.Equal(8.875f, result[1]);
        }
    }

    [Fact]
    public void Create_TwoRuntimes_ShareTheProcessEnvironmentAndReleaseIndependently()
    {
        using var first = TestModels.Factory();
        using var second = TestModels.Factory();
        using IInferenceSession a = first.Create(TestModels.GemmRelu());
        using IInferenceSession b = second.Create(TestModels.GemmRelu());
        first.Dispose();

        var output = (Tensor<float>)b.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)])[0].Value;

        Assert.Equal([0f, 5.25f], output.Span.ToArray());
        Assert.Equal([0f, 5.25f], ((Tensor<float>)a.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)])[0].Value).Span.ToArray());
    }
}
