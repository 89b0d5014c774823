using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Training;

namespace ModelKit.Benchmarks;

/// <summary>The quick start's MLP and a real registry + pool around it, shared by the serving suites.</summary>
internal static class BenchmarkModels
{
    /// <summary>
    /// The quick start's MLP (Flatten → Gemm 784×256 → Relu → Gemm 256×10), exported by <see cref="SequentialModelExporter"/>
    /// exactly as the trainer exports it, with seeded random weights (weights do not change the work).
    /// </summary>
    public static byte[] QuickStartMlp(float scale = 1f)
    {
        var random = new Random(42);
        float[] Weights(int count, int fanIn)
        {
            float bound = scale / MathF.Sqrt(fanIn);
            var w = new float[count];
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = ((float)random.NextDouble() * 2 - 1) * bound;
            }

            return w;
        }

        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];
        OnnxParameter[] parameters =
        [
            new("1.weight", Weights(256 * 784, 784), [256, 784]),
            new("1.bias", Weights(256, 784), [256]),
            new("4.weight", Weights(10 * 256, 256), [10, 256]),
            new("4.bias", Weights(10, 256), [10]),
        ];
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]);
        return SequentialModelExporter.ExportToBytes(new SequentialExportRequest(layers, parameters, input));
    }

    public static float[] Pixels(int images, int seed)
    {
        var random = new Random(seed);
        var pixels = new float[images * 784];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (float)random.NextDouble();
        }

        return pixels;
    }

    /// <summary>The folder holding ModelKit.sln (BenchmarkDotNet runs each case from a generated folder below it).</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                return dir.FullName;
            }
        }

        return Environment.CurrentDirectory;
    }

    /// <summary>Nearest-rank percentile of <paramref name="sorted"/> (ascending).</summary>
    public static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Appends one line of latency percentiles (microseconds) to BenchmarkDotNet.Artifacts/results/latency.csv.</summary>
    public static void WriteLatencies(string suite, string method, string parameters, List<double> microseconds)
    {
        double[] sorted = [.. microseconds.Order()];
        string dir = Path.Combine(RepositoryRoot(), "BenchmarkDotNet.Artifacts", "results");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "latency.csv");
        if (!File.Exists(file))
        {
            File.WriteAllText(file, "suite,method,parameters,requests,p50_us,p90_us,p99_us,max_us\n");
        }

        File.AppendAllText(file, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{suite},{method},{parameters},{sorted.Length},{Percentile(sorted, 50):F1},{Percentile(sorted, 90):F1},{Percentile(sorted, 99):F1},{(sorted.Length > 0 ? sorted[^1] : double.NaN):F1}\n"));
    }
}

/// <summary>A temporary data directory with the registry, a session factory and a pool (polling off).</summary>
internal sealed class BenchmarkHost : IAsyncDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-bench-{Guid.NewGuid():N}");
    private readonly ServiceProvider _provider;

    public BenchmarkHost(Action<InferenceSessionPoolOptions> configure, int intraOpThreads = 1)
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _dataDirectory).AddModelRegistry().AddOnnx();
        _provider = services.BuildServiceProvider();
        Registry = _provider.GetRequiredService<IModelRegistry>();
        Factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = intraOpThreads, InterOpThreadCount = 1 }), registry: Registry);
        var options = new InferenceSessionPoolOptions { ReloadPollInterval = TimeSpan.Zero };
        configure(options);
        Pool = new OnnxRuntimeSessionPool(Factory, Options.Create(options));
    }

    public IModelRegistry Registry { get; }

    public OnnxRuntimeSessionFactory Factory { get; }

    public OnnxRuntimeSessionPool Pool { get; }

    public async Task<ModelVersion> RegisterAsync(string name, byte[] model, string? alias)
    {
        using var content = new MemoryStream(model);
        ModelVersion version = await Registry.RegisterAsync(new ModelRegistration(name), content);
        if (alias is not null)
        {
            await Registry.SetAliasAsync(name, alias, version.Version);
        }

        return version;
    }

    public async ValueTask DisposeAsync()
    {
        await Pool.DisposeAsync();
        Factory.Dispose();
        await _provider.DisposeAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }
}
