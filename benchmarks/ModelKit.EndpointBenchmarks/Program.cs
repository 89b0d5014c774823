// EndpointBenchmarks: the quick-start MLP (784-256-10, fp32) served in-process (IInferenceSessionPool.RunAsync), over
// REST JSON, REST with the binary tensor data extension, and gRPC (raw_input_contents), at batch 1 and 64 with 1 and 64
// concurrent clients, all in one run against one server (same process, same pool, same dynamic batcher).
// Usage: dotnet run -c Release --project benchmarks/ModelKit.EndpointBenchmarks -- [seconds-per-cell]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelKit;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Serving.AspNetCore.Protocol;

double seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;
string dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-endpoint-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(dataDirectory);
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDirectory });
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1AndHttp2);
    k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
    k.Limits.Http2.MaxStreamsPerConnection = 256;
});
builder.Services.AddModelKit(o => o.DataDirectory = dataDirectory).AddOnnx().AddModelRegistry()
    .AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1)
    .AddInferenceEndpoints();
await using WebApplication app = builder.Build();
app.MapModelKitInference();
app.MapModelKitGrpc();
await app.StartAsync();
string[] addresses = [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses];
string rest = addresses[0];
string h2 = addresses[1];

using (var model = new MemoryStream(Mlp()))
{
    await app.Services.GetRequiredService<IModelRegistry>().RegisterAsync(new ModelRegistration("mlp"), model);
}

IInferenceSessionPool pool = app.Services.GetRequiredService<IInferenceSessionPool>();
var reference = ModelReference.ForVersion("mlp", 1);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 128, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
using GrpcChannel channel = GrpcChannel.ForAddress(h2, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true } });
var grpc = new GRPCInferenceService.GRPCInferenceServiceClient(channel);

var rows = new List<string>();
Console.WriteLine($"# EndpointBenchmarks: {seconds} s per cell, {Environment.ProcessorCount} cores, server and load generator in one process");
foreach (int batch in new[] { 1, 64 })
{
    float[] pixels = new float[batch * 784];
    var random = new Random(7);
    for (int i = 0; i < pixels.Length; i++)
    {
        pixels[i] = (float)random.NextDouble();
    }

    NamedTensor[] inputs = [new NamedTensor("input", Tensor.Create<float>(pixels, batch, 1, 28, 28))];
    string shape = $"[{batch}, 1, 28, 28]";
    byte[] json = Encoding.UTF8.GetBytes($"{{\"inputs\":[{{\"name\":\"input\",\"shape\":{shape},\"datatype\":\"FP32\",\"data\":[{string.Join(",", pixels.Select(p => p.ToString("R", CultureInfo.InvariantCulture)))}]}}]}}");
    byte[] header = Encoding.UTF8.GetBytes($"{{\"inputs\":[{{\"name\":\"input\",\"shape\":{shape},\"datatype\":\"FP32\",\"parameters\":{{\"binary_data_size\":{pixels.Length * 4}}}}}],\"parameters\":{{\"binary_data_output\":true}}}}");
    byte[] binary = [.. header, .. System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray()];
    var grpcRequest = new ModelInferRequest { ModelName = "mlp", ModelVersion = "1" };
    grpcRequest.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "input", Datatype = "FP32", Shape = { batch, 1, 28, 28 } });
    grpcRequest.RawInputContents.Add(ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan())));

    var transports = new (string Name, Func<Task> Call)[]
    {
        ("in-process", async () => await pool.RunAsync(reference, inputs)),
        ("REST JSON", async () =>
        {
            using var content = new ByteArrayContent(json);
            content.Headers.ContentType = new("application/json");
            using HttpResponseMessage r = await http.PostAsync($"{rest}/v2/models/mlp/versions/1/infer", content);
            _ = await r.Content.ReadAsByteArrayAsync();
            r.EnsureSuccessStatusCode();
        }),
        ("REST binary", async () =>
        {
            using var content = new ByteArrayContent(binary);
            content.Headers.ContentType = new("application/octet-stream");
            content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
            using HttpResponseMessage r = await http.PostAsync($"{rest}/v2/models/mlp/versions/1/infer", content);
            _ = await r.Content.ReadAsByteArrayAsync();
            r.EnsureSuccessStatusCode();
        }),
        ("gRPC raw", async () => await grpc.ModelInferAsync(grpcRequest)),
    };

    foreach (int clients in new[] { 1, 64 })
    {
        double baseline = 0;
        foreach ((string name, Func<Task> call) in transports)
        {
            (double rps, double p50, double p99) = await MeasureAsync(call, clients, seconds);
            if (name == "in-process")
            {
                baseline = rps;
            }

            rows.Add(string.Create(CultureInfo.InvariantCulture, $"| {name} | {batch} | {clients} | {rps:N0} | {rps * batch:N0} | {p50 * 1000:F2} | {p99 * 1000:F2} | {rps / baseline:F2}x |"));
            Console.WriteLine(rows[^1]);
        }
    }
}

Console.WriteLine();
Console.WriteLine("| transport | batch | clients | requests/s | rows/s | p50 ms | p99 ms | vs in-process |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
foreach (string row in rows)
{
    Console.WriteLine(row);
}

await app.StopAsync();
Directory.Delete(dataDirectory, recursive: true);

static async Task<(double Rps, double P50, double P99)> MeasureAsync(Func<Task> call, int clients, double seconds)
{
    // Warm-up: connections, JIT, the model's first load.
    for (int i = 0; i < 20; i++)
    {
        await call();
    }

    var latencies = new List<double>[clients];
    var clock = Stopwatch.StartNew();
    long end = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
    Task[] workers = [.. Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
    {
        var mine = latencies[c] = new List<double>(4096);
        while (Stopwatch.GetTimestamp() < end)
        {
            long start = Stopwatch.GetTimestamp();
            await call();
            mine.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }))];
    await Task.WhenAll(workers);
    double elapsed = clock.Elapsed.TotalSeconds;
    double[] all = [.. latencies.SelectMany(l => l).Order()];
    return (all.Length / elapsed, all[all.Length / 2], all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))]);
}

static byte[] Mlp()
{
    var random = new Random(42);
    float[] w1 = [.. Enumerable.Range(0, 256 * 784).Select(_ => (float)((random.NextDouble() - 0.5) * 0.1))];
    float[] b1 = new float[256];
    float[] w2 = [.. Enumerable.Range(0, 10 * 256).Select(_ => (float)((random.NextDouble() - 0.5) * 0.1))];
    float[] b2 = new float[10];
    return new OnnxGraphBuilder()
        .AddInput("input", TensorElementType.Float, -1, 1, 28, 28)
        .AddInitializer("w1", w1, 256, 784)
        .AddInitializer("b1", b1, 256)
        .AddInitializer("w2", w2, 10, 256)
        .AddInitializer("b2", b2, 10)
        .AddNode("Flatten", ["input"], ["flat"], OnnxAttribute.Int("axis", 1))
        .AddNode("Gemm", ["flat", "w1", "b1"], ["h"], OnnxAttribute.Int("transB", 1))
        .AddNode("Relu", ["h"], ["r"])
        .AddNode("Gemm", ["r", "w2", "b2"], ["logits"], OnnxAttribute.Int("transB", 1))
        .AddOutput("logits", TensorElementType.Float, -1, 10)
        .ToBytes();
}
