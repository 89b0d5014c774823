// EndpointBenchmarks: the quick-start MLP (784-256-10, fp32) served in-process (IInferenceSessionPool.RunAsync), over
// REST JSON, REST with the binary tensor data extension, and gRPC (raw_input_contents), at batch 1 and 64 with 1 and 64
// concurrent clients, all in one run against one server (same process, same pool, same dynamic batcher), REST and gRPC
// on one port. Then, when `wrk` is on PATH (apt install wrk), batch-1 REST JSON with wrk (1 thread; 1 and 64
// connections) against this server and against an anchor-like ASP.NET Core minimal API over the official ONNX Runtime
// C# API (one shared InferenceSession, no batching, System.Text.Json), in the same run.
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
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using ModelKit;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Serving.AspNetCore.Protocol;

double seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;
bool wrkOnly = args.Length > 1 && args[1] == "wrk-only";
string dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-endpoint-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(dataDirectory);
WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDirectory });
builder.Logging.ClearProviders();
ListenOptions? endpoint = null;
builder.WebHost.ConfigureKestrel(k =>
{
    endpoint = k.ListenHttp1AndHttp2Cleartext(new IPEndPoint(IPAddress.Loopback, 0));
    // Flow-control windows for many concurrent 200 KB requests on one HTTP/2 connection (as `modelkit serve` sets them).
    k.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
    k.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;
});
builder.Services.AddModelKit(o => o.DataDirectory = dataDirectory).AddOnnx().AddModelRegistry()
    .AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1)
    .AddInferenceEndpoints();
await using WebApplication app = builder.Build();
app.MapModelKitInference();
app.MapModelKitGrpc();
await app.StartAsync();
string rest = $"http://{endpoint!.IPEndPoint}";

using (var model = new MemoryStream(Mlp()))
{
    await app.Services.GetRequiredService<IModelRegistry>().RegisterAsync(new ModelRegistration("mlp"), model);
}

IInferenceSessionPool pool = app.Services.GetRequiredService<IInferenceSessionPool>();
var reference = ModelReference.ForVersion("mlp", 1);
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 128, PooledConnectionLifetime = Timeout.InfiniteTimeSpan });
// gRPC clients share 8 channels (one HTTP/2 connection each), as Microsoft's gRPC performance guidance suggests for
// high load; REST clients share one HttpClient with up to 128 HTTP/1.1 connections. Same port for both.
GrpcChannel[] channels = [.. Enumerable.Range(0, 8).Select(_ => GrpcChannel.ForAddress(rest, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, PooledConnectionLifetime = Timeout.InfiniteTimeSpan } }))];
GRPCInferenceService.GRPCInferenceServiceClient[] grpcClients = [.. channels.Select(c => new GRPCInferenceService.GRPCInferenceServiceClient(c))];

var rows = new List<string>();
Console.WriteLine($"# EndpointBenchmarks: {seconds} s per cell, {Environment.ProcessorCount} cores, server and load generator in one process");
foreach (int batch in wrkOnly ? [] : new[] { 1, 64 })
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

    var transports = new (string Name, Func<int, Task> Call)[]
    {
        ("in-process", async _ => await pool.RunAsync(reference, inputs)),
        ("REST JSON", async _ =>
        {
            using var content = new ByteArrayContent(json);
            content.Headers.ContentType = new("application/json");
            using HttpResponseMessage r = await http.PostAsync($"{rest}/v2/models/mlp/versions/1/infer", content);
            await r.Content.ReadAsByteArrayAsync();
            r.EnsureSuccessStatusCode();
        }),
        ("REST binary", async _ =>
        {
            using var content = new ByteArrayContent(binary);
            content.Headers.ContentType = new("application/octet-stream");
            content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
            using HttpResponseMessage r = await http.PostAsync($"{rest}/v2/models/mlp/versions/1/infer", content);
            await r.Content.ReadAsByteArrayAsync();
            r.EnsureSuccessStatusCode();
        }),
        ("gRPC raw", async client => await grpcClients[client % grpcClients.Length].ModelInferAsync(grpcRequest)),
    };

    foreach (int clients in new[] { 1, 64 })
    {
        double baseline = 0;
        foreach ((string name, Func<int, Task> call) in transports)
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

if (FindOnPath("wrk") is string wrk)
{
    // The anchor: a minimal API as a user would write it over the official ONNX Runtime C# API.
    using var sessionOptions = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1 };
    using var session = new InferenceSession(Mlp(), sessionOptions);
    WebApplicationBuilder anchorBuilder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = dataDirectory });
    anchorBuilder.Logging.ClearProviders();
    anchorBuilder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
    await using WebApplication anchor = anchorBuilder.Build();
    var snake = new System.Text.Json.JsonSerializerOptions { PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower };
    anchor.MapPost("/v2/models/mlp/infer", async (HttpContext http) => await AnchorEndpoint.HandleAsync(http, session, snake));
    await anchor.StartAsync();
    string anchorUrl = anchor.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

    float[] one = new float[784];
    var random = new Random(7);
    for (int i = 0; i < one.Length; i++)
    {
        one[i] = (float)random.NextDouble();
    }

    string bodyPath = Path.Combine(dataDirectory, "batch1.json");
    await File.WriteAllTextAsync(bodyPath, $"{{\"inputs\":[{{\"name\":\"input\",\"shape\":[1, 1, 28, 28],\"datatype\":\"FP32\",\"data\":[{string.Join(",", one.Select(p => p.ToString("R", CultureInfo.InvariantCulture)))}]}}]}}");
    string script = Path.Combine(dataDirectory, "post.lua");
    await File.WriteAllTextAsync(script, $"wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nlocal f = io.open(\"{bodyPath}\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\n");
    Console.WriteLine();
    Console.WriteLine("| wrk, batch-1 REST JSON | connections | requests/s | p50 ms | p99 ms |");
    Console.WriteLine("|---|---:|---:|---:|---:|");
    foreach (string url in new[] { $"{rest}/v2/models/mlp/versions/1/infer", $"{anchorUrl}/v2/models/mlp/infer" })
    {
        using var check = new StringContent(await File.ReadAllTextAsync(bodyPath), Encoding.UTF8, "application/json");
        using HttpResponseMessage answer = await http.PostAsync(url, check);
        string text = await answer.Content.ReadAsStringAsync();
        Console.WriteLine($"check {url}: {(int)answer.StatusCode} {text[..Math.Min(160, text.Length)]}");
    }

    foreach (int connections in new[] { 1, 64 })
    {
        foreach ((string name, string url) in new[] { ("ModelKit (MapModelKitInference, batching on)", $"{rest}/v2/models/mlp/versions/1/infer"), ("anchor: minimal API + ORT InferenceSession", $"{anchorUrl}/v2/models/mlp/infer") })
        {
            await RunWrkAsync(wrk, script, url, connections, 2);
            (double rps, double p50, double p99) = await RunWrkAsync(wrk, script, url, connections, seconds);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {connections} | {rps:N0} | {p50:F2} | {p99:F2} |"));
        }
    }

    await anchor.StopAsync();
}

