using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry;
using ModelKit.Serving.AspNetCore.Protocol;
using ModelKit.Serving;
using Xunit.Abstractions;

namespace ModelKit.Packaging.Tests;

/// <summary>
/// What a user does after <c>dotnet new install ModelKit.Templates</c>: create a project from each template outside the
/// repository, build it with warnings as errors against the packed ModelKit packages, train one short epoch into a
/// registry, serve that registry and ask it for one prediction over the Open Inference Protocol v2.
/// </summary>
[Collection(PackedModelKitDefinition.Name)]
public sealed class TemplateConsumerTests(PackagesFixture packages, ITestOutputHelper output)
{
    private static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(8);
    private static readonly TimeSpan TrainTimeout = TimeSpan.FromMinutes(5);

    [Fact]
    public async Task Templates_TrainOneShortEpochThenServe_AnswersLikeTheRegisteredModelInProcess()
    {
        var clock = Stopwatch.StartNew();
        output.WriteLine($"packed {packages.Version} in {packages.PackTime.TotalSeconds:F0} s");
        string work = Path.Combine(packages.ConsumerDirectory, "templates");
        Directory.CreateDirectory(work);
        string templatesPackage = Path.Combine(packages.PackagesDirectory, $"ModelKit.Templates.{packages.Version}.nupkg");
        Assert.True(File.Exists(templatesPackage), $"'{templatesPackage}' was not packed. Packages: {string.Join(", ", Directory.GetFiles(packages.PackagesDirectory).Select(Path.GetFileName))}");

        await PackagesFixture.DotnetAsync(work, BuildTimeout, "new", "--debug:custom-hive", packages.TemplateHive, "install", templatesPackage);
        await PackagesFixture.DotnetAsync(work, BuildTimeout, "new", "--debug:custom-hive", packages.TemplateHive, "modelkit-train", "-n", "FashionTrainer", "-o", "FashionTrainer", "--no-restore");
        await PackagesFixture.DotnetAsync(work, BuildTimeout, "new", "--debug:custom-hive", packages.TemplateHive, "modelkit-api", "-n", "FashionApi", "-o", "FashionApi", "--no-restore");
        AssertNoPathIntoRepository(work);
        string trainerProject = File.ReadAllText(Path.Combine(work, "FashionTrainer", "FashionTrainer.csproj"));
        Assert.Contains($"<ModelKitVersion>{packages.Version}</ModelKitVersion>", trainerProject, StringComparison.Ordinal);
        Assert.Contains("namespace FashionTrainer;", File.ReadAllText(Path.Combine(work, "FashionTrainer", "TrainJob.cs")), StringComparison.Ordinal);
        output.WriteLine($"templates installed and instantiated: {clock.Elapsed.TotalSeconds:F0} s");

        await PackagesFixture.DotnetAsync(work, BuildTimeout, "build", "FashionTrainer", "-c", "Release", "-warnaserror");
        await PackagesFixture.DotnetAsync(work, BuildTimeout, "build", "FashionApi", "-c", "Release", "-warnaserror");
        output.WriteLine($"both built: {clock.Elapsed.TotalSeconds:F0} s");

        // Train one short epoch into a fresh registry.
        string data = Path.Combine(work, "modelkit-data");
        string trainerDll = Path.Combine(work, "FashionTrainer", "bin", "Release", "net10.0", "FashionTrainer.dll");
        (int trainExit, string trainOutput) = await ConsumerProcess.RunAsync(PackagesFixture.Dotnet, [trainerDll, "--quick", "--data-dir", data], work, TrainTimeout);
        output.WriteLine(trainOutput);
        Assert.True(trainExit == 0, $"modelkit-train exited with {trainExit}:\n{trainOutput}");
        Assert.Contains("epoch 1/1: loss ", trainOutput, StringComparison.Ordinal);
        Assert.Contains("registered fashion-mnist/1 ", trainOutput, StringComparison.Ordinal);
        Assert.Contains("alias production -> fashion-mnist/1", trainOutput, StringComparison.Ordinal);
        output.WriteLine($"trained: {clock.Elapsed.TotalSeconds:F0} s");

        // Serve the registry as `ModelKit__DataDirectory=DIR dotnet run --urls URL` does: the data directory from the
        // environment, the address from the host's standard --urls, REST and gRPC both on that one port.
        int port = FreePort();
        const string apiKey = "consumer-test-key";
        var environment = new Dictionary<string, string>
        {
            ["ModelKit__DataDirectory"] = data,
            ["Auth__ApiKeys__0"] = apiKey,
        };
        string apiDirectory = Path.Combine(work, "FashionApi");
        string apiDll = Path.Combine(apiDirectory, "bin", "Release", "net10.0", "FashionApi.dll");
        using Process api = ConsumerProcess.Start(
            PackagesFixture.Dotnet, [apiDll, "--urls", $"http://127.0.0.1:{port}"], apiDirectory, environment, out StringBuilder apiOutput);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitUntilLiveAsync(http, api, apiOutput);
            output.WriteLine($"modelkit-api live: {clock.Elapsed.TotalSeconds:F0} s");

            // One OIP v2 infer request: the first Fashion-MNIST test image, from the template's own requests/ folder.
            string request = await File.ReadAllTextAsync(Path.Combine(apiDirectory, "requests", "fashion-mnist-t10k-0.json"));
            using HttpResponseMessage inferResponse = await http.PostAsync(
                "/v2/models/fashion-mnist/versions/1/infer", new StringContent(request, Encoding.UTF8, "application/json"));
            string inferBody = await inferResponse.Content.ReadAsStringAsync();
            Assert.True(inferResponse.StatusCode == HttpStatusCode.OK, $"infer answered {(int)inferResponse.StatusCode}: {inferBody}\n{ConsumerProcess.Snapshot(apiOutput)}");
            using JsonDocument answer = JsonDocument.Parse(inferBody);
            Assert.Equal("fashion-mnist", answer.RootElement.GetProperty("model_name").GetString());
            Assert.Equal("1", answer.RootElement.GetProperty("model_version").GetString());
            JsonElement logitsOutput = answer.RootElement.GetProperty("outputs")[0];
            Assert.Equal("FP32", logitsOutput.GetProperty("datatype").GetString());
            Assert.Equal([1L, 10L], logitsOutput.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            float[] served = [.. logitsOutput.GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];

            // The same version run in this process, from the registry the trainer wrote, on the same image.
            float[] image = [.. JsonDocument.Parse(request).RootElement.GetProperty("inputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];
            float[] expected = await RunInProcessAsync(data, image);
            Assert.Equal(expected.Length, served.Length);
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - served[i]) <= 1e-4f * Math.Max(1f, Math.Abs(expected[i])), $"logit {i}: served {served[i]}, in-process {expected[i]}");
            }

            Assert.Equal(ArgMax(expected), ArgMax(served));
            output.WriteLine($"served class {ArgMax(served)} (label of t10k image 0: 9), logits equal to the in-process run: {clock.Elapsed.TotalSeconds:F0} s");

            // The same request over gRPC (cleartext HTTP/2 with prior knowledge) on the same --urls port.
            float[] servedGrpc = await InferOverGrpcAsync($"http://127.0.0.1:{port}", image);
            Assert.Equal(served.Length, servedGrpc.Length);
            for (int i = 0; i < served.Length; i++)
            {
                Assert.True(Math.Abs(served[i] - servedGrpc[i]) <= 1e-6f * Math.Max(1f, Math.Abs(served[i])), $"logit {i}: REST {served[i]}, gRPC {servedGrpc[i]}");
            }

            output.WriteLine($"gRPC ModelInfer on the same port answered the same logits: {clock.Elapsed.TotalSeconds:F0} s");

            // Management endpoints need authorization; health and Prometheus endpoints are mapped.
            using (HttpResponseMessage anonymous = await http.GetAsync("/modelkit/v1/models"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            }

            using (var authorized = new HttpRequestMessage(HttpMethod.Get, "/modelkit/v1/models"))
            {
                authorized.Headers.Add("X-Api-Key", apiKey);
                using HttpResponseMessage response = await http.SendAsync(authorized);
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /modelkit/v1/models with the API key answered {(int)response.StatusCode}: {body}");
                Assert.Contains("fashion-mnist", body, StringComparison.Ordinal);
            }

            using (HttpResponseMessage ready = await http.GetAsync("/healthz/ready"))
            {
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            }

            using HttpResponseMessage metrics = await http.GetAsync("/metrics");
            string scrape = await metrics.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
            Assert.Contains("# TYPE ", scrape, StringComparison.Ordinal);
        }
        finally
        {
            await StopAsync(api);
            output.WriteLine(ConsumerProcess.Snapshot(apiOutput));
        }

        // ModelKit:Url (here from the environment) still sets the address, again for both protocols on one port.
        int urlPort = FreePort();
        environment["ModelKit__Url"] = $"http://127.0.0.1:{urlPort}";
        using Process api2 = ConsumerProcess.Start(PackagesFixture.Dotnet, [apiDll], apiDirectory, environment, out StringBuilder api2Output);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{urlPort}"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitUntilLiveAsync(http, api2, api2Output);
            string request = await File.ReadAllTextAsync(Path.Combine(apiDirectory, "requests", "fashion-mnist-t10k-0.json"));
            float[] image = [.. JsonDocument.Parse(request).RootElement.GetProperty("inputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle())];
            Assert.Equal(10, (await InferOverGrpcAsync($"http://127.0.0.1:{urlPort}", image)).Length);
            output.WriteLine($"ModelKit__Url: REST live and gRPC ModelInfer on port {urlPort}; total {clock.Elapsed.TotalSeconds:F0} s");
        }
        finally
        {
            await StopAsync(api2);
            output.WriteLine(ConsumerProcess.Snapshot(api2Output));
        }
    }

    private static async Task StopAsync(Process api)
    {
        if (!api.HasExited)
        {
            api.Kill(entireProcessTree: true);
            await api.WaitForExitAsync();
        }
    }

    private static async Task<float[]> InferOverGrpcAsync(string address, float[] image)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(address);
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var request = new ModelInferRequest { ModelName = "fashion-mnist", ModelVersion = "1" };
        request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor
        {
            Name = "input",
            Datatype = "FP32",
            Shape = { 1, 1, 28, 28 },
            Contents = new InferTensorContents { Fp32Contents = { image } },
        });
        ModelInferResponse response = await client.ModelInferAsync(request, deadline: DateTime.UtcNow.AddMinutes(1));
        Assert.Equal("fashion-mnist", response.ModelName);
        Assert.Equal("FP32", response.Outputs[0].Datatype);
        Assert.Equal([1L, 10L], response.Outputs[0].Shape);
        return [.. response.Outputs[0].Contents.Fp32Contents];
    }

    private static async Task<float[]> RunInProcessAsync(string dataDirectory, float[] image)
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = dataDirectory).AddOnnx().AddModelRegistry().AddOnnxRuntimeServing();
        await using ServiceProvider provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<IInferenceSessionPool>();
        InferenceResult result = await pool.RunAsync(
            ModelReference.Parse("fashion-mnist/1"), [new NamedTensor("input", Tensor.Create<float>(image, 1, 1, 28, 28))]);
        return ((Tensor<float>)result.Outputs[0].Value).Span.ToArray();
    }

    private static int ArgMax(float[] values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static async Task WaitUntilLiveAsync(HttpClient http, Process api, StringBuilder apiOutput)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (true)
        {
            Assert.False(api.HasExited, $"modelkit-api exited with {(api.HasExited ? api.ExitCode : 0)} before it served:\n{ConsumerProcess.Snapshot(apiOutput)}");
            try
            {
                using HttpResponseMessage live = await http.GetAsync("/v2/health/live");
                if (live.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < deadline, $"modelkit-api did not answer /v2/health/live within 2 minutes:\n{ConsumerProcess.Snapshot(apiOutput)}");
            await Task.Delay(250);
        }
    }

    private void AssertNoPathIntoRepository(string directory)
    {
        foreach (string file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            string text = File.ReadAllText(file);
            Assert.False(text.Contains(packages.RepositoryRoot, StringComparison.Ordinal), $"'{file}' names the repository '{packages.RepositoryRoot}'.");
            Assert.False(text.Contains("src/ModelKit.", StringComparison.Ordinal) || text.Contains("../../", StringComparison.Ordinal), $"'{file}' has a relative path into the repository:\n{text}");
        }
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
