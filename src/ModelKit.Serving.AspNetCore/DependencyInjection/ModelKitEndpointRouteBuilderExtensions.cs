using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Serving.AspNetCore;
using ModelKit.Serving.AspNetCore.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps ModelKit's endpoints into an ASP.NET Core application. Call <c>AddInferenceEndpoints()</c> first.</summary>
public static class ModelKitEndpointRouteBuilderExtensions
{
    private const string OipTag = "Open Inference Protocol v2";
    private const string ManagementTag = "ModelKit management";

    /// <summary>
    /// Maps the Open Inference Protocol v2 REST API under <c>/v2</c>: <c>GET /v2/health/live</c>, <c>GET /v2/health/ready</c>,
    /// <c>GET /v2</c>, <c>GET /v2/models/{name}[/versions/{version}]</c>, <c>GET …/ready</c> and
    /// <c>POST …/infer</c> (JSON, and the binary tensor data extension). A version of digits names a version; any other
    /// names an alias; none means <see cref="InferenceEndpointsOptions.DefaultAlias"/>, else the latest version. Errors
    /// are <c>{"error": "…"}</c> with 400, 404, 413, 429 (with <c>Retry-After</c>), 503 or 504.
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <returns>The <c>/v2</c> route group, for further conventions (authorization, rate limiting, CORS).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><c>AddInferenceEndpoints()</c> was not called.</exception>
    public static RouteGroupBuilder MapModelKitInference(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ThrowIfNotAdded(endpoints);
        RouteGroupBuilder v2 = endpoints.MapGroup("/v2").WithTags(OipTag);
        v2.MapGet("/health/live", OipRestEndpoints.Live).WithName("OipServerLive").WithSummary("Server liveness: 200 while the process serves.");
        v2.MapGet("/health/ready", OipRestEndpoints.Ready).WithName("OipServerReady").WithSummary("Server readiness: 200 once every configured model is loaded, else 503.");
        v2.MapGet("", OipRestEndpoints.ServerMetadata).WithName("OipServerMetadata").WithSummary("Server name, version and extensions.");
        v2.MapGet("/models/{name}", (string name, InferenceEndpointHandler h, CancellationToken ct) => OipRestEndpoints.ModelMetadata(name, null, h, ct))
            .WithName("OipModelMetadata").WithSummary("Model metadata of the default version: versions, platform, inputs and outputs.");
        v2.MapGet("/models/{name}/versions/{version}", (string name, string version, InferenceEndpointHandler h, CancellationToken ct) => OipRestEndpoints.ModelMetadata(name, version, h, ct))
            .WithName("OipModelVersionMetadata").WithSummary("Model metadata of a version (digits) or alias (any other string).");
        v2.MapGet("/models/{name}/ready", (string name, InferenceEndpointHandler h, CancellationToken ct) => OipRestEndpoints.ModelReady(name, null, h, ct))
            .WithName("OipModelReady").WithSummary("200 when the default version is loaded, 503 when it is not, 404 when unknown.");
        v2.MapGet("/models/{name}/versions/{version}/ready", (string name, string version, InferenceEndpointHandler h, CancellationToken ct) => OipRestEndpoints.ModelReady(name, version, h, ct))
            .WithName("OipModelVersionReady").WithSummary("200 when the version is loaded, 503 when it is not, 404 when unknown.");
        v2.MapPost("/models/{name}/infer", (string name, HttpContext context) => OipRestEndpoints.Infer(context))
            .Accepts<Stream>("application/json", "application/octet-stream").Produces(200, contentType: "application/json").Produces<ErrorBody>(400).Produces<ErrorBody>(404).Produces<ErrorBody>(429).Produces<ErrorBody>(503).Produces<ErrorBody>(504)
            .WithName("OipModelInfer").WithSummary("Runs an inference request on the default version (JSON or the binary tensor data extension).");
        v2.MapPost("/models/{name}/versions/{version}/infer", (string name, string version, HttpContext context) => OipRestEndpoints.Infer(context))
            .Accepts<Stream>("application/json", "application/octet-stream").Produces(200, contentType: "application/json").Produces<ErrorBody>(400).Produces<ErrorBody>(404).Produces<ErrorBody>(429).Produces<ErrorBody>(503).Produces<ErrorBody>(504)
            .WithName("OipModelVersionInfer").WithSummary("Runs an inference request on a version (digits) or alias (any other string).");
        return v2;
    }

    /// <summary>
    /// Maps the Open Inference Protocol v2 gRPC service <c>inference.GRPCInferenceService</c> (ServerLive, ServerReady,
    /// ModelReady, ServerMetadata, ModelMetadata, ModelInfer; and RepositoryIndex, RepositoryModelLoad,
    /// RepositoryModelUnload once <c>MapModelKitRepository()</c> enables them). gRPC needs HTTP/2: over cleartext, listen
    /// with <c>KestrelServerOptions.ListenHttp1AndHttp2Cleartext(endPoint)</c> for REST and gRPC on one port, or give
    /// gRPC an endpoint with <c>HttpProtocols.Http2</c> (an <c>Http1AndHttp2</c> endpoint without TLS speaks HTTP/1.1 only).
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <returns>The service's convention builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><c>AddInferenceEndpoints()</c> was not called.</exception>
    public static IEndpointConventionBuilder MapModelKitGrpc(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ThrowIfNotAdded(endpoints);
        return endpoints.MapGrpcService<GrpcInferenceEndpoint>();
    }

