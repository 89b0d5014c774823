using System.Text;
using InferenceApi;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.IdentityModel.Tokens;
using ModelKit.Diagnostics;
using ModelKit.Serving.AspNetCore;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

var builder = WebApplication.CreateBuilder(args);
ConfigurationManager config = builder.Configuration;

// REST (HTTP/1.1 and HTTP/2) and gRPC on each URL, one port each: ModelKit:Url if set, else the host's urls setting
// (--urls, ASPNETCORE_URLS), else http://127.0.0.1:8080. Kestrel picks HTTP/2 only through TLS ALPN, so for http:// URLs
// ListenHttp1AndHttp2 recognises prior-knowledge HTTP/2 by its connection preface; https:// URLs use ALPN. The urls
// setting is then cleared: these endpoints replace it (Kestrel would otherwise warn that it overrides it).
string urls = config["ModelKit:Url"] ?? config[WebHostDefaults.ServerUrlsKey] ?? "http://127.0.0.1:8080";
builder.WebHost.UseUrls();
builder.WebHost.ConfigureKestrel(k => k.ListenHttp1AndHttp2(urls));

// 1. ModelKit: the registry in a data directory, ONNX Runtime serving, the Open Inference Protocol endpoints.
builder.Services.AddModelKit(o => o.DataDirectory = config["ModelKit:DataDirectory"] ?? "./modelkit-data")
    .AddOnnx()
    .AddModelRegistry()
    .AddOnnxRuntimeServing()
    .AddInferenceEndpoints(o => config.GetSection("ModelKit:Endpoints").Bind(o))
    // Monitoring: drift, performance and alerts on the served traffic; state and label posting under /modelkit/v1/monitoring.
    .AddMonitoring(o => config.GetSection("ModelKit:Monitoring").Bind(o));

// 2. Who may manage models: an API key (header X-Api-Key) or a JWT bearer token signed with the configured key.
string[] apiKeys = config.GetSection("Auth:ApiKeys").Get<string[]>() ?? [];
string? jwtKey = config["Auth:Jwt:SigningKey"];
builder.Services.AddAuthentication(ApiKeyAuthenticationHandler.SchemeName)
    .AddScheme<ApiKeyAuthenticationOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, o => o.Keys = apiKeys)
    .AddJwtBearer(o =>
    {
        o.MapInboundClaims = false;
        o.TokenValidationParameters = new TokenValidationParameters
        {
            ValidIssuer = config["Auth:Jwt:Issuer"] ?? "modelkit",
            ValidAudience = config["Auth:Jwt:Audience"] ?? "modelkit-management",
            // Without a configured key no token validates: JWT is off.
            IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(jwtKey is { Length: >= 32 } ? jwtKey : Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N"))),
        };
    });
builder.Services.AddAuthorizationBuilder()
    .AddPolicy(InferenceEndpointsOptions.DefaultManagementPolicy, p => p
        .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName, JwtBearerDefaults.AuthenticationScheme)
        .RequireAuthenticatedUser());

// 3. Telemetry: ModelKit's meters to a Prometheus scrape endpoint (/metrics); metrics and traces over OTLP when
//    OTEL_EXPORTER_OTLP_ENDPOINT is set.
bool otlp = !string.IsNullOrEmpty(config["OTEL_EXPORTER_OTLP_ENDPOINT"]);
builder.Services.AddOpenTelemetry()
    .ConfigureResource(r => r.AddService("modelkit-inference-api"))
    .WithMetrics(m =>
    {
        m.AddMeter(ModelKitTelemetry.ServingName, ModelKitTelemetry.RegistryName, "ModelKit.Serving.AspNetCore", "ModelKit.Monitoring", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel");
        m.AddPrometheusExporter();
        if (otlp)
        {
            m.AddOtlpExporter();
        }
    })
    .WithTracing(t =>
    {
        t.AddSource(ModelKitTelemetry.ServingName, ModelKitTelemetry.RegistryName);
        if (otlp)
        {
            t.AddOtlpExporter();
        }
    });

builder.Services.AddOpenApi();

var app = builder.Build();
app.MapModelKitInference();
app.MapModelKitGrpc();
app.MapModelKitManagement();
app.MapModelKitRepository();       // OIP model repository extension: /v2/repository/index, …/load, …/unload (management policy)
app.MapModelKitMonitoring();
app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false });
app.MapHealthChecks("/healthz/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") });
app.MapPrometheusScrapingEndpoint();
app.MapOpenApi();
app.Run();

/// <summary>The sample's entry point; public for WebApplicationFactory in the tests.</summary>
public partial class Program;
