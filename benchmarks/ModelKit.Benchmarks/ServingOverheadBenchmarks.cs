using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using ModelKit.Serving;

namespace ModelKit.Benchmarks;

/// <summary>
/// One inference of the quick start's MLP through ModelKit's <see cref="IInferenceSession.Run"/> against the raw official
/// ONNX Runtime C# API on the very same native session: the baseline calls the official <see cref="InferenceSession"/>
/// that ModelKit's session wraps (one intra-op thread, one inter-op thread, all graph optimizations), so the ratio is
/// ModelKit's own per-call work and nothing else (two separately created sessions of the same model differ by a few
/// percent at batch 64 from where their weights landed in memory, which is more than the overhead measured). Baseline: an <see cref="OrtValue"/> over the caller's pinned input, created per call
/// (each request brings its own memory), and a preallocated output <see cref="OrtValue"/> reused across calls, run with
/// <c>InferenceSession.Run(RunOptions, names, values, names, values)</c>. A second raw variant also reuses the input
/// value (the floor: nothing per call but the run). ModelKit validates the input against the signature, wraps it, and
/// returns the logits in a new managed array bound as the output (the one allocation it must make).
/// </summary>
/// <remarks>
/// The job is built to resolve a few percent on a small shared VM (<see cref="ResolvingJobConfig"/>): three launches
/// (separate processes, so one unlucky memory placement or core does not decide the ratio), 30 iterations of at least
/// 250 ms each per launch, and the process pinned to one core (CPU 1), so the single-threaded run never migrates.
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(ResolvingJobConfig))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class ServingOverheadBenchmarks
{
    private static readonly string[] InputNames = ["input"];
    private static readonly string[] OutputNames = ["logits"];

    private OnnxRuntimeSessionFactory _factory = null!;
    private IInferenceSession _session = null!;
    private InferenceSession _raw = null!;
    private RunOptions _runOptions = null!;
    private float[] _pixels = null!;
    private long[] _shape = null!;
    private float[] _logits = null!;
    private OrtValue _rawOutput = null!;
    private OrtValue _rawInput = null!;
    private NamedTensor[] _inputs = null!;

    /// <summary>Gets or sets the number of images per inference.</summary>
    [Params(1, 64)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] model = BenchmarkModels.QuickStartMlp();
        _factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = 1, InterOpThreadCount = 1 }));
        _session = _factory.Create(model);
        // The official session ModelKit's session wraps, reached by reflection: ModelKit.Serving grants its internals to test
        // assemblies only, and a second session created from the same bytes would not measure the same native state.
        _raw = (InferenceSession)(_session.GetType().GetProperty("NativeSession", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(_session)
            ?? throw new InvalidOperationException($"{_session.GetType()} no longer exposes NativeSession; update the overhead benchmark."));
        _runOptions = new RunOptions();
        _pixels = BenchmarkModels.Pixels(BatchSize, 7);
        _shape = [BatchSize, 1, 28, 28];
        _logits = new float[BatchSize * 10];
        _rawOutput = OrtValue.CreateTensorValueFromMemory(_logits, [BatchSize, 10]);
        _rawInput = OrtValue.CreateTensorValueFromMemory(_pixels, _shape);
        _inputs = [new NamedTensor("input", Tensor.Create<float>(_pixels, _shape))];

        // Both paths must compute the same logits, or the comparison means nothing.
        float[] viaModelKit = ModelKitRun().ToArray();
        RawOfficialApi();
        if (!viaModelKit.AsSpan().SequenceEqual(_logits))
        {
            throw new InvalidOperationException("ModelKit.Serving and the raw official API produced different logits.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _binding?.Dispose();
        _rawInput.Dispose();
        _rawOutput.Dispose();
        _runOptions.Dispose();
        _session.Dispose(); // releases _raw, the native session it wraps
        _factory.Dispose();
    }

    [Benchmark(Description = "ModelKit IInferenceSession.Run")]
    public ReadOnlyMemory<float> ModelKitRun() => ((Tensor<float>)_session.Run(_inputs)[0].Value).Data;

    [Benchmark(Baseline = true, Description = "official API: input OrtValue per call, preallocated output")]
    public float RawOfficialApi()
    {
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _pixels.AsMemory(), _shape);
        _raw.Run(_runOptions, InputNames, [input], OutputNames, [_rawOutput]);
        return _logits[0];
    }

    private OrtIoBinding? _binding;

    /// <summary>
    /// The official API's I/O binding, as ModelKit's session now runs: an input value per call bound by name, the
    /// preallocated output bound, <c>RunWithBinding</c>, the input binding cleared (not a baseline: what the binding saves).
    /// </summary>
    /// <returns>The first logit.</returns>
    [Benchmark(Description = "official API: I/O binding, input bound per call")]
    public float RawIoBinding()
    {
        _binding ??= _raw.CreateIoBinding();
        using OrtValue input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _pixels.AsMemory(), _shape);
        _binding.BindInput("input", input);
        _binding.BindOutput("logits", _rawOutput);
        _raw.RunWithBinding(_runOptions, _binding);
        _binding.ClearBoundInputs();
        return _logits[0];
    }

    [Benchmark(Description = "official API: input and output OrtValues reused")]
    public float RawOfficialApiReused()
    {
        _raw.Run(_runOptions, InputNames, [_rawInput], OutputNames, [_rawOutput]);
        return _logits[0];
    }
}

