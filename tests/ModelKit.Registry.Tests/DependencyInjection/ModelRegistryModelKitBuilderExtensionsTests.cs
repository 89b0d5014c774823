using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.DependencyInjection;

public sealed class ModelRegistryModelKitBuilderExtensionsTests : IDisposable
{
    private readonly TestDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void AddModelRegistry_CalledTwice_RegistersOneSingleton()
    {
        var services = new ServiceCollection();

        IModelKitBuilder builder = services.AddModelKit(o => o.DataDirectory = _dir.DataDirectory);
        Assert.Same(builder, builder.AddModelRegistry());
        services.AddModelKit().AddModelRegistry();

        ServiceDescriptor descriptor = Assert.Single(services, d => d.ServiceType == typeof(IModelRegistry));
        Assert.Equal(ServiceLifetime.Singleton, descriptor.Lifetime);
        using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        Assert.Same(provider.GetRequiredService<IModelRegistry>(), provider.GetRequiredService<IModelRegistry>());
        Assert.False(Directory.Exists(_dir.DataDirectory), "Resolving the registry must not touch the disk.");
    }

    [Fact]
    public async Task AddModelRegistry_WithAddOnnx_RegistersAndResolvesAModel()
    {
        using ServiceProvider provider = new ServiceCollection()
            .AddModelKit(o => o.DataDirectory = _dir.DataDirectory)
            .AddModelRegistry()
            .AddOnnx()
            .Services.BuildServiceProvider();
        IModelRegistry registry = provider.GetRequiredService<IModelRegistry>();

        ModelVersion version = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu()));

        Assert.Equal(version, await registry.ResolveAsync(ModelReference.Parse("relu")), ModelVersionComparer.Instance);
    }

    [Fact]
    public void AddModelRegistry_NullBuilder_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => ModelRegistryModelKitBuilderExtensions.AddModelRegistry(null!));
    }

    /// <summary>ModelVersion's record equality compares dictionaries by reference; this compares what is stored.</summary>
    private sealed class ModelVersionComparer : IEqualityComparer<ModelVersion>
    {
        public static readonly ModelVersionComparer Instance = new();

        public bool Equals(ModelVersion? x, ModelVersion? y) =>
            x is not null && y is not null && x.Name == y.Name && x.Version == y.Version && x.Digest == y.Digest &&
            x.SizeBytes == y.SizeBytes && x.Format == y.Format && x.Signature == y.Signature && x.CreatedAt == y.CreatedAt;

        public int GetHashCode(ModelVersion obj) => HashCode.Combine(obj.Name, obj.Version);
    }
}
