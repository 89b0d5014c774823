using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Benchmarks;

/// <summary>
/// Hot reload under load: 16 concurrent callers send 2,048 single-image requests to <c>mlp@production</c> through the
/// pool (batching on), while the alias stays put (steady state, the baseline) or flips between two registered versions
/// of the quick start's MLP, each flip followed by <see cref="IInferenceSessionPool.ReloadAsync"/> (load, warm-up,
/// atomic swap, drain of the old generation) as fast as they complete. Per-request p50/p90/p99/max latencies go to
/// BenchmarkDotNet.Artifacts/results/latency.csv; the flips per operation are printed.
/// </summary>
[SimpleJob(warmupCount: 2, iterationCount: 8)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class HotReloadBenchmarks
{
    private const int Requests = 2048;
    private const int Callers = 16;
    private BenchmarkHost _host = null!;
    private ModelReference _reference = null!;
    private NamedTensor[][] _inputs = null!;
    private List<double> _latencies = null!;
    private int[] _versions = null!;
    private long _flips;

    /// <summary>Gets or sets whether the alias flips during the operation.</summary>
    [Params(false, true)]
    public bool Flipping { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _host = new BenchmarkHost(o => o.Batching.MaxConcurrentBatches = 2);
        ModelVersion v1 = _host.RegisterAsync("mlp", BenchmarkModels.QuickStartMlp(1f), "production").GetAwaiter().GetResult();
        ModelVersion v2 = _host.RegisterAsync("mlp", BenchmarkModels.QuickStartMlp(0.5f), null).GetAwaiter().GetResult();
        _versions = [v1.Version, v2.Version];
        _reference = ModelReference.Parse("mlp@production");
        float[] pixels = BenchmarkModels.Pixels(64, 5);
        _inputs = [.. Enumerable.Range(0, 64).Select(i => new[] { new NamedTensor("input", Tensor.Create<float>(pixels.AsMemory(i * 784, 784), 1, 1, 28, 28)) })];
        _host.Pool.RunAsync(_reference, _inputs[0]).AsTask().GetAwaiter().GetResult();
        _latencies = new List<double>(Requests * 20);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        BenchmarkModels.WriteLatencies(nameof(HotReloadBenchmarks), Flipping ? "alias flipping" : "steady state", $"Callers={Callers};flips={_flips}", _latencies);
        Console.WriteLine($"// hot reload: {_flips} flips in total, {_latencies.Count} requests");
        _host.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public async Task Requests16Callers()
    {
        using var stop = new CancellationTokenSource();
        Task flipper = Flipping ? Task.Run(() => FlipAsync(stop.Token)) : Task.CompletedTask;
        var tasks = new Task<double[]>[Callers];
        for (int c = 0; c < Callers; c++)
        {
            int caller = c;
            tasks[c] = Task.Run(async () =>
            {
                var own = new double[Requests / Callers];
                for (int r = 0; r < own.Length; r++)
                {
                    long start = Stopwatch.GetTimestamp();
                    await _host.Pool.RunAsync(_reference, _inputs[(caller + r) % _inputs.Length]).ConfigureAwait(false);
                    own[r] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }

                return own;
            });
        }

        double[][] all = await Task.WhenAll(tasks).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await flipper.ConfigureAwait(false);
        foreach (double[] own in all)
        {
            _latencies.AddRange(own);
        }
    }

    private async Task FlipAsync(CancellationToken token)
    {
        int next = 1;
        while (!token.IsCancellationRequested)
        {
            await _host.Registry.SetAliasAsync("mlp", "production", _versions[next], CancellationToken.None).ConfigureAwait(false);
            await _host.Pool.ReloadAsync(_reference, CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _flips);
            next ^= 1;
        }
    }
}