/// <summary>
/// Interleaved rounds of <see cref="ServingOverheadBenchmarks"/> in one process: per round, a block of calls through
/// ModelKit's <see cref="IInferenceSession.Run"/> and a block of raw official API calls (the baseline), alternating which
/// goes first, each block long enough (about 50 ms) that the clock resolution does not matter. This VM's speed drifts
/// 10–30 % within minutes, which moves both halves of a round alike, so the median ratio over many rounds resolves a
/// few percent where separate BenchmarkDotNet launches, minutes apart, disagree by more than the target's margin.
/// <c>dotnet ModelKit.Benchmarks.dll overhead-interleaved ROUNDS</c>, run pinned to one core (<c>taskset -c 1</c>). Each
/// round also times <see cref="ServingOverheadBenchmarks.RawIoBinding"/> (the official API's I/O binding, which
/// ModelKit's session runs through), reported against the baseline.
/// </summary>
internal static class ServingOverheadInterleaved
{
    public static void Run(int rounds)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 2);
        foreach (int batch in (ReadOnlySpan<int>)[1, 64])
        {
            var bench = new ServingOverheadBenchmarks { BatchSize = batch };
            bench.Setup();
            try
            {
                int calls = batch == 1 ? 2000 : 150;
                for (int i = 0; i < calls * 4; i++)
                {
                    bench.ModelKitRun();
                    bench.RawOfficialApi();
                }

                var ratios = new List<double>(rounds);
                double sumModelKit = 0;
                double sumRaw = 0;
                double sumBound = 0;
                for (int r = 0; r < rounds; r++)
                {
                    double modelKit;
                    double raw;
                    if (r % 2 == 0)
                    {
                        modelKit = Time(bench.ModelKitRun, calls);
                        raw = Time(() => bench.RawOfficialApi(), calls);
                    }
                    else
                    {
                        raw = Time(() => bench.RawOfficialApi(), calls);
                        modelKit = Time(bench.ModelKitRun, calls);
                    }

                    double bound = Time(() => bench.RawIoBinding(), calls);
                    sumBound += bound;
                    sumModelKit += modelKit;
                    sumRaw += raw;
                    ratios.Add(modelKit / raw);
                }

                ratios.Sort();
                Console.WriteLine(string.Create(
                    System.Globalization.CultureInfo.InvariantCulture,
                    $"batch {batch,2}: ModelKit {sumModelKit / rounds:F2} us, raw {sumRaw / rounds:F2} us per call; ratio median {ratios[ratios.Count / 2]:F3}, quartiles {ratios[ratios.Count / 4]:F3} - {ratios[3 * ratios.Count / 4]:F3}, ratio of means {sumModelKit / sumRaw:F3} ({rounds} rounds of {calls} calls each); raw with I/O binding {sumBound / rounds:F2} us, {sumBound / sumRaw:F3} of raw"));
            }
            finally
            {
                bench.Cleanup();
            }
        }
    }

    private static double Time<T>(Func<T> call, int calls)
    {
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
        {
            call();
        }

        return System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls;
    }
}

/// <summary>
/// The job of <see cref="ServingOverheadBenchmarks"/>: 3 launches × (5 warm-up + 30 measured iterations of ≥ 250 ms),
/// the process pinned to CPU 1 (affinity mask 0x2; on a single-core machine, to CPU 0).
/// </summary>
internal sealed class ResolvingJobConfig : BenchmarkDotNet.Configs.ManualConfig
{
    public ResolvingJobConfig()
    {
        AddJob(Job.Default
            .WithLaunchCount(3)
            .WithWarmupCount(5)
            .WithIterationCount(30)
            .WithMinIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250))
            .WithAffinity(Environment.ProcessorCount > 1 ? 2 : 1));
    }
}

