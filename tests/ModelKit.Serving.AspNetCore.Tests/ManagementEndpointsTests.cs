using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace ModelKit.Serving.AspNetCore.Tests;

public sealed class ManagementEndpointsTests(InferenceApiFactory factory) : IClassFixture<InferenceApiFactory>
{
    public static TheoryData<string, string> EveryManagementEndpoint => new()
    {
        { "GET", "/modelkit/v1/models" },
        { "GET", "/modelkit/v1/models/gemm" },
        { "POST", "/modelkit/v1/models/gemm/versions" },
        { "GET", "/modelkit/v1/models/gemm/versions/1" },
        { "PUT", "/modelkit/v1/models/gemm/aliases/staging" },
        { "GET", "/modelkit/v1/models/gemm/aliases/production/history" },
        { "GET", "/modelkit/v1/loaded" },
        { "POST", "/modelkit/v1/models/gemm/load" },
        { "POST", "/modelkit/v1/models/gemm/versions/1/unload" },
        { "POST", "/modelkit/v1/models/gemm/versions/production/reload" },
    };

    [Theory]
    [MemberData(nameof(EveryManagementEndpoint))]
    public async Task Management_Anonymous_Returns401AndChangesNothing(string method, string path)
    {
        await factory.SeedAsync();
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "GET" ? null : new ByteArrayContent(TestModels.Scale(9f)) };
        HttpResponseMessage response = await factory.CreateClient().SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Single(await factory.Registry.ListVersionsAsync("gemm"));
    }

    [Fact]
    public async Task Management_WrongApiKey_Returns401()
    {
        HttpClient client = factory.CreateClient();
        client.DefaultRequestHeaders.Add("X-Api-Key", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/modelkit/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Management_ValidJwtBearer_IsAccepted_ForgedOneIsNot()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", InferenceApiFactory.CreateJwt());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/modelkit/v1/models")).StatusCode);

        HttpClient forged = factory.CreateClient();
        forged.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", InferenceApiFactory.CreateJwt("another-signing-key-that-is-long-enough-for-hs256"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/modelkit/v1/models")).StatusCode);
    }

    [Fact]
    public async Task Register_StreamedUpload_Returns201WithSignatureTagsMetricsAndAlias_ThenInferenceServesIt()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateManagementClient();
        var content = new ByteArrayContent(TestModels.Scale(4f));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        HttpResponseMessage response = await client.PostAsync("/modelkit/v1/models/uploaded/versions?alias=production&tag=team=vision&metric=accuracy=0.91&description=four", content);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        JsonElement body = await response.ReadJsonAsync();
        Assert.Equal(1, body.GetProperty("version").GetInt32());
        Assert.StartsWith("sha256:", body.GetProperty("digest").GetString(), StringComparison.Ordinal);
        Assert.Equal("vision", body.GetProperty("tags").GetProperty("team").GetString());
        Assert.Equal(0.91, body.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal(["production"], body.GetProperty("aliases").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("x", body.GetProperty("inputs")[0].GetProperty("name").GetString());

        JsonElement answer = await (await factory.CreateClient().PostAsync("/v2/models/uploaded/infer", Http.Json("""{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 1, 1]}]}"""))).ReadJsonAsync();
        Assert.Equal(4f, answer.GetProperty("outputs")[0].GetProperty("data")[0].GetSingle());
    }

    [Fact]
    public async Task Register_NotAnOnnxModel_Returns400AndStoresNothing()
    {
        HttpClient client = factory.CreateManagementClient();
        HttpResponseMessage response = await client.PostAsync("/modelkit/v1/models/garbage/versions", new ByteArrayContent("this is not onnx"u8.ToArray()));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/modelkit/v1/models/garbage")).StatusCode);
    }

    [Fact]
    public async Task Register_InvalidName_Returns400()
    {
        HttpResponseMessage response = await factory.CreateManagementClient().PostAsync("/modelkit/v1/models/Bad_Name/versions", new ByteArrayContent(TestModels.Scale(1f)));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("Bad_Name", await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListShowAndVersion_ReturnModelsVersionsAliasesAndDetails()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateManagementClient();
        JsonElement list = await (await client.GetAsync("/modelkit/v1/models")).ReadJsonAsync();
        Assert.Contains("scale", list.GetProperty("models").EnumerateArray().Select(e => e.GetString()));

        JsonElement model = await (await client.GetAsync("/modelkit/v1/models/scale")).ReadJsonAsync();
        Assert.Equal(2, model.GetProperty("versions").GetArrayLength());
        Assert.Equal(1, model.GetProperty("aliases").GetProperty("production").GetInt32());

        JsonElement version = await (await client.GetAsync("/modelkit/v1/models/scale/versions/production")).ReadJsonAsync();
        Assert.Equal(1, version.GetProperty("version").GetInt32());
        Assert.Equal("onnx", version.GetProperty("format").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/modelkit/v1/models/scale/versions/77")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/modelkit/v1/models/nope")).StatusCode);
    }

    [Fact]
    public async Task SetAlias_WithExpectedVersion_MovesWhenItMatches_Returns409WhenItDoesNot_AndHistoryRecordsMoves()
    {
        await factory.RegisterAsync("aliased", TestModels.Scale(1f), "production");
        await factory.RegisterAsync("aliased", TestModels.Scale(2f));
        await factory.RegisterAsync("aliased", TestModels.Scale(3f));
        HttpClient client = factory.CreateManagementClient();

        HttpResponseMessage moved = await client.PutAsync("/modelkit/v1/models/aliased/aliases/production", Http.Json("""{"version": 2, "expected_version": 1}"""));
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
        Assert.Equal(1, (await moved.ReadJsonAsync()).GetProperty("previous_version").GetInt32());

        HttpResponseMessage conflict = await client.PutAsync("/modelkit/v1/models/aliased/aliases/production", Http.Json("""{"version": 3, "expected_version": 1}"""));
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        JsonElement body = await conflict.ReadJsonAsync();
        Assert.Equal(2, body.GetProperty("current_version").GetInt32());
        Assert.Contains("not at the expected version 1", body.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, (await factory.Registry.GetAliasesAsync("aliased"))["production"]);

        Assert.Equal(HttpStatusCode.OK, (await client.PutAsync("/modelkit/v1/models/aliased/aliases/production", Http.Json("""{"version": 3}"""))).StatusCode);
        JsonElement history = await (await client.GetAsync("/modelkit/v1/models/aliased/aliases/production/history")).ReadJsonAsync();
        var changes = history.GetProperty("changes").EnumerateArray().Select(c => (c.GetProperty("old_version").ValueKind == JsonValueKind.Null ? (int?)null : c.GetProperty("old_version").GetInt32(), c.GetProperty("new_version").GetInt32())).ToArray();
        Assert.Equal([(null, 1), (1, 2), (2, 3)], changes);
    }

    [Fact]
    public async Task SetAlias_UnknownVersion_Returns404_BadBody_Returns400()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateManagementClient();
        Assert.Equal(HttpStatusCode.NotFound, (await client.PutAsync("/modelkit/v1/models/gemm/aliases/staging", Http.Json("""{"version": 99}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync("/modelkit/v1/models/gemm/aliases/staging", Http.Json("""{"version": 0}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsync("/modelkit/v1/models/gemm/aliases/staging", Http.Json("""{"version": "one"}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/modelkit/v1/models/gemm/aliases/nope/history")).StatusCode);
    }

    [Fact]
    public async Task LoadUnloadReload_ChangeWhatIsLoaded()
    {
        await factory.RegisterAsync("lifecycle", TestModels.Scale(1f), "production");
        HttpClient client = factory.CreateManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/modelkit/v1/models/lifecycle/versions/production/load", null)).StatusCode);
        JsonElement loaded = await (await client.GetAsync("/modelkit/v1/loaded")).ReadJsonAsync();
        Assert.Contains("lifecycle@production", loaded.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("reference").GetString()));
        Assert.Equal(HttpStatusCode.OK, (await factory.CreateClient().GetAsync("/v2/models/lifecycle/ready")).StatusCode);

        await factory.RegisterAsync("lifecycle", TestModels.Scale(2f));
        await factory.Registry.SetAliasAsync("lifecycle", "production", 2);
        JsonElement reloaded = await (await client.PostAsync("/modelkit/v1/models/lifecycle/versions/production/reload", null)).ReadJsonAsync();
        Assert.Equal(2, reloaded.GetProperty("version").GetInt32());

        Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync("/modelkit/v1/models/lifecycle/versions/production/unload", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/modelkit/v1/models/lifecycle/versions/production/unload", null)).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await factory.CreateClient().GetAsync("/v2/models/lifecycle/ready")).StatusCode);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesManagementAndInferenceEndpoints()
    {
        JsonElement document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ReadJsonAsync();
        string[] paths = [.. document.GetProperty("paths").EnumerateObject().Select(p => p.Name)];
        Assert.Contains("/modelkit/v1/models/{name}/aliases/{alias}", paths);
        Assert.Contains("/modelkit/v1/models/{name}/versions", paths);
        Assert.Contains("/v2/models/{name}/versions/{version}/infer", paths);
    }
}

/// <summary>A host whose upload limit (64 bytes) is smaller than any model.</summary>
public sealed class ManagementUploadLimitTests(UploadLimitFactory factory) : IClassFixture<UploadLimitFactory>
{
    [Fact]
    public async Task Register_UploadOverLimit_Returns413AndStoresNothing()
    {
        HttpClient client = factory.CreateManagementClient();
        HttpResponseMessage response = await client.PostAsync("/modelkit/v1/models/big/versions", new ByteArrayContent(TestModels.GemmRelu()));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty(await factory.Registry.ListModelsAsync());
    }
}

public sealed class UploadLimitFactory : InferenceApiFactory
{
    protected override IEnumerable<KeyValuePair<string, string>> Settings => [new("ModelKit:Endpoints:MaxUploadBytes", "64")];
}
