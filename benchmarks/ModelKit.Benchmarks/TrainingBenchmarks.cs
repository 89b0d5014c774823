using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Extensions.Options;
using ModelKit.Training;

namespace ModelKit.Benchmarks;

/// <summary>
/// Training throughput: Adam steps on one fixed batch of 256 Fashion-MNIST-sized images (random pixels) for the quick
/// start's MLP and the DistributedTraining sample's CNN, through ModelKit (<see cref="SequentialNetwork.TrainStep"/>:
/// managed checks, P/Invoke, the shim's step with the network's own dropout generator) against a raw libtorch C++ loop of
/// the same network (<c>native/modelkit_torch/src/mk_bench_raw.h</c>: torch::nn modules, torch::optim::Adam, no ModelKit
/// code) as the separate program <c>mk_train_bench</c> (its own process, no .NET; driven over a pipe, one line per 8
/// steps). Same libtorch, flags and intra-op thread count (2) in both. Each side runs in its best configuration: the raw
/// program as libtorch ships (fp32 GEMMs in OpenBLAS's own pool of 2 threads beside the OpenMP team) with
/// <c>OMP_WAIT_POLICY=PASSIVE</c> in its environment (without it the two pools spin against each other: 3-5x slower steps
/// measured), ModelKit with one pool (Linear in oneDNN on the OpenMP team, OpenBLAS at 1 thread) and libgomp's default
/// policy unless the benchmark's own environment sets one. One operation is one
/// sample. The suite's own job is a short, complete in-process run (1 warm-up and 5 measured iterations per case, about
/// two minutes in all): <c>bash eng/bench.sh '*TrainingBenchmarks*'</c> with no job options (<c>--inProcess</c> or
/// <c>--job</c> would add a second job next to this one).
/// </summary>
[Config(typeof(ShortInProcessConfig))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class TrainingBenchmarks
{
    internal const int Batch = 256;
    internal const int Steps = 8;
    internal const int Threads = 2;

    private Trainer _trainer = null!;
    private SequentialNetwork _network = null!;
    private NetworkOptimizer _optimizer = null!;
    private Process _program = null!;
    private float[] _features = null!;
    private long[] _labels = null!;
    private long[] _shape = null!;

    /// <summary>Gets or sets the network: <c>mlp</c> (784-256-10) or <c>cnn</c> (conv 32/64 + 1600-128-10).</summary>
    [Params("mlp", "cnn")]
    public string Network { get; set; } = "mlp";

    /// <summary>Builds the network and the batch, and starts the raw program (built by eng/setup.sh into artifacts/native/bin).</summary>
    [GlobalSetup]
    public void Setup()
    {
        _trainer = new Trainer(Options.Create(new TorchTrainingOptions { ThreadCount = Threads }));
        LayerSpec[] layers = Network == "mlp"
            ? MlpLayers
            : [new Conv2dLayer(1, 32, 3), new ReluLayer(), new MaxPool2dLayer(2), new Conv2dLayer(32, 64, 3), new ReluLayer(), new MaxPool2dLayer(2),
               new FlattenLayer(), new DropoutLayer(0.25), new LinearLayer(1600, 128), new ReluLayer(), new LinearLayer(128, 10)];
        _network = _trainer.CreateNetwork(layers, new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]), 1);
        _optimizer = _network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3 });
        (_features, _labels) = RandomBatch();
        _shape = [Batch, 1, 28, 28];
        _program = StartProgram(Network);
    }

    /// <summary>Releases the network, optimizer and trainer, and stops the program.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _program.StandardInput.WriteLine("q");
        _program.WaitForExit(10_000);
        _program.Dispose();
        _optimizer.Dispose();
        _network.Dispose();
        _trainer.Dispose();
    }

    /// <summary>The raw libtorch C++ loop in its own process, <c>mk_train_bench serve</c> (baseline).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Steps * Batch, Description = "raw libtorch program (mk_train_bench)")]
    public double RawProgram()
    {
        _program.StandardInput.WriteLine(Steps.ToString(CultureInfo.InvariantCulture));
        string line = _program.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"mk_train_bench exited: {_program.StandardError.ReadToEnd()}");
        return double.Parse(line, CultureInfo.InvariantCulture);
    }

    /// <summary>ModelKit's <see cref="SequentialNetwork.TrainStep"/>.</summary>
    [Benchmark(OperationsPerInvoke = Steps * Batch, Description = "ModelKit TrainStep")]
    public float ModelKit()
    {
        float loss = 0;
        for (int s = 0; s < Steps; s++)
        {
            loss = _network.TrainStep(_optimizer, _features, _shape, _labels);
        }

        return loss;
    }

    /// <summary>Gets the quick start's MLP: Flatten → Linear 784-256 → ReLU → Dropout 0.1 → Linear 256-10.</summary>
    internal static LayerSpec[] MlpLayers => [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];

    /// <summary>One fixed batch of <see cref="Batch"/> images of 28×28 random pixels in [0, 1) and random labels in [0, 10) (seed 3).</summary>
    /// <returns>The pixels, float32 [Batch, 1, 28, 28] row-major, and the labels, int64 [Batch].</returns>
    internal static (float[] Features, long[] Labels) RandomBatch()
    {
        var random = new Random(3);
        float[] features = [.. Enumerable.Range(0, Batch * 784).Select(_ => (float)random.NextDouble())];
        long[] labels = [.. Enumerable.Range(0, Batch).Select(_ => (long)random.Next(10))];
        return (features, labels);
    }

    /// <summary>Starts <c>mk_train_bench serve</c> for the network at the suite's batch and thread count.</summary>
    /// <param name="network"><c>mlp</c> or <c>cnn</c>.</param>
    /// <param name="rawLibtorch">
    /// <see langword="true"/>: libtorch as it ships (OpenBLAS pool of <see cref="Threads"/> threads) with
    /// <c>OMP_WAIT_POLICY=PASSIVE</c>, its best setting; <see langword="false"/>: OpenBLAS at 1 thread and libgomp's default
    /// policy, one pool, for the oneDNN GEMM lower bound (the <c>gN</c> command).
    /// </param>
    internal static Process StartProgram(string network, bool rawLibtorch = true)
    {
        string path = Path.Combine(RepositoryRoot(), "artifacts", "native", "bin", "mk_train_bench");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{path}' is missing: run 'bash eng/setup.sh', which builds it from native/modelkit_torch.", path);
        }

        var start = new ProcessStartInfo(path)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (rawLibtorch)
        {
            start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        }
        foreach (string arg in (string[])["serve", "--network", network, "--batch", Batch.ToString(CultureInfo.InvariantCulture), "--threads", Threads.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(arg);
        }

        if (!rawLibtorch)
        {
            start.ArgumentList.Add("--blas-threads");
            start.ArgumentList.Add("1");
            start.Environment.Remove("OMP_WAIT_POLICY");
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{path}'.");
        string? ready = process.StandardOutput.ReadLine();
        if (ready != "ready")
        {
            throw new InvalidOperationException($"mk_train_bench did not start: '{ready}' {process.StandardError.ReadToEnd()}");
        }

        return process;
    }

    private static string RepositoryRoot()
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

    /// <summary>One in-process job: 1 launch, 1 warm-up and 5 measured iterations per case.</summary>
    private sealed class ShortInProcessConfig : ManualConfig
    {
        public ShortInProcessConfig() =>
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(5).WithId("ShortInProcess"));
    }
}
