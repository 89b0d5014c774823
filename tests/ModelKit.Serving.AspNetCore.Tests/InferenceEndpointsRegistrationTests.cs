using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ModelKit.Serving.AspNetCore.Tests;

public sealed class InferenceEndpointsRegistrationTests
{
    [Fact]
    public void AddInferenceEndpoints_CalledTwice_RegistersOnceAndAppliesBothConfigurations()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        IModelKitBuilder builder = services.AddModelKit().AddModelRegistry().AddOnnxRuntimeServing();
        builder.AddInferenceEndpoints(o => o.ServerName = "first").AddInferenceEndpoints(o => o.DefaultAlias = "champion");
        using ServiceProvider provider = services.BuildServiceProvider();

        InferenceEndpointsOptions options = provider.GetRequiredService<IOptions<InferenceEndpointsOptions>>().Value;
        Assert.Equal("first", options.ServerName);
        Assert.Equal("champion", options.DefaultAlias);
        Assert.Single(provider.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations, r => r.Name == "modelkit-models");
        AuthorizationPolicy policy = provider.GetRequiredService<IOptions<AuthorizationOptions>>().Value.GetPolicy(InferenceEndpointsOptions.DefaultManagementPolicy)!;
        Assert.Contains(policy.Requirements, r => r is Microsoft.AspNetCore.Authorization.Infrastructure.DenyAnonymousAuthorizationRequirement);
    }

    [Theory]
    [InlineData("Not An Alias", "DefaultAlias")]
    [InlineData("production", "Models")]
    public void Options_Invalid_FailValidationQuotingTheValue(string alias, string expected)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddModelKit().AddModelRegistry().AddOnnxRuntimeServing().AddInferenceEndpoints(o =>
        {
            o.DefaultAlias = alias;
            o.Models.Add("Bad Ref!");
        });
        using ServiceProvider provider = services.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<InferenceEndpointsOptions>>().Value);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapModelKitInference_WithoutAddInferenceEndpoints_ThrowsSayingWhatToCall()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        using WebApplication app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.MapModelKitInference());
        Assert.Contains("AddInferenceEndpoints()", error.Message, StringComparison.Ordinal);
    }
}
