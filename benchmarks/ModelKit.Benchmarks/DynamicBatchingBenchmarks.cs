using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Benchmarks;

/// <summary>
/// <see cref="Callers"/> concurrent callers each send single-image requests (batch 1) to the quick start's MLP until
/// 16,384 requests are answered, the callers running continuously until all are sent (a steady-state measurement: at
/// 2,048 requests per operation, 32 per caller, the callers' start and the last partial batches, when a core idles, were
/// a large share of each operation): through the pool with dynamic batching on, against the same callers sharing the same
/// session without a batcher (each caller calls <see cref="IInferenceSession.Run"/> itself, concurrently). Both run on
/// the one session the pool loaded, with one intra-op thread per run (one run per core on this 2-core machine; more
/// threads per run would only spin against the other run). Batching settings: 2 batches at a time (one per core), max
/// batch 32 (with 64 callers, two batches of 32 are all the requests in flight: one batch runs while the other's
/// callers are answered and send their next request), 2 ms max delay. A second model (the same bytes, registered as
/// <c>mlp-16</c>, its own session with the same runtime settings) batches at most 16 rows, so four groups of callers
/// rotate through the two slots: it shows whether the per-row engine cost or the per-request work around it limits.
/// Per-request latencies (p50, p90, p99, max, in microseconds) and the mean batch are appended to
/// BenchmarkDotNet.Artifacts/results/latency.csv; <see cref="MemoryDiagnoserAttribute"/> reports allocations and GCs.
/// </summary>
[MemoryDiagnoser]
[SimpleJob(warmupCount: 10, iterationCount: 20)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class DynamicBatchingBenchmarks
{
    private const int Requests = 16384;
    private const int MaxBatchSize = 32;
    private const int SmallBatchSize = 16;
    private readonly long[] _batchSizes = new long[MaxBatchSize + 1];
    private int _lastMaxBatch = MaxBatchSize;
    private BenchmarkHost _host = null!;
    private IInferenceSessionLease _lease = null!;
    private ModelReference _reference = null!;
    private ModelReference _smallReference = null!;
    private NamedTensor[][] _inputs = null!;
    private List<double> _latencies = null!;
    private readonly double[] _opLatencies = new double[Requests];
    private readonly int[] _opSizes = new int[Requests];
    private readonly List<double> _startLags = [];
    private readonly List<double> _tails = [];

    /// <summary>Gets or sets the number of concurrent callers.</summary>
    [Params(1, 64)]
    public int Callers { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _host = new BenchmarkHost(o =>
        {
            o.Batching.MaxBatchSize = MaxBatchSize;
            o.Batching.MaxQueueDelay = TimeSpan.FromMilliseconds(2);
            o.Batching.MaxConcurrentBatches = 2;
            o.Batching.MaxQueueLength = 4096;

            // The same model under a second name, served in batches of up to 16 rows, 2 at a time.
            o.Models["mlp-16"] = new ModelServingOptions
            {
                Batching = new BatchingOptions { MaxBatchSize = SmallBatchSize, MaxQueueDelay = TimeSpan.FromMilliseconds(2), MaxConcurrentBatches = 2, MaxQueueLength = 4096 },
            };
        });
        _host.RegisterAsync("mlp", BenchmarkModels.QuickStartMlp(), "production").GetAwaiter().GetResult();
        _host.RegisterAsync("mlp-16", BenchmarkModels.QuickStartMlp(), "production").GetAwaiter().GetResult();
        _reference = ModelReference.Parse("mlp@production");
        _smallReference = ModelReference.Parse("mlp-16@production");
        _host.Pool.RunAsync(_smallReference, [new NamedTensor("input", Tensor.Create<float>(new float[784], 1, 1, 28, 28))]).AsTask().GetAwaiter().GetResult();
        _lease = _host.Pool.AcquireAsync(_reference).AsTask().GetAwaiter().GetResult();
        float[] pixels = BenchmarkModels.Pixels(256, 3);
        _inputs = [.. Enumerable.Range(0, 256).Select(i => new[] { new NamedTensor("input", Tensor.Create<float>(pixels.AsMemory(i * 784, 784), 1, 1, 28, 28)) })];
        _latencies = new List<double>(Requests * 32);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        string meanBatch = _batchRows == 0 ? "n/a" : (_batchRows / (double)_latencies.Count).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        long answered = _batchSizes.Sum();
        string full = answered == 0 ? "n/a" : (100.0 * _batchSizes[_lastMaxBatch] / answered).ToString("F0", System.Globalization.CultureInfo.InvariantCulture);
        // Percentiles of the second half of the requests: the measured iterations come last, after the pilot and warm-up
        // ones (whose first iterations run before tiered compilation settles and would skew the 1-caller p50).
        List<double> measured = _latencies.GetRange(_latencies.Count / 2, _latencies.Count - (_latencies.Count / 2));
        // Per operation (median): how long after the operation started the last caller sent its first request, and how
        // long the operation went on after the first caller was done (while fewer than all callers were left).
        string lags = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"startLag={Median(_startLags):F0}us;tail={Median(_tails):F0}us");
        BenchmarkModels.WriteLatencies(nameof(DynamicBatchingBenchmarks), _lastMethod, $"Callers={Callers};meanBatch={meanBatch};inFullBatches={full}%;{lags}", measured);
        _lease.Dispose();
        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// Interleaved rounds of 64 callers without and with the batcher (max batch 32), one process: each round runs
    /// <paramref name="perRound"/> operations of each, alternately, and prints both times per operation and their ratio;
    /// the median ratio over <paramref name="rounds"/> rounds is robust to this VM's drift, which moves both halves of a
    /// round alike. <c>dotnet ModelKit.Benchmarks.dll batching-interleaved ROUNDS</c>; a quick check between BenchmarkDotNet runs.
    /// </summary>
    /// <param name="rounds">The rounds (at least 1).</param>
    /// <param name="perRound">The operations of each kind per round.</param>
    /// <param name="batchedOnly">Runs only the batched operations (for a profiler).</param>
    public static void RunInterleaved(int rounds, int perRound = 4, bool batchedOnly = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        var bench = new DynamicBatchingBenchmarks { Callers = 64 };
        bench.Setup();
        try
        {
            for (int i = 0; i < 20; i++)
            {
                bench.SharedSessionWithoutBatcher().GetAwaiter().GetResult();
                bench.PoolWithBatching().GetAwaiter().GetResult();
            }

            var ratios = new List<double>(rounds);
            Console.WriteLine("round  without_ms  batched_ms  speed-up");
            for (int r = 0; r < rounds; r++)
            {
                double without = double.NaN;
                long start;
                if (!batchedOnly)
                {
                    start = Stopwatch.GetTimestamp();
                    for (int i = 0; i < perRound; i++)
                    {
                        bench.SharedSessionWithoutBatcher().GetAwaiter().GetResult();
                    }

                    without = Stopwatch.GetElapsedTime(start).TotalMilliseconds / perRound;
                }

                start = Stopwatch.GetTimestamp();
                for (int i = 0; i < perRound; i++)
                {
                    bench.PoolWithBatching().GetAwaiter().GetResult();
                }

                double batched = Stopwatch.GetElapsedTime(start).TotalMilliseconds / perRound;
                ratios.Add(without / batched);
                Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{r,5}  {without,10:F2}  {batched,10:F2}  {without / batched,8:F3}"));
            }

            ratios.Sort();
            Console.WriteLine(string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"speed-up median {ratios[ratios.Count / 2]:F3}, quartiles {ratios[ratios.Count / 4]:F3} - {ratios[3 * ratios.Count / 4]:F3} ({rounds} rounds of {perRound} operations each)"));
        }
        finally
        {
            bench.Cleanup();
        }
    }

    private static double Median(List<double> values) => values.Count == 0 ? double.NaN : values.Order().ElementAt(values.Count / 2);

    private string _lastMethod = string.Empty;
    private long _batchRows;

    [Benchmark(Baseline = true, Description = "shared session, no batcher")]
    public Task SharedSessionWithoutBatcher()
    {
        _lastMethod = "shared session without batcher";
        return RunCallersAsync(reference: null);
    }

    [Benchmark(Description = "pool with dynamic batching")]
    public Task PoolWithBatching()
    {
        _lastMethod = "pool with dynamic batching";
        return RunBatchedAsync(_reference, MaxBatchSize);
    }

    [Benchmark(Description = "pool with dynamic batching, batches of <= 16")]
    public Task PoolWithSmallBatches()
    {
        _lastMethod = "pool with dynamic batching, batches of <= 16";
        return RunBatchedAsync(_smallReference, SmallBatchSize);
    }

    private Task RunBatchedAsync(ModelReference reference, int maxBatch)
    {
        _lastMaxBatch = maxBatch;
        return RunCallersAsync(reference);
    }

    /// <summary>
    /// Runs the callers: without a reference each calls <see cref="IInferenceSession.Run"/> on the shared session, with one
    /// it awaits <see cref="IInferenceSessionPool.RunAsync"/> directly, as an application would (no delegate or extra async
    /// level of the benchmark's own on either path). The callers run continuously until the operation's requests are all
    /// sent: each takes the next request from one shared countdown (the same interlocked decrement per request on both
    /// paths) and writes its latency and batch size into that request's own slot of arrays allocated once, so that the
    /// operation ends when the last requests in flight are answered. (With a fixed share of requests per caller, the
    /// callers drifted apart by several batches over an operation, and its last milliseconds ran with part of the callers
    /// only: a drain that is not the steady-state throughput the suite measures.)
    /// </summary>
    private async Task RunCallersAsync(ModelReference? reference)
    {
        IInferenceSession session = _lease.Session;
        OnnxRuntimeSessionPool pool = _host.Pool;
        double[] latencies = _opLatencies;
        int[] sizes = _opSizes;
        Array.Clear(sizes);
        int remaining = Requests;
        var tasks = new Task[Callers];
        var firstSent = new long[Callers];
        var lastAnswered = new long[Callers];
        long opStart = Stopwatch.GetTimestamp();
        for (int c = 0; c < Callers; c++)
        {
            int caller = c;
            tasks[c] = Task.Run(async () =>
            {
                int slot;
                while ((slot = Interlocked.Decrement(ref remaining)) >= 0)
                {
                    NamedTensor[] input = _inputs[slot % _inputs.Length];
                    long start = Stopwatch.GetTimestamp();
                    if (firstSent[caller] == 0)
                    {
                        firstSent[caller] = start;
                    }

                    if (reference is null)
                    {
                        session.Run(input);
                    }
                    else
                    {
                        sizes[slot] = (await pool.RunAsync(reference, input).ConfigureAwait(false)).BatchSize;
                    }

                    latencies[slot] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }

                lastAnswered[caller] = Stopwatch.GetTimestamp();
            });
        }

        await Task.WhenAll(tasks).ConfigureAwait(false);
        long[] sent = [.. firstSent.Where(t => t != 0)];
        _startLags.Add(Stopwatch.GetElapsedTime(opStart, sent.Max()).TotalMicroseconds);
        _tails.Add(Stopwatch.GetElapsedTime(lastAnswered.Where((_, c) => firstSent[c] != 0).Min(), lastAnswered.Max()).TotalMicroseconds);
        _latencies.AddRange(latencies);
        foreach (int size in sizes)
        {
            if (size > 0)
            {
                _batchRows += size;
                _batchSizes[Math.Min(size, _lastMaxBatch)]++;
            }
        }
    }
}

