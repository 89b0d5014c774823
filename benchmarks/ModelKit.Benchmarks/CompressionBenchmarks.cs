using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Compression;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving;
using ModelKit.Training;
using ModelKit.Training.Data;

namespace ModelKit.Benchmarks;

/// <summary>
/// fp32 against dynamic int8, static QDQ int8 and fp16 of (a) the quick start's MLP 784-256-10 trained on Fashion-MNIST by
/// ModelKit's trainer (8 epochs, Adam 1e-3, batch 128, seed 42, the quick start's settings; cached in artifacts/bench/) and (b)
/// PaddleOCR's text-direction classifier (a MobileNetV3 CNN, third-party), one <c>IInferenceSession.Run</c> per operation
/// through ModelKit.Serving with one intra-op thread. Sizes and accuracies (MLP: Fashion-MNIST test accuracy; CNN: top-1
/// agreement with fp32 on generated text lines) and PyTorch's <c>quantize_dynamic</c> on the same weights are measured in
/// <see cref="GlobalSetup"/> and written to <c>BenchmarkDotNet.Artifacts/compression-summary.md</c>.
/// </summary>
[Config(typeof(CompressionBenchmarkConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory, BenchmarkLogicalGroupRule.ByParams)]
[CategoriesColumn]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class CompressionBenchmarks
{
    private static CompressionModels? s_models;
    private OnnxRuntimeSessionFactory _factory = null!;
    private readonly Dictionary<string, IInferenceSession> _sessions = [];
    private NamedTensor[] _mlpInput = null!;
    private NamedTensor[] _cnnInput = null!;

    /// <summary>Gets or sets the number of images per inference.</summary>
    [Params(1, 64)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void GlobalSetup()
    {
        s_models ??= CompressionModels.Build();
        _factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = 1, InterOpThreadCount = 1 }));
        foreach ((string name, byte[] model) in s_models.All)
        {
            _sessions[name] = _factory.Create(model);
        }

        _mlpInput = [new NamedTensor("input", Tensor.Create(s_models.TestImages.Slice(0, BatchSize * 784), BatchSize, 1, 28, 28))];
        float[] lines = CompressionModels.TextLines(BatchSize, 48, 192, seed: 5);
        _cnnInput = [new NamedTensor("x", Tensor.Create<float>(lines, BatchSize, 3, 48, 192))];
    }

    [GlobalCleanup]
    public void GlobalCleanup()
    {
        foreach (IInferenceSession session in _sessions.Values)
        {
            session.Dispose();
        }

        _sessions.Clear();
        _factory.Dispose();
    }

    [BenchmarkCategory("MLP"), Benchmark(Baseline = true, Description = "MLP fp32")]
    public object MlpFp32() => _sessions["mlp fp32"].Run(_mlpInput);

    [BenchmarkCategory("MLP"), Benchmark(Description = "MLP dynamic int8")]
    public object MlpDynamicInt8() => _sessions["mlp dynamic int8"].Run(_mlpInput);

    [BenchmarkCategory("MLP"), Benchmark(Description = "MLP static QDQ int8")]
    public object MlpStaticInt8() => _sessions["mlp static QDQ int8"].Run(_mlpInput);

    [BenchmarkCategory("MLP"), Benchmark(Description = "MLP fp16")]
    public object MlpFloat16() => _sessions["mlp fp16"].Run(_mlpInput);

    [BenchmarkCategory("CNN"), Benchmark(Baseline = true, Description = "PaddleOCR cls fp32")]
    public object CnnFp32() => _sessions["cls fp32"].Run(_cnnInput);

    [BenchmarkCategory("CNN"), Benchmark(Description = "PaddleOCR cls static QDQ int8")]
    public object CnnStaticInt8() => _sessions["cls static QDQ int8"].Run(_cnnInput);

    [BenchmarkCategory("CNN"), Benchmark(Description = "PaddleOCR cls static QDQ int8, Conv only")]
    public object CnnStaticInt8ConvOnly() => _sessions["cls static QDQ int8, Conv only"].Run(_cnnInput);

    [BenchmarkCategory("CNN"), Benchmark(Description = "PaddleOCR cls fp16")]
    public object CnnFloat16() => _sessions["cls fp16"].Run(_cnnInput);
}

