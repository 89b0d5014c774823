using System.Collections.Concurrent;
using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Benchmarks;

/// <summary>
/// Serving throughput at batch 1 with monitoring off, observing 10% and observing 100% of the requests, in one run:
/// <see cref="IInferenceSessionPool.RunAsync"/> on the quick start's MLP (one intra-op thread, batching off so each call
/// runs at once), with a <see cref="ModelMonitor"/> registered as the pool's observer (a reference profile of 2,000
/// images, windows of 200, drift and alert rules evaluated as in production, no capture). The monitor's background loop
/// runs on the other core; an observation it cannot keep up with is dropped and counted. Each case's
/// <c>GlobalCleanup</c> flushes its monitor and records the dropped and the processed observations, which the
/// <c>Dropped / sampled</c> column prints next to the ratio (a result that only looks good because work was dropped
/// does not count). Two more cases time the image reducers alone (the scalar two-pass path and the vectorised one).
/// Runs in process.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(InProcessConfig))]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public class MonitoringBenchmarks
{
    private readonly List<IAsyncDisposable> _owned = [];
    private IInferenceSessionPool _off = null!;
    private IInferenceSessionPool _tenPercent = null!;
    private IInferenceSessionPool _all = null!;
    private ModelMonitor _monitorTen = null!;
    private ModelMonitor _monitorAll = null!;
    private NamedTensor[] _inputs = null!;
    private ModelReference _reference = null!;
    private InferenceObservation _observation = null!;
    // The reducers are internal to ModelKit.Monitoring (which grants internals to test assemblies only): bound by reflection once.
    private static readonly ScalarReducer ScalarReduce = BindReducer<ScalarReducer>("Reduce");
    private static readonly VectorizedReducer VectorizedReduce = BindReducer<VectorizedReducer>("ReduceVectorized");
    private double[] _image = null!;
    private double[] _reduced = null!;

    /// <summary>Per benchmark method: "dropped of sampled" observations, filled by the cleanups (same process: in-process toolchain).</summary>
    private static readonly ConcurrentDictionary<string, string> Drops = new(StringComparer.Ordinal);

    [GlobalSetup]
    public void Setup() => SetupAsync().GetAwaiter().GetResult();

    [GlobalCleanup(Target = nameof(Off))]
    public void CleanupOff() => Cleanup(nameof(Off), null);

    [GlobalCleanup(Target = nameof(TenPercent))]
    public void CleanupTenPercent() => Cleanup(nameof(TenPercent), _monitorTen);

    [GlobalCleanup(Target = nameof(Everything))]
    public void CleanupEverything() => Cleanup(nameof(Everything), _monitorAll);

    [GlobalCleanup(Target = nameof(HookOnly))]
    public void CleanupHookOnly() => Cleanup(nameof(HookOnly), _monitorAll);

    [GlobalCleanup(Target = nameof(HookAndProcessing))]
    public void CleanupHookAndProcessing() => Cleanup(nameof(HookAndProcessing), _monitorAll);

    [GlobalCleanup(Targets = [nameof(ReduceScalar), nameof(ReduceVectorized)])]
    public void CleanupReducers() => Cleanup(string.Empty, null);

    /// <summary>Empties the 100% monitor's queue before each iteration of <see cref="HookOnly"/> (one invocation of 1,000 hooks, below the queue's 10,000), so that no hook call is a drop.</summary>
    [IterationSetup(Target = nameof(HookOnly))]
    public void DrainQueue() => _monitorAll.FlushAsync().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, Description = "pool RunAsync, monitoring off")]
    public Task<InferenceResult> Off() => _off.RunAsync(_reference, _inputs).AsTask();

    [Benchmark(Description = "pool RunAsync, monitoring 10%")]
    public Task<InferenceResult> TenPercent() => _tenPercent.RunAsync(_reference, _inputs).AsTask();

    [Benchmark(Description = "pool RunAsync, monitoring 100%")]
    public Task<InferenceResult> Everything() => _all.RunAsync(_reference, _inputs).AsTask();

    /// <summary>
    /// The request path's share of 100% monitoring: the hook alone (sample, copy input and output, enqueue), on an
    /// observation of one image, per call of 1,000 made into a queue emptied before each iteration (a full queue
    /// would time the drop path instead: the first version of this case dropped almost every call). 1,000 queued
    /// copies stay within the monitor's pool of 1,024 reusable ones, as at serving rates (the loop drains every 10 ms).
    /// </summary>
    /// <returns>Nothing.</returns>
    [Benchmark(Description = "hook only: OnInferenceCompleted, 100%", OperationsPerInvoke = 1000)]
    public int HookOnly()
    {
        for (int i = 0; i < 1000; i++)
        {
            _monitorAll.OnInferenceCompleted(_observation);
        }

        return 0;
    }

    /// <summary>Everything monitoring does per request at 100%, hook plus background work (features, sketches, windows, drift), per 1,000 observations, waited for with <see cref="ModelMonitor.FlushAsync"/>.</summary>
    /// <returns>A task.</returns>
    [Benchmark(Description = "hook + background work, 1,000 observations", OperationsPerInvoke = 1000)]
    public async Task HookAndProcessing()
    {
        for (int i = 0; i < 1000; i++)
        {
            _monitorAll.OnInferenceCompleted(_observation);
        }

        await _monitorAll.FlushAsync();
    }

    /// <summary>The default image reducers (mean, standard deviation, L2 norm, roughness) plus the intensity histogram of one 28 × 28 image, the scalar two-pass path (used for images with NaN or infinities).</summary>
    /// <returns>The L2 norm.</returns>
    [Benchmark(Description = "image reducers, scalar two-pass, 784 px")]
    public double ReduceScalar()
    {
        ScalarReduce(_image, 1, TensorReducers.Default | TensorReducers.IntensityHistogram, 28, _reduced);
        return _reduced[2];
    }

    /// <summary>The same reductions with <see cref="System.Numerics.Vector{T}"/> (the path every finite image takes).</summary>
    /// <returns>The L2 norm.</returns>
    [Benchmark(Description = "image reducers, vectorised, 784 px")]
    public double ReduceVectorized()
    {
        VectorizedReduce(_image, 1, TensorReducers.Default | TensorReducers.IntensityHistogram, 28, _reduced);
        return _reduced[2];
    }

    private void Cleanup(string method, ModelMonitor? monitor)
    {
        if (monitor is not null)
        {
            monitor.FlushAsync().GetAwaiter().GetResult();
            long processed = monitor.GetState().Sum(s => s.ObservedRequests);
            long dropped = monitor.DroppedCount;
            Drops[method] = string.Create(CultureInfo.InvariantCulture, $"{dropped:N0} of {processed + dropped:N0}");
            Console.WriteLine($"// {method}: dropped observations {Drops[method]} sampled");
        }

        foreach (IAsyncDisposable d in _owned)
        {
            d.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private async Task SetupAsync()
    {
        _image = [.. BenchmarkModels.Pixels(1, 3).Select(p => (double)p)];
        _reduced = new double[16];
        byte[] model = BenchmarkModels.QuickStartMlp();
        float[] pixels = BenchmarkModels.Pixels(1, 7);
        _inputs = [new NamedTensor("input", Tensor.Create<float>(pixels, 1, 1, 28, 28))];
        _reference = ModelReference.Parse("mlp@production");
        (_off, _) = await CreateAsync(model, null);
        (_tenPercent, _monitorTen) = await CreateAsync(model, 0.1);
        (_all, _monitorAll) = await CreateAsync(model, 1.0);
        InferenceResult result = await _all.RunAsync(_reference, _inputs);
        _observation = new InferenceObservation(_reference.ToString(), result.ModelVersion, _inputs, result.Outputs, TimeSpan.FromMilliseconds(0.05), DateTimeOffset.UtcNow);
    }

    private async Task<(IInferenceSessionPool Pool, ModelMonitor Monitor)> CreateAsync(byte[] model, double? sampling)
    {
        string directory = Path.Combine(Path.GetTempPath(), $"modelkit-bench-monitoring-{Guid.NewGuid():N}");
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = directory).AddModelRegistry().AddOnnx()
            .AddOnnxRuntimeServing(o =>
            {
                o.IntraOpThreadCount = 1;
                o.InterOpThreadCount = 1;
            })
            .ConfigureSessionPool(o =>
            {
                o.ReloadPollInterval = TimeSpan.Zero;
                o.Batching.Enabled = false;
            });
        if (sampling is double rate)
        {
            services.AddModelKit().AddMonitoring(o =>
            {
                o.SamplingRate = rate;
                o.Rules.Add(new AlertRule { Name = "Drift", Metric = "drift.share", Comparison = AlertComparison.GreaterThan, Threshold = 0 });
            });
        }

        ServiceProvider provider = services.BuildServiceProvider();
        _owned.Add(new HostCleanup(provider, directory));
        var registry = provider.GetRequiredService<IModelRegistry>();
        using (var content = new MemoryStream(model))
        {
            ModelVersion version = await registry.RegisterAsync(new ModelRegistration("mlp"), content);
            await registry.SetAliasAsync("mlp", "production", version.Version);
        }

        var pool = provider.GetRequiredService<IInferenceSessionPool>();
        ModelMonitor monitor = null!;
        if (sampling is not null)
        {
            monitor = provider.GetRequiredService<ModelMonitor>();
            ModelVersion version = await registry.ResolveAsync(_reference);
            var builder = new ReferenceProfileBuilder(version);
            using IInferenceSession session = await provider.GetRequiredService<IInferenceSessionFactory>().CreateAsync(version.Reference);
            for (int i = 0; i < 20; i++)
            {
                float[] batch = BenchmarkModels.Pixels(100, 100 + i);
                NamedTensor[] inputs = [new NamedTensor("input", Tensor.Create<float>(batch, 100, 1, 28, 28))];
                builder.Add(inputs, session.Run(inputs));
            }

            await monitor.SetReferenceProfileAsync(version, builder.Build("dataset", DateTimeOffset.UtcNow));
        }

        await pool.RunAsync(_reference, _inputs);
        return (pool, monitor);
    }

    /// <summary>In process (the shared 2-core machine builds a child project too slowly for BenchmarkDotNet's 2-minute limit), 5 warm-up and 20 measured iterations.</summary>
    private sealed class InProcessConfig : ManualConfig
    {
        public InProcessConfig()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithWarmupCount(5).WithIterationCount(20));
            AddColumn(new DroppedColumn());
        }
    }

    /// <summary>The dropped observations of each case's monitor, of those it sampled (recorded in its GlobalCleanup).</summary>
    private sealed class DroppedColumn : IColumn
    {
        public string Id => nameof(DroppedColumn);

        public string ColumnName => "Dropped / sampled";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => false;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "Observations the monitor dropped (queue full) of those it sampled in the case, after a final flush; a ratio with drops flatters monitoring";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            Drops.TryGetValue(benchmarkCase.Descriptor.WorkloadMethod.Name, out string? value) ? value : "-";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;
    }

    private sealed class HostCleanup(ServiceProvider provider, string directory) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await provider.DisposeAsync();
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    private delegate void ScalarReducer(ReadOnlySpan<double> sample, int channels, TensorReducers reducers, int lastDimension, Span<double> target);

    private delegate bool VectorizedReducer(ReadOnlySpan<double> sample, int channels, TensorReducers reducers, int lastDimension, Span<double> target);

    private static T BindReducer<T>(string name)
        where T : Delegate =>
        (T)(typeof(FeatureExtractor).GetMethod(name, System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)?.CreateDelegate(typeof(T))
            ?? throw new InvalidOperationException($"FeatureExtractor.{name} is gone; update the monitoring benchmark."));
}
