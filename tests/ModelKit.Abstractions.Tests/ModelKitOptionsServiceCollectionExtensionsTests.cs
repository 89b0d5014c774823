using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ModelKit.Abstractions.Tests;

public sealed class ModelKitOptionsServiceCollectionExtensionsTests
{
    public sealed class SampleOptions
    {
        [Range(1, 10)]
        public int Size { get; set; } = 5;

        public int Limit { get; set; } = 8;
    }

    public sealed class SampleValidator : IValidateOptions<SampleOptions>
    {
        public ValidateOptionsResult Validate(string? name, SampleOptions options) =>
            options.Size <= options.Limit ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail($"Size {options.Size} exceeds Limit {options.Limit}.");
    }

    [Fact]
    public void AddValidatedModelKitOptions_Twice_RegistersValidationOnceAndAppliesBothConfigurations()
    {
        var services = new ServiceCollection();
        services.AddValidatedModelKitOptions<SampleOptions, SampleValidator>(o => o.Size = 2);
        int afterFirst = services.Count;

        services.AddValidatedModelKitOptions<SampleOptions, SampleValidator>(o => o.Size += 1);

        Assert.Equal(afterFirst + 1, services.Count);
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Equal(3, provider.GetRequiredService<IOptions<SampleOptions>>().Value.Size);
    }

    [Fact]
    public void AddValidatedModelKitOptions_RunsDataAnnotationsAndCrossFieldValidator()
    {
        var services = new ServiceCollection();
        services.AddValidatedModelKitOptions<SampleOptions, SampleValidator>(o => (o.Size, o.Limit) = (9, 4));
        using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<SampleOptions>>().Value);

        Assert.Contains("Size 9 exceeds Limit 4.", ex.Failures);

        var annotated = new ServiceCollection();
        annotated.AddValidatedModelKitOptions<SampleOptions, SampleValidator>(o => o.Size = 0);
        using ServiceProvider p2 = annotated.BuildServiceProvider();
        var ex2 = Assert.Throws<OptionsValidationException>(() => p2.GetRequiredService<IOptions<SampleOptions>>().Value);
        Assert.Contains(ex2.Failures, f => f.Contains("Size", StringComparison.Ordinal));
    }
}
