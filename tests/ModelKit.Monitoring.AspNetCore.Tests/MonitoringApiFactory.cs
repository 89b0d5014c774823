using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.AspNetCore.Tests;

/// <summary>
/// The samples/InferenceApi application in memory over a real registry in a temporary data directory, with monitoring
/// set for small windows (baseline of 20 requests, windows of 20), JSON Lines capture on, and a classifier registered.
/// </summary>
public class MonitoringApiFactory : WebApplicationFactory<Program>
{
    public const string ApiKey = "monitoring-test-key-0123456789";
    public const int BaselineSize = 20;
    public const int WindowSize = 20;

    private readonly SemaphoreSlim _seedGate = new(1, 1);
    private bool _seeded;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), $"modelkit-monitoring-api-{Guid.NewGuid():N}");

    public string CaptureDirectory => Path.Combine(DataDirectory, "capture");

    protected virtual IEnumerable<KeyValuePair<string, string>> Settings => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ModelKit:DataDirectory", DataDirectory);
        builder.UseSetting("Auth:ApiKeys:0", ApiKey);
        builder.UseSetting("ModelKit:Monitoring:BaselineSize", BaselineSize.ToString(CultureInfo.InvariantCulture));
        builder.UseSetting("ModelKit:Monitoring:WindowSize", WindowSize.ToString(CultureInfo.InvariantCulture));
        builder.UseSetting("ModelKit:Monitoring:MinWindowSize", "10");
        builder.UseSetting("ModelKit:Monitoring:Capture:Enabled", "true");
        builder.UseSetting("ModelKit:Monitoring:Capture:Directory", CaptureDirectory);
        builder.UseSetting("ModelKit:Monitoring:Rules:0:Name", "ClassMixDrift");
        builder.UseSetting("ModelKit:Monitoring:Rules:0:Metric", "drift.share");
        builder.UseSetting("ModelKit:Monitoring:Rules:0:Comparison", "GreaterThanOrEqual");
        builder.UseSetting("ModelKit:Monitoring:Rules:0:Threshold", "0.5");
        foreach (KeyValuePair<string, string> setting in Settings)
        {
            builder.UseSetting(setting.Key, setting.Value);
        }

        builder.ConfigureServices(services => services.Configure<OnnxRuntimeOptions>(o => o.IntraOpThreadCount = 1));
    }

    public IModelRegistry Registry => Services.GetRequiredService<IModelRegistry>();

    public ModelMonitor Monitor => Services.GetRequiredService<ModelMonitor>();

    /// <summary>Registers <c>clf</c> version 1 (alias <c>production</c>) once.</summary>
    public async Task SeedAsync()
    {
        await _seedGate.WaitAsync();
        try
        {
            if (!_seeded)
            {
                using var content = new MemoryStream(Classifier());
                ModelVersion version = await Registry.RegisterAsync(new ModelRegistration("clf"), content);
                await Registry.SetAliasAsync("clf", "production", version.Version);
                _seeded = true;
            }
        }
        finally
        {
            _seedGate.Release();
        }
    }

    public HttpClient CreateManagementClient()
    {
        HttpClient client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return client;
    }

    /// <summary>x FP32 [-1, 3] → Gemm(W 4×3, transB) → logits FP32 [-1, 4]: class k scores 1.5·x[k] for k &lt; 3, −(x0+x1+x2) for 3.</summary>
    public static byte[] Classifier() =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("W", [1.5f, 0, 0, 0, 1.5f, 0, 0, 0, 1.5f, -1, -1, -1], 4, 3)
            .AddInitializer("b", [0f, 0, 0, 0], 4)
            .AddNode("Gemm", ["x", "W", "b"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 4)
            .ToBytes();

    /// <summary>Sends <paramref name="count"/> Open Inference Protocol requests of one row each, with ids <c>{prefix}-{i}</c>; returns the predicted classes.</summary>
    public async Task<int[]> InferAsync(string prefix, int count, int seed, double shift = 0)
    {
        HttpClient client = CreateClient();
        var random = new Random(seed);
        var predicted = new int[count];
        for (int i = 0; i < count; i++)
        {
            double[] x = [Normal(random) + shift, Normal(random), Normal(random)];
            string body = string.Create(CultureInfo.InvariantCulture, $$"""{"id": "{{prefix}}-{{i}}", "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [{{x[0]}}, {{x[1]}}, {{x[2]}}]}]}""");
            HttpResponseMessage response = await client.PostAsync("/v2/models/clf/infer", new StringContent(body, Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
            JsonElement answer = await response.ReadJsonAsync();
            Assert.Equal($"{prefix}-{i}", answer.GetProperty("id").GetString());
            float[] logits = [.. answer.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];
            predicted[i] = Array.IndexOf(logits, logits.Max());
        }

        await Monitor.FlushAsync();
        return predicted;
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(DataDirectory))
        {
            try
            {
                Directory.Delete(DataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>The same host with a management policy that API keys do not satisfy (it needs the role <c>monitoring-admin</c>).</summary>
public sealed class RoleRequiredFactory : MonitoringApiFactory
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureServices(services => services.Configure<Microsoft.AspNetCore.Authorization.AuthorizationOptions>(o =>
            o.AddPolicy(ModelKit.Serving.AspNetCore.InferenceEndpointsOptions.DefaultManagementPolicy, p => p
                .AddAuthenticationSchemes(InferenceApi.ApiKeyAuthenticationHandler.SchemeName)
                .RequireRole("monitoring-admin"))));
    }
}

internal static class Http
{
    public static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static async Task<string> ErrorAsync(this HttpResponseMessage response) =>
        (await response.ReadJsonAsync()).GetProperty("error").GetString()!;
}
