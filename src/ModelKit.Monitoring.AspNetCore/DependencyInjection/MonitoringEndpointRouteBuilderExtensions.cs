using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring;
using ModelKit.Monitoring.AspNetCore.Internal;
using ModelKit.Serving.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps ModelKit's monitoring endpoints. Call <c>AddMonitoring()</c> and <c>AddInferenceEndpoints()</c> first.</summary>
public static class MonitoringEndpointRouteBuilderExtensions
{
    private const string MonitoringTag = "ModelKit monitoring";

    /// <summary>
    /// Maps the monitoring endpoints under <c>/modelkit/v1/monitoring</c>, described in the OpenAPI document:
    /// <list type="bullet">
    /// <item><c>GET models</c>: every monitored model version (profile source and rows, windows closed, rows in the open
    /// window, the last window's drift share, firing alerts) and the observations dropped because the queue was full.</item>
    /// <item><c>GET models/{name}</c> and <c>GET models/{name}/versions/{version}</c> (a version number, or an alias resolved
    /// through the registry): the reference profile's feature summaries, the open window, the last closed windows with
    /// drift per feature (PSI, Jensen–Shannon, Kolmogorov–Smirnov, Wasserstein-1, chi-squared, drifted), performance
    /// (measured and estimated accuracy, F1, MAE, RMSE) and latency, and each alert rule's state. 404 when no request to
    /// it has been observed.</item>
    /// <item><c>POST labels</c> (<c>{"request_id": "…", "label": 3}</c>): joins the true label to the prediction made for the
    /// request with that id (the Open Inference Protocol request's <c>id</c>); 200 <c>{"outcome": "joined"}</c>, 404 when
    /// no prediction waits for that id, 400 for a missing id or a label that is not a finite number.</item>
    /// <item><c>POST labels/batch</c> (<c>{"labels": [ … ]}</c>, at most 10,000): 200 with the number joined and the ids
    /// that were unknown.</item>
    /// </list>
    /// Every endpoint is read-only except the label posts, and all require the management authorization of
    /// ModelKit.Serving.AspNetCore: <see cref="InferenceEndpointsOptions.ManagementPolicy"/>, or none when
    /// <see cref="InferenceEndpointsOptions.AllowAnonymousManagement"/> is set. Errors are <c>{"error": "…"}</c>.
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <returns>The <c>/modelkit/v1/monitoring</c> route group, for further conventions.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><c>AddMonitoring()</c> was not called, or the management policy is not registered (<c>AddInferenceEndpoints()</c> was not called).</exception>
    public static RouteGroupBuilder MapModelKitMonitoring(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        IServiceProvider services = endpoints.ServiceProvider;
        if (services.GetService<ModelMonitor>() is null)
        {
            throw new InvalidOperationException(
                "ModelKit monitoring is not registered: call builder.Services.AddModelKit().AddMonitoring(…) before MapModelKitMonitoring().");
        }

        InferenceEndpointsOptions options = services.GetRequiredService<IOptions<InferenceEndpointsOptions>>().Value;
        RouteGroupBuilder m = endpoints.MapGroup("/modelkit/v1/monitoring").WithTags(MonitoringTag);
        if (options.AllowAnonymousManagement)
        {
            m.AllowAnonymous();
        }
        else
        {
            AuthorizationPolicy? policy = services.GetService<IAuthorizationPolicyProvider>()?.GetPolicyAsync(options.ManagementPolicy).GetAwaiter().GetResult();
            if (policy is null)
            {
                throw new InvalidOperationException(
                    $"The management authorization policy '{options.ManagementPolicy}' is not registered: call builder.Services.AddModelKit()….AddInferenceEndpoints() (it registers it) before MapModelKitMonitoring().");
            }

            m.RequireAuthorization(options.ManagementPolicy);
        }

        m.MapGet("/models", MonitoringEndpoints.ListMonitored)
            .WithName("ModelKitMonitoringList").WithSummary("Lists the monitored model versions: profile, windows, last drift share, firing alerts.")
            .Produces<MonitoredModelsBody>();
        m.MapGet("/models/{name}", MonitoringEndpoints.GetModel)
            .WithName("ModelKitMonitoringModel").WithSummary("Monitoring state of every observed version of a model: profile, open window, drift per feature, performance, alert states.")
            .Produces<MonitoredModelBody>().Produces<ErrorBody>(400).Produces<ErrorBody>(404);
        m.MapGet("/models/{name}/versions/{version}", MonitoringEndpoints.GetVersion)
            .WithName("ModelKitMonitoringVersion").WithSummary("Monitoring state of a version (digits) or an alias's version: profile, open window, drift per feature, performance, alert states.")
            .Produces<MonitoredVersionBody>().Produces<ErrorBody>(400).Produces<ErrorBody>(404);
        m.MapPost("/labels", MonitoringEndpoints.PostLabel)
            .WithName("ModelKitMonitoringPostLabel").WithSummary("Joins a true label to the prediction made for a request id; 404 when no prediction waits for it.")
            .Accepts<LabelBody>("application/json").Produces<LabelResultBody>().Produces<ErrorBody>(400).Produces<ErrorBody>(404).Produces<ErrorBody>(413);
        m.MapPost("/labels/batch", MonitoringEndpoints.PostLabels)
            .WithName("ModelKitMonitoringPostLabels").WithSummary("Joins up to 10,000 labels by request id; answers how many joined and which ids were unknown.")
            .Accepts<LabelBatchBody>("application/json").Produces<LabelBatchResultBody>().Produces<ErrorBody>(400).Produces<ErrorBody>(413);
        return m;
    }
}