/// <summary>
/// The ceiling of <see cref="DynamicBatchingBenchmarks"/>: ONNX Runtime's own cost of 16,384 rows of the quick start's MLP
/// run in batches of <see cref="BatchSize"/> rows on the pool's session settings (one intra-op thread, one inter-op
/// thread, all graph optimizations, prepacking on), with nothing of ModelKit's on the path: the official
/// <see cref="Microsoft.ML.OnnxRuntime.InferenceSession"/> the pool's session wraps, input and output
/// <see cref="Microsoft.ML.OnnxRuntime.OrtValue"/>s created once and reused. <see cref="Concurrency"/> 2 runs two such
/// loops at once on the same session (one per core, each with its own buffers), as the batcher does with two batches at
/// a time. Time per operation / 16,384 = wall time per row; × <see cref="Concurrency"/> = CPU per row. A batcher that
/// cost nothing would reach at best (baseline time per operation) / (this time per operation at its batch size).
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 15)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class OnnxRuntimeBatchCeilingBenchmarks
{
    private const int Rows = 16384;
    private static readonly string[] InputNames = ["input"];
    private static readonly string[] OutputNames = ["logits"];
    private OnnxRuntimeSessionFactory _factory = null!;
    private IInferenceSession _session = null!;
    private Microsoft.ML.OnnxRuntime.InferenceSession _raw = null!;
    private Microsoft.ML.OnnxRuntime.RunOptions _runOptions = null!;
    private Microsoft.ML.OnnxRuntime.OrtValue[][] _inputs = null!;
    private Microsoft.ML.OnnxRuntime.OrtValue[][] _outputs = null!;

    /// <summary>Gets or sets the rows per run.</summary>
    [Params(1, 16, 32, 64)]
    public int BatchSize { get; set; }

    /// <summary>Gets or sets the number of loops running at once on the session (one per core).</summary>
    [Params(1, 2)]
    public int Concurrency { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _factory = new OnnxRuntimeSessionFactory(Microsoft.Extensions.Options.Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = 1, InterOpThreadCount = 1 }));
        _session = _factory.Create(BenchmarkModels.QuickStartMlp());
        _raw = (Microsoft.ML.OnnxRuntime.InferenceSession)(_session.GetType().GetProperty("NativeSession", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)?.GetValue(_session)
            ?? throw new InvalidOperationException($"{_session.GetType()} no longer exposes NativeSession; update the ceiling benchmark."));
        _runOptions = new Microsoft.ML.OnnxRuntime.RunOptions();
        _inputs = new Microsoft.ML.OnnxRuntime.OrtValue[Concurrency][];
        _outputs = new Microsoft.ML.OnnxRuntime.OrtValue[Concurrency][];
        for (int c = 0; c < Concurrency; c++)
        {
            _inputs[c] = [Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(BenchmarkModels.Pixels(BatchSize, 11 + c), [BatchSize, 1, 28, 28])];
            _outputs[c] = [Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(new float[BatchSize * 10], [BatchSize, 10])];
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (Microsoft.ML.OnnxRuntime.OrtValue value in _inputs.Concat(_outputs).SelectMany(v => v))
        {
            value.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
        _factory.Dispose();
    }

    [Benchmark(Description = "ONNX Runtime alone, 16,384 rows")]
    public void EngineOnly()
    {
        int runsPerLoop = Rows / BatchSize / Concurrency;
        if (Concurrency == 1)
        {
            Loop(0, runsPerLoop);
            return;
        }

        Parallel.For(0, Concurrency, new ParallelOptions { MaxDegreeOfParallelism = Concurrency }, c => Loop(c, runsPerLoop));
    }

    private void Loop(int c, int runs)
    {
        for (int r = 0; r < runs; r++)
        {
            _raw.Run(_runOptions, InputNames, _inputs[c], OutputNames, _outputs[c]);
        }
    }
}
