using System.Net;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelKit.Registry;
using ModelKit.Serving.AspNetCore.Protocol;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary>A real Kestrel on 127.0.0.1: REST over HTTP/1.1 and HTTP/2 (prior knowledge), gRPC over cleartext HTTP/2.</summary>
public sealed class KestrelEndToEndTests
{
    [Fact]
    public async Task Kestrel_RestOverHttp1AndHttp2_AndGrpcOverH2c_AllAnswerTheSameRequest()
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-kestrel-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataDirectory);
        // Content root away from the test output, which holds the sample's appsettings.json (fixed ports).
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1AndHttp2);
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
        });
        builder.Services.AddModelKit(o => o.DataDirectory = dataDirectory).AddOnnx().AddModelRegistry().AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1).AddInferenceEndpoints();
        await using WebApplication app = builder.Build();
        app.MapModelKitInference();
        app.MapModelKitGrpc();
        try
        {
            await app.StartAsync();
            using (var model = new MemoryStream(TestModels.GemmRelu()))
            {
                await app.Services.GetRequiredService<IModelRegistry>().RegisterAsync(new ModelRegistration("gemm"), model);
            }

            string[] addresses = [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses];
            Assert.Equal(2, addresses.Length);
            float[] expected = TestModels.GemmReluReference([1, 2, 3, -4, 0.5f, 8]);
            const string json = """{"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, -4, 0.5, 8]}]}""";

            using var http = new HttpClient();
            foreach ((string address, Version version) in new[] { (addresses[0], HttpVersion.Version11), (addresses[1], HttpVersion.Version20) })
            {
                using var request = new HttpRequestMessage(HttpMethod.Post, $"{address}/v2/models/gemm/infer")
                {
                    Content = Http.Json(json),
                    Version = version,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                };
                using HttpResponseMessage response = await http.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(version, response.Version);
                JsonElement body = await response.ReadJsonAsync();
                Assert.Equal(expected, body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray());
            }

            using GrpcChannel channel = GrpcChannel.ForAddress(addresses[1]);
            var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
            var grpcRequest = new ModelInferRequest { ModelName = "gemm" };
            grpcRequest.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { 2, 3 }, Contents = new InferTensorContents { Fp32Contents = { 1, 2, 3, -4, 0.5f, 8 } } });
            ModelInferResponse grpcResponse = await client.ModelInferAsync(grpcRequest);
            Assert.Equal(expected, grpcResponse.Outputs[0].Contents.Fp32Contents.ToArray());
        }
        finally
        {
            await app.StopAsync();
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }
    }
}