    /// <summary>
    /// Maps ModelKit's management endpoints under <c>/modelkit/v1</c>: <c>GET models</c>, <c>GET models/{name}</c>,
    /// <c>POST models/{name}/versions</c> (streamed model upload, query <c>alias</c>, <c>tag=k=v</c>, <c>metric=k=v</c>,
    /// <c>description</c>), <c>GET models/{name}/versions/{version}</c>, <c>PUT models/{name}/aliases/{alias}</c>
    /// (<c>{"version": N, "expected_version": M}</c>; 409 when the alias does not point at M),
    /// <c>GET models/{name}/aliases/{alias}/history</c>, <c>GET loaded</c>, and <c>POST models/{name}[/versions/{version}]/load|unload|reload</c>.
    /// Every one requires <see cref="InferenceEndpointsOptions.ManagementPolicy"/> unless
    /// <see cref="InferenceEndpointsOptions.AllowAnonymousManagement"/> is set.
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <returns>The <c>/modelkit/v1</c> route group; add <c>RequireAuthorization(…)</c> for further policies.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><c>AddInferenceEndpoints()</c> was not called.</exception>
    public static RouteGroupBuilder MapModelKitManagement(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ThrowIfNotAdded(endpoints);
        RouteGroupBuilder m = RequireManagementAuthorization(endpoints, endpoints.MapGroup("/modelkit/v1").WithTags(ManagementTag));

        m.MapGet("/models", ManagementEndpoints.ListModels)
            .WithName("ModelKitListModels").WithSummary("Lists the registered model names.").Produces<ModelListBody>();
        m.MapGet("/models/{name}", ManagementEndpoints.GetModel)
            .WithName("ModelKitGetModel").WithSummary("Lists a model's versions and aliases.").Produces<ModelSummaryBody>().Produces<ErrorBody>(404);
        m.MapPost("/models/{name}/versions", ManagementEndpoints.Register)
            .WithName("ModelKitRegister").WithSummary("Registers the request body (an ONNX file, streamed) as the model's next version.")
            .Accepts<Stream>("application/octet-stream").Produces<VersionBody>(201).Produces<ErrorBody>(400).Produces<ErrorBody>(413).DisableAntiforgery();
        m.MapGet("/models/{name}/versions/{version}", ManagementEndpoints.GetVersion)
            .WithName("ModelKitGetVersion").WithSummary("Shows a version (digits) or an alias's version: signature, metrics, tags, lineage, aliases.").Produces<VersionBody>().Produces<ErrorBody>(404);
        m.MapPut("/models/{name}/aliases/{alias}", ManagementEndpoints.SetAlias)
            .WithName("ModelKitSetAlias").WithSummary("Points an alias at a version; with expected_version, only when it points at that version now (409 otherwise).")
            .Accepts<SetAliasBody>("application/json").Produces<AliasBody>().Produces<AliasConflictBody>(409).Produces<ErrorBody>(404);
        m.MapGet("/models/{name}/aliases/{alias}/history", ManagementEndpoints.AliasHistory)
            .WithName("ModelKitAliasHistory").WithSummary("Lists every recorded move of an alias, oldest first.").Produces<AliasHistoryBody>().Produces<ErrorBody>(404);
        m.MapGet("/loaded", ManagementEndpoints.Loaded)
            .WithName("ModelKitLoaded").WithSummary("Lists the loaded references and the versions serving them.").Produces<LoadedModelsBody>();
        foreach (string action in new[] { "load", "unload", "reload" })
        {
            Func<HttpContext, string, string?, InferenceEndpointHandler, Microsoft.Extensions.Logging.ILoggerFactory, Task<IResult>> run = action switch
            {
                "load" => ManagementEndpoints.Load,
                "unload" => ManagementEndpoints.Unload,
                _ => ManagementEndpoints.Reload,
            };
            m.MapPost($"/models/{{name}}/{action}", (HttpContext c, string name, InferenceEndpointHandler h, Microsoft.Extensions.Logging.ILoggerFactory l) => run(c, name, null, h, l))
                .WithName($"ModelKit{char.ToUpperInvariant(action[0])}{action[1..]}").WithSummary($"{char.ToUpperInvariant(action[0])}{action[1..]}s the model's default version.").Produces<ErrorBody>(404);
            m.MapPost($"/models/{{name}}/versions/{{version}}/{action}", (HttpContext c, string name, string version, InferenceEndpointHandler h, Microsoft.Extensions.Logging.ILoggerFactory l) => run(c, name, version, h, l))
                .WithName($"ModelKit{char.ToUpperInvariant(action[0])}{action[1..]}Version").WithSummary($"{char.ToUpperInvariant(action[0])}{action[1..]}s a version (digits) or alias.").Produces<ErrorBody>(404);
        }

        return m;
    }

