using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Profiles;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Tests.DependencyInjection;

public sealed class MonitoringModelKitBuilderExtensionsTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"modelkit-monitoring-di-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task AddMonitoring_CalledTwice_RegistersOneMonitorAsTheOnlyObserverAndAppliesBothDelegates()
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _directory).AddMonitoring(o => o.WindowSize = 50).AddMonitoring(o => o.SamplingRate = 0.5);
        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });

        IInferenceObserver observer = Assert.Single(provider.GetServices<IInferenceObserver>());
        Assert.Same(provider.GetRequiredService<ModelMonitor>(), observer);
        MonitoringOptions options = provider.GetRequiredService<IOptions<MonitoringOptions>>().Value;
        Assert.Equal(50, options.WindowSize);
        Assert.Equal(0.5, options.SamplingRate);
        // Without a registry the profiles go to files in the data directory.
        Assert.IsType<FileReferenceProfileStore>(provider.GetRequiredService<IReferenceProfileStore>());
        Assert.IsType<LoggerAlertSink>(Assert.Single(provider.GetServices<IAlertSink>()));
    }

    [Fact]
    public async Task AddMonitoring_InvalidOptions_FailValidationWithMessagesQuotingTheValues()
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _directory).AddMonitoring(o =>
        {
            o.WindowSize = 0;
            o.Rules.Add(new AlertRule { Name = "Bad", Metric = "drift.pixels.mean" });
            o.Rules.Add(new AlertRule { Name = "bad name", Metric = "drift.share", RepeatInterval = TimeSpan.Zero });
        });
        await using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<MonitoringOptions>>().Value);
        string message = string.Join("\n", ex.Failures);
        Assert.Contains("WindowSize", message, StringComparison.Ordinal);
        Assert.Contains("unknown metric 'drift.pixels.mean'", message, StringComparison.Ordinal);
        Assert.Contains("Rules[1] ('bad name'): the name must be letters", message, StringComparison.Ordinal);
        Assert.Contains("RepeatInterval is 00:00:00", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServingPool_WithMonitoring_ObservesRequestsAndJoinsLabelsByRequestId()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddModelKit(o => o.DataDirectory = _directory)
            .AddOnnx()
            .AddModelRegistry()
            .AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1)
            .AddMonitoring(o =>
            {
                o.BaselineSize = 20;
                o.WindowSize = 10;
                o.MinWindowSize = 10;
                o.Capture.Enabled = true;
            });
        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        var registry = provider.GetRequiredService<IModelRegistry>();
        byte[] model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("W", [1.5f, 0, 0, 0, 1.5f, 0, 0, 0, 1.5f, -1, -1, -1], 4, 3)
            .AddNode("Gemm", ["x", "W"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 4)
            .ToBytes();
        using var content = new MemoryStream(model);
        ModelVersion version = await registry.RegisterAsync(new ModelRegistration("tabular"), content);
        var pool = provider.GetRequiredService<IInferenceSessionPool>();
        var monitor = provider.GetRequiredService<ModelMonitor>();
        var random = new Random(3);
        for (int i = 0; i < 30; i++)
        {
            (float[] x, _, _) = TestData.Rows(random, 1);
            await pool.RunAsync(ModelReference.Parse("tabular"), TestData.Inputs(x), new InferenceRequestOptions { RequestId = $"req-{i}" });
        }

        Assert.Equal(LabelJoinResult.Joined, await monitor.PostLabelAsync("req-25", 1));
        Assert.Equal(LabelJoinResult.UnknownRequestId, await monitor.PostLabelAsync("req-5", 1));
        await monitor.FlushAsync();

        MonitoredModelState state = Assert.Single(monitor.GetState());
        Assert.Equal(version.Version, state.ModelVersion);
        Assert.Equal(30, state.ObservedRequests);
        Assert.Equal("baseline", state.ProfileSource);
        Assert.Equal(1, state.WindowsClosed);
        Assert.Single(Directory.GetFiles(Path.Combine(_directory, "monitoring", "capture"), "capture-*.jsonl"));
    }
}
