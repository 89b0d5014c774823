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
/// The quick start's MLP (Flatten → Linear 784-256 → ReLU → Dropout 0.1 → Linear 256-10, Adam) against its lower bound
/// from the GEMMs alone, in one run: ModelKit's <see cref="SequentialNetwork.TrainStep"/> on a batch of 256 against the
/// five GEMMs of one such step (forward 784→256 and 256→10; backward dW2, dH, dW1: 0.2095 GFLOP) run back to back in
/// oneDNN's <c>dnnl_sgemm</c> on 2 threads by the separate program <c>mk_train_bench</c> (<c>serve</c> mode, command
/// <c>gN</c>; OpenBLAS at 1 thread and libgomp's default wait policy, so one thread pool that spins between calls: the
/// fastest setting measured for the GEMMs; <c>mk_train_bench gemm</c> compares oneDNN with OpenBLAS per GEMM). Baseline:
/// the GEMMs, so the Ratio column is the step's multiple of its GEMM bound (issue target: ≤ 1.5). One operation is one
/// sample. Run with <c>bash eng/bench.sh '*MlpGemmBound*'</c> (about a minute).
/// </summary>
[Config(typeof(Config))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class MlpGemmBoundBenchmarks
{
    private const int Steps = TrainingBenchmarks.Steps;
    private const int Batch = TrainingBenchmarks.Batch;

    private Trainer _trainer = null!;
    private SequentialNetwork _network = null!;
    private NetworkOptimizer _optimizer = null!;
    private Process _program = null!;
    private float[] _features = null!;
    private long[] _labels = null!;
    private readonly long[] _shape = [Batch, 1, 28, 28];

    /// <summary>Builds the MLP and its batch, and starts the GEMM program.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _trainer = new Trainer(Options.Create(new TorchTrainingOptions { ThreadCount = TrainingBenchmarks.Threads }));
        _network = _trainer.CreateNetwork(TrainingBenchmarks.MlpLayers, new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]), 1);
        _optimizer = _network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Adam, LearningRate = 1e-3 });
        (_features, _labels) = TrainingBenchmarks.RandomBatch();
        _program = TrainingBenchmarks.StartProgram("mlp", rawLibtorch: false);
    }

    /// <summary>Stops the program and releases the network.</summary>
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

    /// <summary>
    /// The five GEMMs of <see cref="Steps"/> training steps; BenchmarkDotNet times the call, so the pipe round trip (tens of
    /// microseconds against about 10 ms) is charged to the bound, making it slightly looser, never tighter.
    /// </summary>
    /// <returns>The seconds the program measured itself.</returns>
    [Benchmark(Baseline = true, OperationsPerInvoke = Steps * Batch, Description = "GEMM lower bound (oneDNN, 2 threads)")]
    public double GemmLowerBound()
    {
        _program.StandardInput.WriteLine("g" + Steps.ToString(CultureInfo.InvariantCulture));
        string line = _program.StandardOutput.ReadLine() ?? throw new InvalidOperationException($"mk_train_bench exited: {_program.StandardError.ReadToEnd()}");
        return double.Parse(line, CultureInfo.InvariantCulture);
    }

    /// <summary>ModelKit's <see cref="SequentialNetwork.TrainStep"/>, <see cref="Steps"/> times.</summary>
    /// <returns>The last loss.</returns>
    [Benchmark(OperationsPerInvoke = Steps * Batch, Description = "ModelKit TrainStep (MLP, batch 256)")]
    public float ModelKitStep()
    {
        float loss = 0;
        for (int s = 0; s < Steps; s++)
        {
            loss = _network.TrainStep(_optimizer, _features, _shape, _labels);
        }

        return loss;
    }

    /// <summary>
    /// The same two cases interleaved, for a ratio that drifts of the machine's speed cannot bias (BenchmarkDotNet runs one
    /// case after the other, ~20 s apart; on this shared VM the speed of both moves by 10-30 % within minutes): after 40
    /// warm-up operations of each, <paramref name="rounds"/> rounds of 10 GEMM-bound operations then 10 ModelKit operations
    /// (one operation = 8 steps of 256), timed with <see cref="Stopwatch"/>. Prints every round's µs per sample and ratio,
    /// and the median and spread of the ratios. <c>dotnet ModelKit.Benchmarks.dll mlp-bound-interleaved [rounds]</c>.
    /// </summary>
    /// <param name="rounds">The number of rounds, at least 1.</param>
    public static void RunInterleaved(int rounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        const int perRound = 10;
        var bench = new MlpGemmBoundBenchmarks();
        bench.Setup();
        try
        {
            for (int i = 0; i < 40; i++)
            {
                bench.GemmLowerBound();
                bench.ModelKitStep();
            }

            var ratios = new List<double>(rounds);
            double perSample = 1e6 / (perRound * Steps * Batch);
            Console.WriteLine("round  gemm_us_per_sample  modelkit_us_per_sample  ratio");
            for (int r = 0; r < rounds; r++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < perRound; i++)
                {
                    bench.GemmLowerBound();
                }

                double gemm = Stopwatch.GetElapsedTime(start).TotalSeconds * perSample;
                start = Stopwatch.GetTimestamp();
                for (int i = 0; i < perRound; i++)
                {
                    bench.ModelKitStep();
                }

                double step = Stopwatch.GetElapsedTime(start).TotalSeconds * perSample;
                ratios.Add(step / gemm);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r,5}  {gemm,18:F3}  {step,22:F3}  {step / gemm,5:F3}"));
            }

            ratios.Sort();
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"ratio median {ratios[ratios.Count / 2]:F3}, quartiles {ratios[ratios.Count / 4]:F3} - {ratios[3 * ratios.Count / 4]:F3}, min {ratios[0]:F3}, max {ratios[^1]:F3} ({rounds} rounds)"));
        }
        finally
        {
            bench.Cleanup();
        }
    }

    /// <summary>One in-process job: 2 warm-ups and 15 measured iterations per case.</summary>
    private sealed class Config : ManualConfig
    {
        public Config() =>
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(15).WithId("GemmBound"));
    }
}
