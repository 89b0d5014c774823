using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Serving.AspNetCore;
using ModelKit.Serving.AspNetCore.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the Open Inference Protocol v2 endpoints, the management endpoints and the health check.</summary>
public static class InferenceEndpointsModelKitBuilderExtensions
{
    /// <summary>
    /// Registers what <c>MapModelKitInference</c>, <c>MapModelKitGrpc</c> and <c>MapModelKitManagement</c> need: gRPC,
    /// the <see cref="InferenceEndpointsOptions"/> (validated at start), <see cref="OipJsonInference"/> (the REST
    /// inference request run in-process), the background load of
    /// <see cref="InferenceEndpointsOptions.Models"/>, the health check <c>modelkit-models</c> (tagged <c>ready</c>) and the
    /// authorization policy <see cref="InferenceEndpointsOptions.DefaultManagementPolicy"/> ("an authenticated user")
    /// unless the host registers a policy of that name itself. Needs an <c>IModelRegistry</c> (<c>AddModelRegistry()</c>)
    /// and an <c>IInferenceSessionPool</c> (<c>AddOnnxRuntimeServing()</c>). Safe to call more than once; each
    /// <paramref name="configure"/> is applied.
    /// </summary>
    /// <param name="builder">The ModelKit builder.</param>
    /// <param name="configure">Sets the options; optional.</param>
    /// <returns><paramref name="builder"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddInferenceEndpoints(this IModelKitBuilder builder, Action<InferenceEndpointsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.AddValidatedModelKitOptions<InferenceEndpointsOptions, InferenceEndpointsOptionsValidator>(configure);
        if (services.Any(d => d.ServiceType == typeof(InferenceEndpointHandler)))
        {
            return builder;
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ModelReadiness>();
        services.AddSingleton<InferenceEndpointHandler>();
        services.AddSingleton(sp => new OipJsonInference(sp.GetRequiredService<InferenceEndpointHandler>()));
        services.AddSingleton<ModelRepositoryExtension>();
        services.AddHostedService<ModelPreloadService>();
        services.AddGrpc();
        services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<InferenceEndpointsOptions>>((grpc, endpoints) => grpc.MaxReceiveMessageSize = endpoints.Value.MaxRequestBodyBytes);
        services.AddHealthChecks().AddCheck<ModelKitModelsHealthCheck>("modelkit-models", tags: ["ready"]);
        services.AddAuthorization();
        services.AddOptions<AuthorizationOptions>()
            .Configure<IOptions<InferenceEndpointsOptions>>((authorization, endpoints) =>
            {
                string policy = endpoints.Value.ManagementPolicy;
                if (authorization.GetPolicy(policy) is null)
                {
                    authorization.AddPolicy(policy, p => p.RequireAuthenticatedUser());
                }
            });
        return builder;
    }
}
