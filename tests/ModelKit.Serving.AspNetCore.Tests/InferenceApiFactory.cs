using System.IdentityModel.Tokens.Jwt;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary>
/// The samples/InferenceApi application in memory (WebApplicationFactory) over a real registry in a temporary data
/// directory, with the models the tests use registered before the first request.
/// </summary>
public class InferenceApiFactory : WebApplicationFactory<Program>
{
    public const string ApiKey = "test-api-key-0123456789";
    public const string JwtSigningKey = "a-test-signing-key-that-is-long-enough-for-hs256";

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-endpoints-{Guid.NewGuid():N}");
    private readonly SemaphoreSlim _seedGate = new(1, 1);
    private bool _seeded;

    protected virtual IEnumerable<KeyValuePair<string, string>> Settings => [];

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("ModelKit:DataDirectory", _dataDirectory);
        builder.UseSetting("Auth:ApiKeys:0", ApiKey);
        builder.UseSetting("Auth:Jwt:SigningKey", JwtSigningKey);
        foreach (KeyValuePair<string, string> setting in Settings)
        {
            builder.UseSetting(setting.Key, setting.Value);
        }

        builder.ConfigureServices(services =>
        {
            services.Configure<OnnxRuntimeOptions>(o => o.IntraOpThreadCount = 1);
            services.Configure<InferenceSessionPoolOptions>(o =>
            {
                o.ReloadPollInterval = TimeSpan.FromMilliseconds(50);
                o.Models["slow"] = new ModelServingOptions
                {
                    Batching = new BatchingOptions { MaxQueueLength = 1, MaxBatchSize = 64, MaxQueueDelay = TimeSpan.FromMilliseconds(1) },
                };
            });
        });
    }

    public IModelRegistry Registry => Services.GetRequiredService<IModelRegistry>();

    /// <summary>Registers the shared models once: gemm (v1, alias production), scale (v1 ×2 production, v2 ×3), addsub, identity-&lt;type&gt;, slow.</summary>
    public async Task SeedAsync()
    {
        await _seedGate.WaitAsync();
        try
        {
            if (_seeded)
            {
                return;
            }

            await RegisterAsync("gemm", TestModels.GemmRelu(), "production");
            await RegisterAsync("scale", TestModels.Scale(2f), "production");
            await RegisterAsync("scale", TestModels.Scale(3f));
            await RegisterAsync("addsub", TestModels.AddSub());
            await RegisterAsync("slow", TestModels.Slow());
            foreach (string datatype in TestModels.DatatypeNames)
            {
                await RegisterAsync($"identity-{datatype.ToLowerInvariant()}", TestModels.Identity(TestModels.ElementType(datatype)));
            }

            _seeded = true;
        }
        finally
        {
            _seedGate.Release();
        }
    }

    public async Task<ModelVersion> RegisterAsync(string name, byte[] model, string? alias = null)
    {
        using var content = new MemoryStream(model);
        ModelVersion version = await Registry.RegisterAsync(new ModelRegistration(name), content);
        if (alias is not null)
        {
            await Registry.SetAliasAsync(name, alias, version.Version);
        }

        return version;
    }

    public HttpClient CreateManagementClient()
    {
        HttpClient client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", ApiKey);
        return client;
    }

    public static string CreateJwt(string signingKey = JwtSigningKey, string audience = "modelkit-management")
    {
        var credentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey)), SecurityAlgorithms.HmacSha256);
        var token = new JwtSecurityToken("modelkit", audience, [new Claim("sub", "ci-pipeline")], DateTime.UtcNow.AddMinutes(-1), DateTime.UtcNow.AddMinutes(10), credentials);
        return new JwtSecurityTokenHandler().WriteToken(token);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(_dataDirectory))
        {
            try
            {
                Directory.Delete(_dataDirectory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>The sample with LoadOnDemand off: only configured or explicitly loaded models serve.</summary>
public sealed class NoLoadOnDemandFactory : InferenceApiFactory
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings => [new("ModelKit:Endpoints:LoadOnDemand", "false")];
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

    /// <summary>A body in the binary tensor data extension: JSON header, then the raw bytes.</summary>
    public static ByteArrayContent Binary(string json, params byte[][] raw)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        byte[] body = [.. header, .. raw.SelectMany(r => r)];
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return content;
    }
}