    /// <summary>
    /// Maps a route group under <c>/modelkit/v1/{prefix}</c> with the management endpoints' authorization rule:
    /// <see cref="InferenceEndpointsOptions.ManagementPolicy"/>, or anonymous access only when
    /// <see cref="InferenceEndpointsOptions.AllowAnonymousManagement"/> is set. For packages that add management
    /// endpoints of their own (monitoring, for example), so that every management endpoint answers to one rule.
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <param name="prefix">The path under <c>/modelkit/v1</c>, for example <c>monitoring</c>; no leading slash needed.</param>
    /// <returns>The route group; map endpoints on it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> or <paramref name="prefix"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="prefix"/> is empty or white space.</exception>
    /// <exception cref="InvalidOperationException"><c>AddInferenceEndpoints()</c> was not called.</exception>
    public static RouteGroupBuilder MapModelKitManagementGroup(this IEndpointRouteBuilder endpoints, string prefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentException.ThrowIfNullOrWhiteSpace(prefix);
        ThrowIfNotAdded(endpoints);
        return RequireManagementAuthorization(endpoints, endpoints.MapGroup("/modelkit/v1/" + prefix.TrimStart('/')).WithTags(ManagementTag));
    }

    /// <summary>
    /// Maps the Open Inference Protocol's model repository extension (<c>model_repository</c>, as Triton, KServe and
    /// MLServer define it) over REST, enables it over gRPC (<c>RepositoryIndex</c>, <c>RepositoryModelLoad</c>,
    /// <c>RepositoryModelUnload</c>) and lists it in the server metadata's <c>extensions</c>:
    /// <c>POST /v2/repository/index</c> (body <c>{"ready": true}</c> lists only loaded versions; every registered version
    /// is one row with <c>name</c>, <c>version</c>, <c>state</c> READY or UNAVAILABLE, <c>reason</c>),
    /// <c>POST /v2/repository/models/{name}/load</c> and <c>…/unload</c> (optional body
    /// <c>{"parameters": {"version": "3"}}</c>; a version number or an alias; without it load takes the default version
    /// and unload every loaded reference of the model). Loading and unloading change what the server serves, so the
    /// three endpoints (and the two gRPC methods) require <see cref="InferenceEndpointsOptions.ManagementPolicy"/> unless
    /// <see cref="InferenceEndpointsOptions.AllowAnonymousManagement"/> is set; the host needs authentication and
    /// authorization middleware.
    /// </summary>
    /// <param name="endpoints">The application's route builder.</param>
    /// <returns>The <c>/v2/repository</c> route group.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="endpoints"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException"><c>AddInferenceEndpoints()</c> was not called.</exception>
    public static RouteGroupBuilder MapModelKitRepository(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ThrowIfNotAdded(endpoints);
        endpoints.ServiceProvider.GetRequiredService<ModelRepositoryExtension>().Enabled = true;
        RouteGroupBuilder r = RequireManagementAuthorization(endpoints, endpoints.MapGroup("/v2/repository").WithTags(OipTag));
        r.MapPost("/index", ModelRepositoryRestEndpoints.Index)
            .WithName("OipRepositoryIndex").WithSummary("Lists every registered version with its state (READY when loaded, else UNAVAILABLE).").Produces<ErrorBody>(400);
        r.MapPost("/models/{name}/load", ModelRepositoryRestEndpoints.Load)
            .WithName("OipRepositoryModelLoad").WithSummary("Loads the model's default version, or the version or alias in parameters.version.").Produces<ErrorBody>(400).Produces<ErrorBody>(404);
        r.MapPost("/models/{name}/unload", ModelRepositoryRestEndpoints.Unload)
            .WithName("OipRepositoryModelUnload").WithSummary("Unloads every loaded reference of the model, or those serving parameters.version.").Produces<ErrorBody>(400).Produces<ErrorBody>(404);
        return r;
    }

    private static RouteGroupBuilder RequireManagementAuthorization(IEndpointRouteBuilder endpoints, RouteGroupBuilder group)
    {
        InferenceEndpointsOptions options = endpoints.ServiceProvider.GetRequiredService<IOptions<InferenceEndpointsOptions>>().Value;
        return options.AllowAnonymousManagement ? group.AllowAnonymous() : group.RequireAuthorization(options.ManagementPolicy);
    }

    private static void ThrowIfNotAdded(IEndpointRouteBuilder endpoints)
    {
        if (endpoints.ServiceProvider.GetService<InferenceEndpointHandler>() is null)
        {
            throw new InvalidOperationException(
                "ModelKit's endpoints are not registered: call builder.Services.AddModelKit().AddModelRegistry().AddOnnxRuntimeServing().AddInferenceEndpoints() before mapping them.");
        }
    }
}
