using Microsoft.Extensions.DependencyInjection;
using ModelKit.Onnx;
using ModelKit.Registry.Internal;

namespace ModelKit.Registry.Tests.TestSupport;

/// <summary>A registry built the way a host builds it: AddModelKit().AddModelRegistry().AddOnnx().</summary>
internal sealed class TestRegistry : IDisposable
{
    private readonly ServiceProvider _services;

    public TestRegistry(string dataDirectory, bool addOnnx = true)
    {
        IModelKitBuilder builder = new ServiceCollection().AddModelKit(o => o.DataDirectory = dataDirectory).AddModelRegistry();
        if (addOnnx)
        {
            builder.AddOnnx();
        }

        _services = builder.Services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        Registry = _services.GetRequiredService<IModelRegistry>();
    }

    public IModelRegistry Registry { get; }

    public ModelRegistry Internal => (ModelRegistry)Registry;

    public Task<ModelVersion> RegisterAsync(string name, byte[] content, ModelRegistration? registration = null) =>
        Registry.RegisterAsync(registration ?? new ModelRegistration(name), new MemoryStream(content));

    public async Task<byte[]> ReadArtifactAsync(ModelVersion version)
    {
        using var copy = new MemoryStream();
        Stream stream = await Registry.OpenArtifactAsync(version);
        await using (stream)
        {
            await stream.CopyToAsync(copy);
        }

        return copy.ToArray();
    }

    public void Dispose() => _services.Dispose();
}
