using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ModelKit.Onnx;

namespace ModelKit.Cli.Tests;

/// <summary>The modelkit command end to end in a temporary data directory, in-process and as a process.</summary>
public sealed partial class ModelKitCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"modelkit-cli-{Guid.NewGuid():N}");

    public ModelKitCommandTests() => Directory.CreateDirectory(_root);

    private string DataDir => Path.Combine(_root, "data");

    private static byte[] Scale(float factor) =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("factor", [factor], 1)
            .AddNode("Mul", ["x", "factor"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes();

    private string WriteModel(string name, float factor)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllBytes(path, Scale(factor));
        return path;
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args) => await RunAsync(CancellationToken.None, args);

    private async Task<(int Code, string Out, string Err)> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await ModelKitCommand.InvokeAsync([.. args, "--data-dir", DataDir], stdout, stderr, cancellationToken);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task RegisterListShowAliasHistoryPredict_EndToEnd_InATemporaryDataDirectory()
    {
        (int code, string output, _) = await RunAsync("register", "scaler", WriteModel("v1.onnx", 2f), "--alias", "production", "--tag", "team=vision", "--metric", "accuracy=0.9");
        Assert.Equal(0, code);
        Assert.StartsWith("registered scaler/1 sha256:", output, StringComparison.Ordinal);
        Assert.Equal(0, (await RunAsync("register", "scaler", WriteModel("v2.onnx", 3f))).Code);

        (code, output, _) = await RunAsync("list");
        Assert.Equal(0, code);
        Assert.Contains("scaler\t2 versions\tproduction->1", output, StringComparison.Ordinal);

        (code, output, _) = await RunAsync("list", "scaler");
        Assert.Equal(0, code);
        Assert.Contains("scaler/1\t", output, StringComparison.Ordinal);
        Assert.Contains("scaler/2\t", output, StringComparison.Ordinal);

        (code, output, _) = await RunAsync("show", "scaler@production");
        Assert.Equal(0, code);
        JsonElement shown = JsonDocument.Parse(output).RootElement;
        Assert.Equal(1, shown.GetProperty("version").GetInt32());
        Assert.Equal("vision", shown.GetProperty("tags").GetProperty("team").GetString());
        Assert.Equal(0.9, shown.GetProperty("metrics").GetProperty("accuracy").GetDouble());
        Assert.Equal("x", shown.GetProperty("inputs")[0].GetProperty("name").GetString());

        (code, _, string error) = await RunAsync("alias", "set", "scaler", "production", "2", "--expect", "7");
        Assert.Equal(3, code);
        Assert.Equal("modelkit: Alias 'production' of 'scaler' points at version 1, not at the expected version 7; nothing changed.", error.TrimEnd());

        (code, output, _) = await RunAsync("alias", "set", "scaler", "production", "2", "--expect", "1");
        Assert.Equal(0, code);
        Assert.Equal("scaler@production -> 2 (was 1)", output.TrimEnd());

        (code, output, _) = await RunAsync("alias", "history", "scaler");
        Assert.Equal(0, code);
        string[] lines = output.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.EndsWith("scaler@production\t- -> 1", lines[0], StringComparison.Ordinal);
        Assert.EndsWith("scaler@production\t1 -> 2", lines[1], StringComparison.Ordinal);

        string request = Path.Combine(_root, "request.json");
        await File.WriteAllTextAsync(request, """{"id": "cli", "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""");
        (code, output, _) = await RunAsync("predict", "scaler@production", "--input", request);
        Assert.Equal(0, code);
        JsonElement answer = JsonDocument.Parse(output).RootElement;
        Assert.Equal("2", answer.GetProperty("model_version").GetString());
        Assert.Equal("cli", answer.GetProperty("id").GetString());
        Assert.Equal([3f, 6f, 9f], answer.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray());
    }

    [Fact]
    public async Task Serve_AnswersRestOverHttp1AndHttp2AndGrpcOnOnePort_UntilCancelled()
    {
        Assert.Equal(0, (await RunAsync("register", "scaler", WriteModel("v1.onnx", 2f), "--alias", "production")).Code);
        using var stop = new CancellationTokenSource();
        var stdout = new SyncWriter();
        var stderr = new StringWriter();
        Task<int> serving = ModelKitCommand.InvokeAsync(
            ["serve", "--urls", "http://127.0.0.1:0", "--model", "scaler@production", "--max-batch-size", "8", "--max-queue-delay-us", "500", "--data-dir", DataDir],
            stdout,
            stderr,
            stop.Token);
        string[] addresses = await stdout.WaitForAddressesAsync(serving);
        string address = Assert.Single(addresses);
        using var http = new HttpClient();
        for (int i = 0; i < 50 && (await http.GetAsync($"{address}/v2/health/ready")).StatusCode != System.Net.HttpStatusCode.OK; i++)
        {
            await Task.Delay(100);
        }

        foreach (Version version in new[] { new Version(1, 1), new Version(2, 0) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{address}/v2/models/scaler/infer")
            {
                Content = new StringContent("""{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}""", Encoding.UTF8, "application/json"),
                Version = version,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };
            using HttpResponseMessage response = await http.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            JsonElement body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal([2f, 4f, 6f], body.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        }

        using (Grpc.Net.Client.GrpcChannel channel = Grpc.Net.Client.GrpcChannel.ForAddress(address))
        {
            var client = new ModelKit.Serving.AspNetCore.Protocol.GRPCInferenceService.GRPCInferenceServiceClient(channel);
            Assert.True((await client.ServerLiveAsync(new ModelKit.Serving.AspNetCore.Protocol.ServerLiveRequest())).Live);
        }

        // modelkit grpc: grpcurl-style JSON in and out over the same port.
        (int code, string output, string error) = await RunAsync("grpc", "inference.GRPCInferenceService/ModelInfer", "--url", address, "-d", """{"model_name": "scaler", "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "contents": {"fp32_contents": [1, 2, 3]}}]}""");
        Assert.True(code == 0, error);
        JsonElement inferred = JsonDocument.Parse(output).RootElement;
        Assert.Equal("1", inferred.GetProperty("modelVersion").GetString());
        Assert.Equal([2f, 4f, 6f], inferred.GetProperty("outputs")[0].GetProperty("contents").GetProperty("fp32Contents").EnumerateArray().Select(e => e.GetSingle()).ToArray());
        (code, _, error) = await RunAsync("grpc", "ModelMetadata", "--url", address, "-d", """{"name": "nope"}""");
        Assert.Equal(2, code);
        Assert.Contains("NotFound", error, StringComparison.Ordinal);
        (code, _, error) = await RunAsync("grpc", "Frobnicate", "--url", address);
        Assert.Equal(1, code);
        Assert.Contains("ModelInfer", error, StringComparison.Ordinal);
        (code, _, error) = await RunAsync("grpc", "ModelInfer", "--url", address, "-d", "{\"model_name\": 3");
        Assert.Equal(1, code);
        Assert.Contains("JSON", error, StringComparison.Ordinal);

        await stop.CancelAsync();
        Assert.Equal(0, await serving);
    }

    [Theory]
    [InlineData(1, "frobnicate")]
    [InlineData(1, "show", "Not A Reference")]
    [InlineData(1, "alias", "set", "scaler", "production", "two")]
    [InlineData(2, "show", "nope")]
    [InlineData(2, "show", "nope@production")]
    [InlineData(2, "list", "nope")]
    [InlineData(2, "register", "scaler", "/does/not/exist.onnx")]
    [InlineData(2, "alias", "set", "nope", "production", "1")]
    [InlineData(2, "alias", "history", "nope")]
    public async Task Failures_ExitWithTheirCodeAndOneLineOnStderr(int expected, params string[] args)
    {
        (int code, _, string error) = await RunAsync(args);
        Assert.Equal(expected, code);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.StartsWith("modelkit: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_NotAnOnnxFile_ExitsWithUsageErrorAndStoresNothing()
    {
        string path = Path.Combine(_root, "bad.onnx");
        await File.WriteAllTextAsync(path, "not a model");
        (int code, _, string error) = await RunAsync("register", "bad", path);
        Assert.Equal(1, code);
        Assert.Contains("not an ONNX model", error, StringComparison.Ordinal);
        Assert.Equal(2, (await RunAsync("list", "bad")).Code);
    }

    [Fact]
    public void Process_ShowUnknownModel_ExitCodeTwoFromTheRealExecutable()
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "ModelKit.Cli.dll");
        var start = new ProcessStartInfo("dotnet", [dll, "show", "nope", "--data-dir", DataDir]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(2, process.ExitCode);
        Assert.StartsWith("modelkit: ", error, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>A thread-safe writer that lets the test wait for serve's address line.</summary>
    private sealed partial class SyncWriter : StringWriter
    {
        private readonly TaskCompletionSource<string> _line = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override Task WriteLineAsync(string? value)
        {
            lock (this)
            {
                base.WriteLine(value);
            }

            if (value?.StartsWith("modelkit serving", StringComparison.Ordinal) == true)
            {
                _line.TrySetResult(value);
            }

            return Task.CompletedTask;
        }

        public async Task<string[]> WaitForAddressesAsync(Task<int> serving)
        {
            Task done = await Task.WhenAny(_line.Task, serving, Task.Delay(TimeSpan.FromSeconds(60)));
            Assert.True(done == _line.Task, $"serve did not start: {ToString()}");
            return [.. Address().Matches(_line.Task.Result).Select(m => m.Value)];
        }

        [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
        private static partial Regex Address();
    }
}
