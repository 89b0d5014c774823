using System.Net;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary><c>ListenHttp1AndHttp2(urls)</c>: URLs written as for the host's <c>urls</c> setting serve REST and gRPC on each port.</summary>
public sealed class KestrelUrlsTests
{
    [Fact]
    public async Task ListenHttp1AndHttp2_TwoUrls_EachServesRestOverHttp1_AndGrpcOverH2c()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.Logging.ClearProviders();
        IReadOnlyList<ListenOptions>? endpoints = null;
        builder.WebHost.ConfigureKestrel(k => endpoints = k.ListenHttp1AndHttp2(" http://127.0.0.1:0 ; http://localhost:0;"));
        builder.Services.AddModelKit(o => o.DataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-urls-{Guid.NewGuid():N}"))
            .AddOnnx().AddModelRegistry().AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1).AddInferenceEndpoints();
        await using WebApplication app = builder.Build();
        app.MapModelKitInference();
        app.MapModelKitGrpc();
        await app.StartAsync();
        try
        {
            Assert.Equal(2, endpoints!.Count);
            using var http = new HttpClient();
            foreach (ListenOptions endpoint in endpoints)
            {
                Assert.Equal(IPAddress.Loopback, endpoint.IPEndPoint!.Address);
                string address = $"http://{endpoint.IPEndPoint}";
                using var live = new HttpRequestMessage(HttpMethod.Get, $"{address}/v2/health/live") { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
                using HttpResponseMessage response = await http.SendAsync(live);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(HttpVersion.Version11, response.Version);

                using GrpcChannel channel = GrpcChannel.ForAddress(address);
                var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
                Assert.True((await client.ServerLiveAsync(new ServerLiveRequest())).Live);
            }
        }
        finally
        {
            await app.StopAsync();
        }
    }

    [Theory]
    [InlineData("", "holds no URL")]
    [InlineData(" ; ", "holds no URL")]
    [InlineData("ftp://127.0.0.1:21", "'ftp://127.0.0.1:21' is not an http:// or https:// URL")]
    [InlineData("http://127.0.0.1:8080/api", "has the path '/api'")]
    [InlineData("127.0.0.1:8080", "'127.0.0.1:8080' is not")]
    public void ListenHttp1AndHttp2_BadUrls_AreRejectedNamingTheValue(string urls, string expected)
    {
        var options = new KestrelServerOptions();

        var ex = Assert.Throws<ArgumentException>(() => options.ListenHttp1AndHttp2(urls));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Equal("urls", ex.ParamName);
    }
}
