using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text;
using System.Text.Json;

namespace ModelKit.Serving.AspNetCore.Tests;

public sealed class OipRestEndpointsTests(InferenceApiFactory factory) : IClassFixture<InferenceApiFactory>
{
    private async Task<HttpClient> ClientAsync()
    {
        await factory.SeedAsync();
        return factory.CreateClient();
    }

    private const string GemmRequest = """
        {"id": "req-7", "inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, -4, 0.5, 8]}]}
        """;

    [Fact]
    public async Task Live_Always_Returns200()
    {
        HttpClient client = await ClientAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/live")).StatusCode);
    }

    [Fact]
    public async Task Ready_NoConfiguredModels_Returns200()
    {
        HttpClient client = await ClientAsync();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz/ready")).StatusCode);
    }

    [Fact]
    public async Task ServerMetadata_ReturnsNameVersionAndBinaryExtension()
    {
        HttpClient client = await ClientAsync();
        JsonElement body = await (await client.GetAsync("/v2")).ReadJsonAsync();
        Assert.Equal("modelkit", body.GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
        Assert.Contains("binary_tensor_data", body.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task ModelMetadata_ListsEveryVersionPlatformAndDynamicDimensionsAsMinusOne()
    {
        HttpClient client = await ClientAsync();
        JsonElement body = await (await client.GetAsync("/v2/models/scale")).ReadJsonAsync();
        Assert.Equal("scale", body.GetProperty("name").GetString());
        Assert.Equal(["1", "2"], body.GetProperty("versions").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal("onnxruntime_onnx", body.GetProperty("platform").GetString());
        JsonElement input = body.GetProperty("inputs")[0];
        Assert.Equal("x", input.GetProperty("name").GetString());
        Assert.Equal("FP32", input.GetProperty("datatype").GetString());
        Assert.Equal([-1L, 3L], input.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal("y", body.GetProperty("outputs")[0].GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("/v2/models/nope", "No model named 'nope'")]
    [InlineData("/v2/models/scale/versions/9", "scale")]
    [InlineData("/v2/models/scale/versions/staging", "staging")]
    [InlineData("/v2/models/Bad%20Name", "No model named")]
    public async Task ModelMetadata_UnknownModelVersionOrAlias_Returns404NamingIt(string path, string expected)
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infer_Json_ReturnsExactOutputsEchoesIdAndAnsweringVersion()
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.PostAsync("/v2/models/gemm/infer", Http.Json(GemmRequest));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        JsonElement body = await response.ReadJsonAsync();
        Assert.Equal("gemm", body.GetProperty("model_name").GetString());
        Assert.Equal("1", body.GetProperty("model_version").GetString());
        Assert.Equal("req-7", body.GetProperty("id").GetString());
        JsonElement output = body.GetProperty("outputs")[0];
        Assert.Equal("output", output.GetProperty("name").GetString());
        Assert.Equal("FP32", output.GetProperty("datatype").GetString());
        Assert.Equal([2L, 2L], output.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray());
        Assert.Equal(TestModels.GemmReluReference([1, 2, 3, -4, 0.5f, 8]), output.GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    }

    [Fact]
    public async Task Infer_NestedData_IsFlattenedRowMajor()
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.PostAsync("/v2/models/gemm/infer", Http.Json("""
            {"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [[1, 2, 3], [-4, 0.5, 8]]}]}
            """));
        JsonElement body = await response.ReadJsonAsync();
        Assert.Equal(TestModels.GemmReluReference([1, 2, 3, -4, 0.5f, 8]), body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    }

    [Fact]
    public async Task Infer_PropertiesInAnyOrder_DataBeforeDatatype_IsDecoded()
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.PostAsync("/v2/models/gemm/infer", Http.Json("""
            {"inputs": [{"data": [1, 2, 3], "shape": [1, 3], "name": "input", "datatype": "FP32"}], "id": "late"}
            """));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("late", (await response.ReadJsonAsync()).GetProperty("id").GetString());
    }

    [Theory]
    [InlineData("/v2/models/scale/infer", "1", 2f)]
    [InlineData("/v2/models/scale/versions/production/infer", "1", 2f)]
    [InlineData("/v2/models/scale/versions/2/infer", "2", 3f)]
    [InlineData("/v2/models/scale/versions/1/infer", "1", 2f)]
    public async Task Infer_VersionDigitsOrAliasOrDefault_AnswersFromThatVersion(string path, string version, float factor)
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.PostAsync(path, Http.Json("""{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"""));
        JsonElement body = await response.ReadJsonAsync();
        Assert.Equal(version, body.GetProperty("model_version").GetString());
        Assert.Equal(new[] { 1f, 2f, 3f }.Select(v => v * factor).ToArray(), body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    }

    [Fact]
    public async Task Infer_NoVersionAndNoDefaultAlias_ServesLatestVersion()
    {
        HttpClient client = await ClientAsync();
        await factory.RegisterAsync("latest-only", TestModels.Scale(5f));
        await factory.RegisterAsync("latest-only", TestModels.Scale(7f));
        JsonElement body = await (await client.PostAsync("/v2/models/latest-only/infer", Http.Json("""{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 1, 1]}]}"""))).ReadJsonAsync();
        Assert.Equal("2", body.GetProperty("model_version").GetString());
        Assert.Equal(7f, body.GetProperty("outputs")[0].GetProperty("data")[0].GetSingle());
    }

    [Fact]
    public async Task Infer_AliasMoves_ModelVersionInResponseFollowsIt()
    {
        HttpClient client = await ClientAsync();
        await factory.RegisterAsync("moving", TestModels.Scale(2f), "production");
        await factory.RegisterAsync("moving", TestModels.Scale(3f));
        const string request = """{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 1, 1]}]}""";
        Assert.Equal("1", (await (await client.PostAsync("/v2/models/moving/versions/production/infer", Http.Json(request))).ReadJsonAsync()).GetProperty("model_version").GetString());

        await factory.Registry.SetAliasAsync("moving", "production", 2);
        HttpClient management = factory.CreateManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await management.PostAsync("/modelkit/v1/models/moving/versions/production/reload", null)).StatusCode);

        JsonElement body = await (await client.PostAsync("/v2/models/moving/versions/production/infer", Http.Json(request))).ReadJsonAsync();
        Assert.Equal("2", body.GetProperty("model_version").GetString());
        Assert.Equal(3f, body.GetProperty("outputs")[0].GetProperty("data")[0].GetSingle());
    }

    [Fact]
    public async Task Infer_RequestedOutputs_ReturnsOnlyThoseInRequestedOrder()
    {
        HttpClient client = await ClientAsync();
        JsonElement body = await (await client.PostAsync("/v2/models/addsub/infer", Http.Json("""
            {"inputs": [{"name": "a", "shape": [1, 2], "datatype": "INT64", "data": [10, 20]},
                        {"name": "b", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}],
             "outputs": [{"name": "diff"}]}
            """))).ReadJsonAsync();
        JsonElement outputs = body.GetProperty("outputs");
        Assert.Equal(1, outputs.GetArrayLength());
        Assert.Equal("diff", outputs[0].GetProperty("name").GetString());
        Assert.Equal([9L, 18L], outputs[0].GetProperty("data").EnumerateArray().Select(e => e.GetInt64()).ToArray());
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[]", "must be a JSON object")]
    [InlineData("{}", "no 'inputs'")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]}""", "input")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP3", "data": [1, 2, 3]}]}""", "'FP3'")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""", "input")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2]}]}""", "holds 3 elements, but its 'data' holds 2")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3, 4]}]}""", "holds 3 elements, but its 'data' holds more")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, "x", 3]}]}""", "element 1 of its 'data' is a string")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [-1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "negative dimension")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1.5, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "whole number")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [NaN, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "not valid JSON")]
    [InlineData("""{"inputs": [{"name": "input", "shape": ["1", 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "whole number")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [9223372036854775807, 9223372036854775807], "datatype": "FP32", "data": [1]}]}""", "more than the")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [4294967296, 4294967296], "datatype": "FP32", "data": [1]}]}""", "more than the")]
    [InlineData("""{"inputs": [{"name": "other", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "other")]
    [InlineData("""{"inputs": []}""", "input")]
    [InlineData("""{"inputs": [{"shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "no 'name'")]
    [InlineData("""{"inputs": [{"name": "input", "datatype": "FP32", "data": [1, 2, 3]}]}""", "no 'shape'")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "data": [1, 2, 3]}]}""", "no 'datatype'")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32"}]}""", "no 'data'")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}, {"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", "appears twice")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}], "outputs": [{"name": "nope"}]}""", "no output 'nope'")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}], "parameters": {"timeout": -5}}""", "timeout")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "parameters": {"binary_data_size": 12}}]}""", "Inference-Header-Content-Length")]
    [InlineData("""{"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]} {}""", "JSON")]
    public async Task Infer_BadRequest_Returns400WithErrorNamingTheProblem(string json, string expected)
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.PostAsync("/v2/models/gemm/infer", Http.Json(json));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infer_UnknownModel_Returns404()
    {
        HttpClient client = await ClientAsync();
        HttpResponseMessage response = await client.PostAsync("/v2/models/nope/infer", Http.Json(GemmRequest));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("nope", await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infer_UnknownVersion_Returns404()
    {
        HttpClient client = await ClientAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/v2/models/gemm/versions/42/infer", Http.Json(GemmRequest))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/v2/models/gemm/versions/0/infer", Http.Json(GemmRequest))).StatusCode);
    }

    [Fact]
    public async Task Infer_BodyOverLimit_Returns413WithoutReadingItAll()
    {
        HttpClient client = await ClientAsync();
        var big = new ByteArrayContent(new byte[(64 * 1024 * 1024) + 10]);
        HttpResponseMessage response = await client.PostAsync("/v2/models/gemm/infer", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("this server accepts", await response.ErrorAsync(), StringComparison.Ordinal);
    }

    /// <summary>A batch-64 binary request for the slow model, optionally with a timeout in microseconds.</summary>
    internal static ByteArrayContent SlowRequest(long? timeoutMicroseconds = null)
    {
        string parameters = timeoutMicroseconds is long t ? $", \"parameters\": {{\"timeout\": {t}}}" : "";
        return Http.Binary(
            "{\"inputs\": [{\"name\": \"x\", \"shape\": [64, 1000], \"datatype\": \"FP32\", \"parameters\": {\"binary_data_size\": 256000}}], \"outputs\": [{\"name\": \"y\", \"parameters\": {\"binary_data\": true}}]" + parameters + "}",
            new byte[256000]);
    }

    [Fact]
    public async Task Infer_DeadlinePassesWhileQueuedBehindARunningBatch_Returns504()
    {
        HttpClient client = await ClientAsync();
        await client.PostAsync("/v2/models/slow/infer", SlowRequest());
        HttpResponseMessage? timedOut = null;
        for (int attempt = 0; attempt < 20 && timedOut is null; attempt++)
        {
            HttpResponseMessage[] burst = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => client.PostAsync("/v2/models/slow/infer", SlowRequest(i == 0 ? null : 2000))));
            Assert.All(burst, r => Assert.Contains((int)r.StatusCode, new[] { 200, 429, 504 }));
            timedOut = burst.FirstOrDefault(r => r.StatusCode == HttpStatusCode.GatewayTimeout);
        }

        Assert.NotNull(timedOut);
        Assert.Contains("slow", await timedOut.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Infer_QueueFull_Returns429WithRetryAfter()
    {
        HttpClient client = await ClientAsync();
        await client.PostAsync("/v2/models/slow/infer", SlowRequest());
        HttpResponseMessage? refused = null;
        for (int attempt = 0; attempt < 20 && refused is null; attempt++)
        {
            // One batch runs, one request waits (queue of 1), the rest are refused at once.
            HttpResponseMessage[] burst = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => client.PostAsync("/v2/models/slow/infer", SlowRequest())));
            Assert.All(burst, r => Assert.Contains((int)r.StatusCode, new[] { 200, 429 }));
            refused = burst.FirstOrDefault(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        }

        Assert.NotNull(refused);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Contains("queue of 'slow", await refused.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ModelReady_BeforeAndAfterLoad_Returns503Then200()
    {
        HttpClient client = await ClientAsync();
        await factory.RegisterAsync("ready-check", TestModels.Scale(1f));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/v2/models/ready-check/ready")).StatusCode);
        await client.PostAsync("/v2/models/ready-check/infer", Http.Json("""{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}"""));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/ready-check/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/ready-check/versions/1/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/v2/models/ready-check/versions/2/ready")).StatusCode);
    }

    [Fact]
    public async Task Infer_JsonNonFiniteFloats_RoundTripAsStrings()
    {
        HttpClient client = await ClientAsync();
        JsonElement body = await (await client.PostAsync("/v2/models/identity-fp32/infer", Http.Json("""
            {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": ["NaN", "-Infinity"]}]}
            """))).ReadJsonAsync();
        JsonElement data = body.GetProperty("outputs")[0].GetProperty("data");
        Assert.Equal("NaN", data[0].GetString());
        Assert.Equal("-Infinity", data[1].GetString());
    }
}

public sealed class LoadOnDemandOffTests(NoLoadOnDemandFactory factory) : IClassFixture<NoLoadOnDemandFactory>
{
    [Fact]
    public async Task Infer_ModelNotLoadedAndLoadOnDemandOff_Returns503UntilLoadedThroughManagement()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateClient();
        const string request = """{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""";
        HttpResponseMessage refused = await client.PostAsync("/v2/models/scale/infer", Http.Json(request));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Contains("not loaded", await refused.ErrorAsync(), StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.OK, (await factory.CreateManagementClient().PostAsync("/modelkit/v1/models/scale/load", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v2/models/scale/infer", Http.Json(request))).StatusCode);
    }
}
