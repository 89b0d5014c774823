using Google.Protobuf;
using Microsoft.Extensions.Options;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving;

namespace ModelKit.Compression.Tests.TestSupport;

/// <summary>Small models built in code with seeded weights, the ONNX Runtime factory, and helpers to run and inspect models.</summary>
internal static class TestModels
{
    private static readonly Lazy<OnnxRuntimeSessionFactory> s_sessions = new(() =>
        new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = 1, InterOpThreadCount = 1 })));

    public static IInferenceSessionFactory Sessions => s_sessions.Value;

    public static OnnxModelCompressor Compressor() => new(Sessions);

    public static float[] Random(int count, int seed, float scale = 1f)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1) * scale;
        }

        return values;
    }

    /// <summary>The quick start's layout, smaller: input [N, 1, 8, 8] → Flatten → Gemm 64×hidden (transB) → Relu → Gemm hidden×10 → logits.</summary>
    public static byte[] Mlp(int hidden = 32, int seed = 1, int opset = 17) =>
        new OnnxGraphBuilder("mlp", opset)
            .AddInput("input", TensorElementType.Float, -1, 1, 8, 8)
            .AddInitializer("fc1.weight", Random(hidden * 64, seed, 0.3f), hidden, 64)
            .AddInitializer("fc1.bias", Random(hidden, seed + 1, 0.1f), hidden)
            .AddInitializer("fc2.weight", Random(10 * hidden, seed + 2, 0.3f), 10, hidden)
            .AddInitializer("fc2.bias", Random(10, seed + 3, 0.1f), 10)
            .AddNode("Flatten", ["input"], ["flat"], OnnxAttribute.Int("axis", 1))
            .AddNode("Gemm", ["flat", "fc1.weight", "fc1.bias"], ["h"], OnnxAttribute.Int("transB", 1))
            .AddNode("Relu", ["h"], ["a"])
            .AddNode("Gemm", ["a", "fc2.weight", "fc2.bias"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 10)
            .ToBytes();

    /// <summary>One MatMul: x [N, 16] × W [16, 8] → y.</summary>
    public static byte[] MatMul(int seed = 3) =>
        new OnnxGraphBuilder("matmul", 17)
            .AddInput("x", TensorElementType.Float, -1, 16)
            .AddInitializer("w", Random(16 * 8, seed), 16, 8)
            .AddNode("MatMul", ["x", "w"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 8)
            .ToBytes();

    /// <summary>A small CNN: [N, 3, 12, 12] → Conv 8 3×3 → Relu → MaxPool 2 → Conv 8 3×3 → Relu → Flatten → Gemm → 10.</summary>
    public static byte[] Cnn(int seed = 5, int opset = 17) =>
        new OnnxGraphBuilder("cnn", opset)
            .AddInput("input", TensorElementType.Float, -1, 3, 12, 12)
            .AddInitializer("conv1.weight", Random(8 * 3 * 9, seed, 0.4f), 8, 3, 3, 3)
            .AddInitializer("conv1.bias", Random(8, seed + 1, 0.1f), 8)
            .AddInitializer("conv2.weight", Random(8 * 8 * 9, seed + 2, 0.2f), 8, 8, 3, 3)
            .AddInitializer("conv2.bias", Random(8, seed + 3, 0.1f), 8)
            .AddInitializer("fc.weight", Random(10 * 8 * 4 * 4, seed + 4, 0.1f), 10, 8 * 4 * 4)
            .AddInitializer("fc.bias", Random(10, seed + 5, 0.1f), 10)
            .AddNode("Conv", ["input", "conv1.weight", "conv1.bias"], ["c1"], OnnxAttribute.Ints("kernel_shape", 3, 3), OnnxAttribute.Ints("pads", 1, 1, 1, 1))
            .AddNode("Relu", ["c1"], ["r1"])
            .AddNode("MaxPool", ["r1"], ["p1"], OnnxAttribute.Ints("kernel_shape", 2, 2), OnnxAttribute.Ints("strides", 2, 2))
            .AddNode("Conv", ["p1", "conv2.weight", "conv2.bias"], ["c2"], OnnxAttribute.Ints("kernel_shape", 3, 3))
            .AddNode("Relu", ["c2"], ["r2"])
            .AddNode("Flatten", ["r2"], ["flat"], OnnxAttribute.Int("axis", 1))
            .AddNode("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 10)
            .ToBytes();

    public static float[] Run(byte[] model, string inputName, float[] input, params long[] shape)
    {
        using IInferenceSession session = Sessions.Create(model);
        IReadOnlyList<NamedTensor> outputs = session.Run([new NamedTensor(inputName, Tensor.Create<float>(input, shape))]);
        return ((Tensor<float>)outputs[0].Value).Span.ToArray();
    }

    public static ModelProto Parse(byte[] model) => ModelProto.Parser.ParseFrom(model);

    public static List<string> OpTypes(byte[] model) => [.. Parse(model).Graph.Node.Select(n => n.OpType)];

    public static TensorProto Initializer(ModelProto model, string name) => model.Graph.Initializer.Single(t => t.Name == name);

    public static float[] Floats(TensorProto t) => Internal.OnnxGraph.ReadFloats(t);

    public static byte[] WithInitializer(byte[] model, string name, float[] values)
    {
        ModelProto m = Parse(model);
        TensorProto t = Initializer(m, name);
        Internal.OnnxGraph.WriteFloats(t, values, [.. t.Dims]);
        return m.ToByteArray();
    }

    public static int[] ArgMax(float[] scores, int classes)
    {
        var result = new int[scores.Length / classes];
        for (int r = 0; r < result.Length; r++)
        {
            int best = 0;
            for (int c = 1; c < classes; c++)
            {
                if (scores[(r * classes) + c] > scores[(r * classes) + best])
                {
                    best = c;
                }
            }

            result[r] = best;
        }

        return result;
    }

    public static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * (double)b[i];
            na += a[i] * (double)a[i];
            nb += b[i] * (double)b[i];
        }

        return dot / Math.Sqrt(na * nb);
    }

    public static float MaxAbsDifference(float[] a, float[] b)
    {
        float max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        }

        return max;
    }

    /// <summary>The repository root (the folder holding ModelKit.sln), found by walking up from the test binaries.</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "ModelKit.sln")))
            {
                return d.FullName;
            }
        }

        throw new InvalidOperationException($"No ModelKit.sln above {AppContext.BaseDirectory}.");
    }

    public static string ThirdPartyModel(string file)
    {
        string path = Path.Combine(RepositoryRoot(), "artifacts", "models", "thirdparty", file);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Third-party model {path} is missing; run 'bash eng/setup.sh' to fetch it.", path);
        }

        return path;
    }
}
