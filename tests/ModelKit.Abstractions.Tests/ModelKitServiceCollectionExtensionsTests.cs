using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelKit.Abstractions.Tests;

public sealed class ModelKitServiceCollectionExtensionsTests
{
    [Fact]
    public void AddModelKit_CalledTwice_AppliesBothConfigurationsAndRegistersOnce()
    {
        var services = new ServiceCollection();

        IModelKitBuilder first = services.AddModelKit(o => o.DataDirectory = "a");
        int count = services.Count;
        IModelKitBuilder second = services.AddModelKit(o => o.DataDirectory += "/b");

        Assert.Same(services, first.Services);
        Assert.Same(services, second.Services);
        Assert.Equal(count + 1, services.Count); // only the second configure delegate is new: no second validator
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Equal("a/b", provider.GetRequiredService<IOptions<ModelKitOptions>>().Value.DataDirectory);
        Assert.Same(TimeProvider.System, provider.GetRequiredService<TimeProvider>());
    }

    [Fact]
    public void AddModelKit_EmptyDataDirectory_FailsValidationWithGuidance()
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = " ");
        using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ModelKitOptions>>().Value);

        Assert.Contains("ModelKitOptions.DataDirectory must not be empty", ex.Message, StringComparison.Ordinal);
    }
}
