using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Serving.Tests;

/// <summary>A real registry (SQLite + blob store in a temporary directory) and a real ONNX Runtime session pool over it.</summary>
internal sealed class ServingHost : IAsyncDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-serving-{Guid.NewGuid():N}");
    private readonly ServiceProvider _provider;

    public ServingHost(Action<InferenceSessionPoolOptions>? configure = null, TimeProvider? time = null, ScopedMeterFactory? meterFactory = null, IInferenceObserver? observer = null)
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _dataDirectory).AddModelRegistry().AddOnnx().AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1);
        MeterFactory = meterFactory;
        _provider = services.BuildServiceProvider();
        Registry = _provider.GetRequiredService<IModelRegistry>();
        Factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = 1 }), meterFactory: meterFactory, registry: Registry);
        var options = new InferenceSessionPoolOptions { ReloadPollInterval = TimeSpan.Zero, UseRegistryNotifications = false };
        configure?.Invoke(options);
        Pool = new OnnxRuntimeSessionPool(Factory, Options.Create(options), timeProvider: time, observers: observer is null ? null : [observer]);
    }

    public IModelRegistry Registry { get; }

    public OnnxRuntimeSessionFactory Factory { get; }

    public OnnxRuntimeSessionPool Pool { get; }

    public ScopedMeterFactory? MeterFactory { get; }

    public async Task<ModelVersion> RegisterAsync(string name, byte[] model, string? alias = null)
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
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }
}
