using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Net.Client;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary>The model repository extension (index, load, unload) over REST and gRPC, behind the management policy.</summary>
public sealed class ModelRepositoryExtensionTests(InferenceApiFactory factory) : IClassFixture<InferenceApiFactory>
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<JsonElement[]> IndexAsync(HttpClient client, bool readyOnly)
    {
        HttpResponseMessage response = await client.PostAsync("/v2/repository/index", Json(readyOnly ? """{"ready": true}""" : "{}"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return [.. JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray()];
    }

    private static string? State(JsonElement[] index, string name, string version) =>
        index.Where(e => e.GetProperty("name").GetString() == name && e.GetProperty("version").GetString() == version).Select(e => e.GetProperty("state").GetString()).SingleOrDefault();

    [Theory]
    [InlineData("/v2/repository/index")]
    [InlineData("/v2/repository/models/scale/load")]
    [InlineData("/v2/repository/models/scale/unload")]
    public async Task Rest_Anonymous_Returns401(string path)
    {
        await factory.SeedAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, (await factory.CreateClient().PostAsync(path, Json("{}"))).StatusCode);
    }

    [Fact]
    public async Task Rest_LoadVersion_IndexShowsReady_ModelReadyAnswers_UnloadMakesItUnavailable()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v2/repository/models/scale/unload", null)).StatusCode);
        JsonElement[] before = await IndexAsync(client, readyOnly: false);
        Assert.Equal("UNAVAILABLE", State(before, "scale", "2"));
        Assert.Equal("UNAVAILABLE", State(before, "gemm", "1"));

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v2/repository/models/scale/load", Json("""{"parameters": {"version": "2"}}"""))).StatusCode);
        JsonElement[] ready = await IndexAsync(client, readyOnly: true);
        Assert.Equal("READY", State(ready, "scale", "2"));
        Assert.Null(State(ready, "scale", "1"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/scale/versions/2/ready")).StatusCode);

        // No version: the default alias (production -> 1).
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v2/repository/models/scale/load", null)).StatusCode);
        Assert.Equal("READY", State(await IndexAsync(client, readyOnly: true), "scale", "1"));

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v2/repository/models/scale/unload", Json("""{"parameters": {"version": "2", "unload_dependents": false}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/v2/models/scale/versions/2/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v2/models/scale/versions/1/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v2/repository/models/scale/unload", null)).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/v2/models/scale/versions/1/ready")).StatusCode);
    }

    [Theory]
    [InlineData("/v2/repository/models/scale/load", """{"parameters": {"config": "{}"}}""", 400, "'config'")]
    [InlineData("/v2/repository/models/scale/load", """{"parameters": {"file:1/model.onnx": "AAAA"}}""", 400, "register")]
    [InlineData("/v2/repository/models/scale/load", """{"parameters": {"version": 2}}""", 400, "'version'")]
    [InlineData("/v2/repository/models/scale/load", """{"parameters": {"nope": true}}""", 400, "'nope'")]
    [InlineData("/v2/repository/models/scale/load", """{"params": {}}""", 400, "'params'")]
    [InlineData("/v2/repository/models/scale/load", """{"parameters": """, 400, "not valid JSON")]
    [InlineData("/v2/repository/models/scale/load", """[1]""", 400, "JSON object")]
    [InlineData("/v2/repository/models/nope/load", "", 404, "nope")]
    [InlineData("/v2/repository/models/scale/load", """{"parameters": {"version": "9"}}""", 404, "9")]
    [InlineData("/v2/repository/models/nope/unload", "", 404, "nope")]
    [InlineData("/v2/repository/index", """{"ready": "yes"}""", 400, "'ready'")]
    public async Task Rest_BadRequests_GetClearErrors(string path, string body, int status, string mentions)
    {
        await factory.SeedAsync();
        HttpResponseMessage response = await factory.CreateManagementClient().PostAsync(path, body.Length == 0 ? null : Json(body));
        Assert.Equal(status, (int)response.StatusCode);
        string error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        Assert.Contains(mentions, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerMetadata_ListsTheExtension_OverRestAndGrpc()
    {
        await factory.SeedAsync();
        JsonElement body = JsonDocument.Parse(await factory.CreateClient().GetStringAsync("/v2")).RootElement;
        Assert.Contains("model_repository", body.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("model_repository", (await Grpc().ServerMetadataAsync(new ServerMetadataRequest())).Extensions);
    }

    [Fact]
    public async Task Grpc_WithoutCredentials_IsUnauthenticated_WithApiKey_IndexLoadUnloadWork()
    {
        await factory.SeedAsync();
        GRPCInferenceService.GRPCInferenceServiceClient client = Grpc();
        RpcException refused = await Assert.ThrowsAsync<RpcException>(async () => await client.RepositoryIndexAsync(new RepositoryIndexRequest()));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);
        refused = await Assert.ThrowsAsync<RpcException>(async () => await client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "gemm" }));
        Assert.Equal(StatusCode.Unauthenticated, refused.StatusCode);

        var key = new Metadata { { "X-Api-Key", InferenceApiFactory.ApiKey } };
        await client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "gemm", Parameters = { ["version"] = new ModelRepositoryParameter { StringParam = "production" } } }, key);
        RepositoryIndexResponse index = await client.RepositoryIndexAsync(new RepositoryIndexRequest { Ready = true }, key);
        Assert.Contains(index.Models, m => m.Name == "gemm" && m.Version == "1" && m.State == "READY");
        Assert.True((await client.ModelReadyAsync(new ModelReadyRequest { Name = "gemm", Version = "1" })).Ready);

        await client.RepositoryModelUnloadAsync(new RepositoryModelUnloadRequest { ModelName = "gemm" }, key);
        Assert.False((await client.ModelReadyAsync(new ModelReadyRequest { Name = "gemm", Version = "1" })).Ready);
        Assert.DoesNotContain((await client.RepositoryIndexAsync(new RepositoryIndexRequest { Ready = true }, key)).Models, m => m.Name == "gemm");

        RpcException bad = await Assert.ThrowsAsync<RpcException>(async () => await client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "gemm", Parameters = { ["config"] = new ModelRepositoryParameter { StringParam = "{}" } } }, key));
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        RpcException missing = await Assert.ThrowsAsync<RpcException>(async () => await client.RepositoryModelLoadAsync(new RepositoryModelLoadRequest { ModelName = "nope" }, key));
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
    }

    private GRPCInferenceService.GRPCInferenceServiceClient Grpc() =>
        new(GrpcChannel.ForAddress(factory.Server.BaseAddress, new GrpcChannelOptions { HttpHandler = factory.Server.CreateHandler() }));
}