await app.StopAsync();
Directory.Delete(dataDirectory, recursive: true);

static string? FindOnPath(string tool) =>
    (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

static async Task<(double Rps, double P50Ms, double P99Ms)> RunWrkAsync(string wrk, string script, string url, int connections, double seconds)
{
    var start = new ProcessStartInfo(wrk, ["-t1", $"-c{connections}", string.Create(CultureInfo.InvariantCulture, $"-d{Math.Max(1, (int)Math.Round(seconds))}s"), "--latency", "-s", script, url]) { RedirectStandardOutput = true };
    using Process process = Process.Start(start)!;
    string output = await process.StandardOutput.ReadToEndAsync();
    await process.WaitForExitAsync();
    double rps = 0, p50 = double.NaN, p99 = double.NaN;
    foreach (string raw in output.Split('\n'))
    {
        string[] parts = raw.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 2 && parts[0] == "Requests/sec:")
        {
            rps = double.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        else if (parts.Length == 2 && parts[0] is "50%" or "99%")
        {
            string v = parts[1];
            double ms = v.EndsWith("us", StringComparison.Ordinal) ? double.Parse(v[..^2], CultureInfo.InvariantCulture) / 1000
                : v.EndsWith("ms", StringComparison.Ordinal) ? double.Parse(v[..^2], CultureInfo.InvariantCulture)
                : double.Parse(v[..^1], CultureInfo.InvariantCulture) * 1000;
            if (parts[0] == "50%")
            {
                p50 = ms;
            }
            else
            {
                p99 = ms;
            }
        }
    }

    if (output.Contains("Non-2xx", StringComparison.Ordinal) || output.Contains("Socket errors", StringComparison.Ordinal))
    {
        Console.WriteLine(output);
    }

    return (rps, p50, p99);
}

static async Task<(double Rps, double P50, double P99)> MeasureAsync(Func<int, Task> call, int clients, double seconds)
{
    // Warm-up: connections, JIT, the model's first load.
    for (int i = 0; i < 20; i++)
    {
        await call(i);
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
            await call(c);
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

/// <summary>The anchor's endpoint: JSON in (System.Text.Json), one InferenceSession.Run, JSON out.</summary>
internal static class AnchorEndpoint
{
    public static async Task HandleAsync(HttpContext http, InferenceSession session, System.Text.Json.JsonSerializerOptions json)
    {
        AnchorRequest request = (await System.Text.Json.JsonSerializer.DeserializeAsync<AnchorRequest>(http.Request.Body, json, http.RequestAborted))!;
        AnchorInput input = request.Inputs[0];
        using OrtValue value = OrtValue.CreateTensorValueFromMemory(input.Data, input.Shape);
        using var runOptions = new RunOptions();
        using IDisposableReadOnlyCollection<OrtValue> outputs = session.Run(runOptions, ["input"], [value], ["logits"]);
        float[] logits = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        long[] shape = outputs[0].GetTensorTypeAndShape().Shape;
        await System.Text.Json.JsonSerializer.SerializeAsync(
            http.Response.Body,
            new AnchorResponse("mlp", "1", [new AnchorOutput("logits", shape, "FP32", logits)]),
            json,
            http.RequestAborted);
    }
}

internal sealed record AnchorInput(string Name, long[] Shape, string Datatype, float[] Data);

internal sealed record AnchorRequest(AnchorInput[] Inputs);

internal sealed record AnchorOutput(string Name, long[] Shape, string Datatype, float[] Data);

internal sealed record AnchorResponse(string ModelName, string ModelVersion, AnchorOutput[] Outputs);
