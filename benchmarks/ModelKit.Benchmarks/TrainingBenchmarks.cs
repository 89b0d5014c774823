using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Options;
using ModelKit.Training;
using ModelKit.Training.Interop;

namespace ModelKit.Benchmarks;

/// <summary>
/// Training throughput: Adam steps on one fixed batch of 128 Fashion-MNIST-sized images (random pixels) for the quick
/// start's MLP and the DistributedTraining sample's CNN, through ModelKit (<see cref="SequentialNetwork.TrainStep"/>:
/// managed checks, P/Invoke, the shim's step with the network's own dropout generator) against a raw libtorch C++ loop of
/// the same network (<c>mk_bench_raw_train</c>: torch::nn modules, torch::optim::Adam, no ModelKit code), built from the
/// same libtorch with the same flags and thread count. The ratio is ModelKit's overhead; one operation is one sample.
/// </summary>
[InProcess]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class TrainingBenchmarks
{
    private const int Batch = 128;
    private const int Steps = 8;

    private Trainer _trainer = null!;
    private SequentialNetwork _network = null!;
    private NetworkOptimizer _optimizer = null!;
    private float[] _features = null!;
    private long[] _labels = null!;
    private long[] _shape = null!;

    /// <summary>Gets or sets the network: <c>mlp</c> (784-256-10) or <c>cnn</c> (conv 32/64 + 1600-128-10).</summary>
    [Params("mlp", "cnn")]
    public string Network { get; set; } = "mlp";

    /// <summary>Builds the network and the batch; libtorch uses 2 intra-op threads in both paths.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _trainer = new Trainer(Options.Create(new TorchTrainingOptions { ThreadCount = 2 }));
        LayerSpec[] layers = Network == "mlp"
            ? [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)]
            : [new Conv2dLayer(1, 32, 3), new ReluLayer(), new MaxPool2dLayer(2), new Conv2dLayer(32, 64, 3), new ReluLayer(), new MaxPool2dLayer(2),
               new FlattenLayer(), new DropoutLayer(0.25), new LinearLayer(1600, 128), new ReluLayer(), new LinearLayer(128, 10)];
        _network = _trainer.CreateNetwork(layers, new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]), 1);
        _optimizer = _network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3 });
        var random = new Random(3);
        _features = new float[Batch * 784];
        for (int i = 0; i < _features.Length; i++)
        {
            _features[i] = (float)random.NextDouble();
        }

        _labels = new long[Batch];
        for (int i = 0; i < Batch; i++)
        {
            _labels[i] = random.Next(10);
        }

        _shape = [Batch, 1, 28, 28];
    }

    /// <summary>Releases the network, optimizer and trainer.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _optimizer.Dispose();
        _network.Dispose();
        _trainer.Dispose();
    }

    /// <summary>The raw libtorch C++ loop (baseline).</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Steps * Batch, Description = "raw libtorch C++ loop")]
    public double RawLibtorch()
    {
        int status = MkBench.RawTrain(Network == "mlp" ? 0 : 1, Steps, Batch, out double seconds);
        TorchLibrary.ThrowIfFailed(status, "mk_bench_raw_train");
        return seconds;
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
}
