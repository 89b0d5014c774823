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

/// <summary>A real Kestrel on 127.0.0.1, one port: REST over HTTP/1.1 and HTTP/2 (prior knowledge), gRPC over cleartext HTTP/2.</summary>
public sealed class KestrelEndToEndTests
{
    [Fact]
    public async Task Kestrel_OnePort_RestOverHttp1AndHttp2_AndGrpcOverH2c_AllAnswerTheSameRequest()
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-kestrel-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dataDirectory);
        // Content root away from the test output, which holds the sample's appsettings.json (fixed ports).
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDirectory });
        builder.Logging.ClearProviders();
        ListenOptions? endpoint = null;
        builder.WebHost.ConfigureKestrel(k => endpoint = k.ListenHttp1AndHttp2Cleartext(new IPEndPoint(IPAddress.Loopback, 0)));
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

            string address = $"http://{endpoint!.IPEndPoint}";
            Assert.NotEqual(0, endpoint.IPEndPoint!.Port);
            float[] expected = TestModels.GemmReluReference([1, 2, 3, -4, 0.5f, 8]);
            const string json = """{"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, -4, 0.5, 8]}]}""";

            using var http = new HttpClient();
            foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20, HttpVersion.Version11 })
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

            using GrpcChannel channel = GrpcChannel.ForAddress(address);
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

    [Fact]
    public async Task OnePort_PrefaceSplitAcrossWrites_IsHttp2_AndHttp1StartingWithP_IsHttp1()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = Path.GetTempPath() });
        builder.Logging.ClearProviders();
        ListenOptions? endpoint = null;
        builder.WebHost.ConfigureKestrel(k => endpoint = k.ListenHttp1AndHttp2Cleartext(new IPEndPoint(IPAddress.Loopback, 0)));
        await using WebApplication app = builder.Build();
        app.MapPost("/echo", () => "posted");
        await app.StartAsync();
        try
        {
            IPEndPoint at = endpoint!.IPEndPoint!;

            // HTTP/2: the preface arrives in three pieces; the server must answer with its own SETTINGS frame (type 4).
            using (var socket = new System.Net.Sockets.TcpClient())
            {
                await socket.ConnectAsync(at);
                System.Net.Sockets.NetworkStream stream = socket.GetStream();
                byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();
                await stream.WriteAsync(preface.AsMemory(0, 1));
                await Task.Delay(50);
                await stream.WriteAsync(preface.AsMemory(1, 10));
                await Task.Delay(50);
                await stream.WriteAsync(preface.AsMemory(11));
                await stream.WriteAsync(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 }); // empty client SETTINGS
                byte[] frameHeader = new byte[9];
                await stream.ReadExactlyAsync(frameHeader).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.Equal(4, frameHeader[3]);
            }

            // HTTP/1.1 whose first byte is the preface's: "POST" parts ways with "PRI" at the second byte.
            using (var socket = new System.Net.Sockets.TcpClient())
            {
                await socket.ConnectAsync(at);
                System.Net.Sockets.NetworkStream stream = socket.GetStream();
                await stream.WriteAsync("P"u8.ToArray());
                await Task.Delay(50);
                await stream.WriteAsync("OST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
                using var reader = new StreamReader(stream);
                string response = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
                Assert.StartsWith("HTTP/1.1 200 OK", response, StringComparison.Ordinal);
                Assert.Contains("\r\n\r\n6\r\nposted\r\n", response, StringComparison.Ordinal);
            }
        }
        finally
        {
            await app.StopAsync();
        }
    }
}
