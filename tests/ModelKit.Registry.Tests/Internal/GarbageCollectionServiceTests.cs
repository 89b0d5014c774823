using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Registry.Internal;
using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.Internal;

public sealed class GarbageCollectionServiceTests : IDisposable
{
    private readonly TestDataDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly ConcurrentDictionary<string, long> _measurements = new();
    private readonly MeterListener _listener = new();
    private readonly ScopedMeterFactory _meters = new();

    public GarbageCollectionServiceTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Only this test's meters: other tests in the assembly collect garbage at the same time.
            if (ReferenceEquals(instrument.Meter.Scope, _meters) && instrument.Name.StartsWith("modelkit.registry.gc.", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                key += $"|{tag.Key}={tag.Value}";
            }

            _measurements.AddOrUpdate(key, value, (_, sum) => sum + value);
        });
        _listener.Start();
    }

    public void Dispose()
    {
        _listener.Dispose();
        _meters.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    [Fact]
    public async Task Scheduled_EachInterval_DeletesUnreferencedArtifactsPastTheGracePeriod_AndCountsTheRun()
    {
        using ServiceProvider provider = Build(o =>
        {
            o.GarbageCollectionInterval = TimeSpan.FromHours(1);
            o.GarbageCollectionGracePeriod = TimeSpan.FromMinutes(30);
        });
        var registry = (ModelRegistry)provider.GetRequiredService<IModelRegistry>();
        ModelVersion kept = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        ModelVersion dropped = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        await registry.DeleteVersionAsync("relu", dropped.Version);
        GarbageCollectionService service = provider.GetServices<IHostedService>().OfType<GarbageCollectionService>().Single();

        await service.StartAsync(CancellationToken.None);
        _time.Advance(TimeSpan.FromHours(1));
        await WaitUntilAsync(() => Measured("modelkit.registry.gc.runs|modelkit.registry.gc.outcome=success") == 1);

        Assert.False(await registry.Artifacts.ExistsAsync(dropped.Digest));
        Assert.True(await registry.Artifacts.ExistsAsync(kept.Digest));
        Assert.Equal(1, Measured("modelkit.registry.gc.deleted"));
        Assert.Equal(dropped.SizeBytes, Measured("modelkit.registry.gc.deleted_bytes"));

        _time.Advance(TimeSpan.FromHours(1));
        await WaitUntilAsync(() => Measured("modelkit.registry.gc.runs|modelkit.registry.gc.outcome=success") == 2);
        await service.StopAsync(CancellationToken.None);
        Assert.True(service.ExecuteTask!.IsCompletedSuccessfully);
        service.Dispose();
    }

    [Fact]
    public async Task Scheduled_ByDefault_IsOff_AndTheServiceEndsAtOnce()
    {
        using ServiceProvider provider = Build(_ => { });
        GarbageCollectionService service = Assert.Single(provider.GetServices<IHostedService>().OfType<GarbageCollectionService>());

        await service.StartAsync(CancellationToken.None);
        await service.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.True(service.ExecuteTask.IsCompletedSuccessfully);
        Assert.False(Directory.Exists(_dir.DataDirectory), "An idle schedule must not open the registry.");
    }

    [Fact]
    public void Options_IntervalBelowOneSecond_FailsValidationQuotingTheValue()
    {
        using ServiceProvider provider = Build(o => o.GarbageCollectionInterval = TimeSpan.FromMilliseconds(500));

        OptionsValidationException ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ModelRegistryOptions>>().Value);

        Assert.Contains("ModelRegistryOptions.GarbageCollectionInterval is 00:00:00.5000000; it must be at least 1 second", ex.Message, StringComparison.Ordinal);
    }

    private ServiceProvider Build(Action<ModelRegistryOptions> configure)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddSingleton<IMeterFactory>(_meters);
        services.AddModelKit(o => o.DataDirectory = _dir.DataDirectory)
            .AddModelRegistry(r => r.Configure(configure))
            .AddModelRegistry()
            .AddOnnx();
        return services.BuildServiceProvider();
    }

    private long Measured(string key) => _measurements.GetValueOrDefault(key);

    /// <summary>Polls until <paramref name="condition"/> holds; fails after 60 s (a deadline for a broken schedule, not a timing assertion).</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 60 s.");
            await Task.Delay(10);
        }
    }

    private sealed class ScopedMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _created = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            lock (_created)
            {
                _created.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_created)
            {
                _created.ForEach(m => m.Dispose());
            }
        }
    }
}