internal sealed class CompressionBenchmarkConfig : ManualConfig
{
    public CompressionBenchmarkConfig() =>
        AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(3).WithIterationCount(15).WithId("InProcess"));
}

/// <summary>The models compared, built once per process; sizes, accuracies and the PyTorch comparison go to the summary file.</summary>
internal sealed class CompressionModels
{
    private const string ClsFile = "ch_ppocr_mobile_v2.0_cls_infer.onnx";

    public required List<(string Name, byte[] Model)> All { get; init; }

    public required ReadOnlyMemory<float> TestImages { get; init; }

    public static CompressionModels Build()
    {
        string root = RepositoryRoot();
        FashionMnistSplits data = FashionMnist.Load();
        byte[] mlp = TrainedMlp(root, data);
        byte[] cls = File.ReadAllBytes(Path.Combine(root, "artifacts", "models", "thirdparty", ClsFile));
        using var compressor = new OnnxModelCompressor(new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions())));
        CalibrationData mlpCalibration = CalibrationData.FromSamples("input", data.Train.Features[..(1000 * 784)], 1000, [1, 28, 28], 100);
        CalibrationData clsCalibration = CalibrationData.FromSamples("x", TextLines(32, 48, 192, seed: 1), 32, [3, 48, 192], 8);
        var staticStep = new StaticQuantizationStep { Method = CalibrationMethod.Percentile, Percentile = 99.99 };
        var all = new List<(string, byte[])>
        {
            ("mlp fp32", mlp),
            ("mlp dynamic int8", Compress(compressor, mlp, new DynamicQuantizationStep(), null)),
            ("mlp static QDQ int8", Compress(compressor, mlp, new StaticQuantizationStep(), mlpCalibration)),
            ("mlp fp16", Compress(compressor, mlp, new Float16Step(), null)),
            ("cls fp32", cls),
            ("cls static QDQ int8", Compress(compressor, cls, staticStep, clsCalibration)),
            ("cls static QDQ int8, Conv only", Compress(compressor, cls, staticStep with { OperatorTypes = ["Conv"] }, clsCalibration)),
            ("cls fp16", Compress(compressor, cls, new Float16Step(), null)),
        };
        var models = new CompressionModels { All = all, TestImages = data.Test.Features };
        models.WriteSummary(root, data.Test);
        return models;
    }

    private static byte[] Compress(OnnxModelCompressor compressor, byte[] model, CompressionStep step, CalibrationData? calibration) =>
        compressor.CompressAsync(model, new CompressionRecipe([step]), calibration).GetAwaiter().GetResult().Model;

    private static byte[] TrainedMlp(string root, FashionMnistSplits data)
    {
        string path = Path.Combine(root, "artifacts", "bench", "quickstart-mlp.onnx");
        if (File.Exists(path))
        {
            return File.ReadAllBytes(path);
        }

        var services = new ServiceCollection();
        services.AddModelKit().AddTraining();
        using ServiceProvider provider = services.BuildServiceProvider();
        var trainer = provider.GetRequiredService<Trainer>();
        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];
        using SequentialNetwork network = trainer.CreateNetwork(layers, new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]), 42);
        LabeledDataset train = data.Train.Slice(0, 55_000), validation = data.Train.Slice(55_000, 5_000);
        trainer.TrainAsync(network, train, validation, new TrainingRunOptions { Epochs = 8, BatchSize = 128, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam, Seed = 42 })
            .GetAwaiter().GetResult();
        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx, opset: 17);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, onnx.ToArray());
        return onnx.ToArray();
    }

    private void WriteSummary(string root, LabeledDataset test)
    {
        using var factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions()));
        var text = new StringBuilder();
        text.AppendLine("| model | size (bytes) | size ratio | metric | Δ vs fp32 |").AppendLine("|---|--:|--:|--:|--:|");
        double mlpBase = 0;
        long mlpSize = 0, clsSize = 0;
        int[]? clsBase = null;
        float[] lines = TextLines(64, 48, 192, seed: 9);
        foreach ((string name, byte[] model) in All)
        {
            using IInferenceSession session = factory.Create(model);
            if (name.StartsWith("mlp", StringComparison.Ordinal))
            {
                double accuracy = Accuracy(session, test);
                if (name == "mlp fp32")
                {
                    (mlpBase, mlpSize) = (accuracy, model.Length);
                }

                text.AppendLine(Invariant($"| {name} | {model.Length:N0} | {(double)model.Length / mlpSize:F3}x | test accuracy {accuracy:F4} | {(accuracy - mlpBase) * 100:+0.00;-0.00} pp |"));
            }
            else
            {
                var output = (Tensor<float>)session.Run([new NamedTensor("x", Tensor.Create<float>(lines, 64, 3, 48, 192))])[0].Value;
                int[] top = ArgMax(output.Span, 2);
                if (name == "cls fp32")
                {
                    (clsBase, clsSize) = (top, model.Length);
                }

                double agreement = top.Zip(clsBase!).Count(p => p.First == p.Second) / 64.0;
                text.AppendLine(Invariant($"| {name} | {model.Length:N0} | {(double)model.Length / clsSize:F3}x | top-1 agreement with fp32 {agreement:P1} (64 generated lines) | |"));
            }
        }

        text.AppendLine().AppendLine(PyTorch(root, test));
        string path = Path.Combine(Directory.GetCurrentDirectory(), "BenchmarkDotNet.Artifacts", "compression-summary.md");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text.ToString());
        Console.WriteLine(text.ToString());
    }

    // PyTorch's quantize_dynamic on the same weights (benchmarks/ModelKit.Benchmarks/pytorch_quantize_dynamic.py), when Debian's python3-torch is installed.
    private string PyTorch(string root, LabeledDataset test)
    {
        const string Python = "/usr/bin/python3";
        string script = Path.Combine(root, "benchmarks", "ModelKit.Benchmarks", "pytorch_quantize_dynamic.py");
        if (!File.Exists(Python))
        {
            return "PyTorch: /usr/bin/python3 not found; comparison skipped.";
        }

        string dir = Path.Combine(root, "artifacts", "bench", "pytorch");
        Directory.CreateDirectory(dir);
        ModelProto mlp = ModelProto.Parser.ParseFrom(All[0].Model);
        var gemms = mlp.Graph.Node.Where(n => n.OpType == "Gemm").ToList();
        WriteFloats(Path.Combine(dir, "fc1_w.bin"), Initializer(mlp, gemms[0].Input[1]));
        WriteFloats(Path.Combine(dir, "fc1_b.bin"), Initializer(mlp, gemms[0].Input[2]));
        WriteFloats(Path.Combine(dir, "fc2_w.bin"), Initializer(mlp, gemms[1].Input[1]));
        WriteFloats(Path.Combine(dir, "fc2_b.bin"), Initializer(mlp, gemms[1].Input[2]));
        WriteFloats(Path.Combine(dir, "test_x.bin"), test.Features.ToArray());
        File.WriteAllBytes(Path.Combine(dir, "test_y.bin"), System.Runtime.InteropServices.MemoryMarshal.AsBytes(test.Labels.Span).ToArray());
        var start = new ProcessStartInfo(Python, [script, dir]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            return $"PyTorch comparison failed (exit {process.ExitCode}): {stderr.Trim()}";
        }

        using JsonDocument json = JsonDocument.Parse(stdout);
        JsonElement fp32 = json.RootElement.GetProperty("fp32"), int8 = json.RootElement.GetProperty("int8");
        double Get(JsonElement e, string p) => e.GetProperty(p).GetDouble();
        return string.Create(CultureInfo.InvariantCulture,
            $"PyTorch {json.RootElement.GetProperty("torch").GetString()} quantize_dynamic (engine {json.RootElement.GetProperty("engine").GetString()}, 1 thread), same weights: " +
            $"size {Get(fp32, "size_bytes"):N0} → {Get(int8, "size_bytes"):N0} bytes ({Get(int8, "size_bytes") / Get(fp32, "size_bytes"):F3}x), " +
            $"accuracy {Get(fp32, "accuracy"):F4} → {Get(int8, "accuracy"):F4}, " +
            $"median latency batch 1 {Get(fp32, "latency_batch1_s") * 1e6:F1} → {Get(int8, "latency_batch1_s") * 1e6:F1} µs ({Get(fp32, "latency_batch1_s") / Get(int8, "latency_batch1_s"):F2}x), " +
            $"batch 64 {Get(fp32, "latency_batch64_s") * 1e6:F1} → {Get(int8, "latency_batch64_s") * 1e6:F1} µs ({Get(fp32, "latency_batch64_s") / Get(int8, "latency_batch64_s"):F2}x).");
    }

    private static float[] Initializer(ModelProto model, string name)
    {
        TensorProto t = model.Graph.Initializer.Single(i => i.Name == name);
        return t.RawData.Length > 0 ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray() : [.. t.FloatData];
    }

    private static void WriteFloats(string path, float[] values) =>
        File.WriteAllBytes(path, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static double Accuracy(IInferenceSession session, LabeledDataset test)
    {
        int correct = 0;
        for (int start = 0; start < test.Count; start += 1000)
        {
            var output = (Tensor<float>)session.Run([new NamedTensor("input", Tensor.Create(test.Features.Slice(start * 784, 1000 * 784), 1000, 1, 28, 28))])[0].Value;
            int[] top = ArgMax(output.Span, 10);
            ReadOnlySpan<long> labels = test.Labels.Span.Slice(start, 1000);
            for (int i = 0; i < top.Length; i++)
            {
                correct += top[i] == labels[i] ? 1 : 0;
            }
        }

        return correct / (double)test.Count;
    }

    private static int[] ArgMax(ReadOnlySpan<float> scores, int classes)
    {
        var result = new int[scores.Length / classes];
        for (int r = 0; r < result.Length; r++)
        {
            ReadOnlySpan<float> row = scores.Slice(r * classes, classes);
            int best = 0;
            for (int c = 1; c < classes; c++)
            {
                best = row[c] > row[best] ? c : best;
            }

            result[r] = best;
        }

        return result;
    }

    /// <summary>White text lines with dark strokes, normalised to [-1, 1] as PaddleOCR does (the same generator as the tests').</summary>
    public static float[] TextLines(int count, int height, int width, int seed)
    {
        var random = new Random(seed);
        float[] images = new float[count * 3 * height * width];
        Array.Fill(images, 1f);
        for (int n = 0; n < count; n++)
        {
            int x = random.Next(2, 12);
            while (x < width - 8)
            {
                int w = random.Next(2, 7), top = random.Next(6, 16), bottom = height - random.Next(6, 16);
                float ink = (float)(-1 + (random.NextDouble() * 0.6));
                for (int c = 0; c < 3; c++)
                {
                    for (int y = top; y < bottom; y++)
                    {
                        for (int dx = 0; dx < w; dx++)
                        {
                            images[(((((n * 3) + c) * height) + y) * width) + x + dx] = ink;
                        }
                    }
                }

                x += w + random.Next(1, 9);
            }
        }

        return images;
    }

    private static string RepositoryRoot()
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

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
