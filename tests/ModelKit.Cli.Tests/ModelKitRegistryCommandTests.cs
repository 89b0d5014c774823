using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using ModelKit.Onnx;

namespace ModelKit.Cli.Tests;

/// <summary>modelkit search, lineage and gc, and the registry store options, in a temporary data directory (SQLite and files).</summary>
public sealed class ModelKitRegistryCommandTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"modelkit-cli-registry-{Guid.NewGuid():N}");

    public ModelKitRegistryCommandTests() => Directory.CreateDirectory(_root);

    private string DataDir => Path.Combine(_root, "data");

    private string WriteModel(string name, float factor)
    {
        string path = Path.Combine(_root, name);
        File.WriteAllBytes(path, new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("factor", [factor], 1)
            .AddNode("Mul", ["x", "factor"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes());
        return path;
    }

    private async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = await ModelKitCommand.InvokeAsync([.. args, "--data-dir", DataDir], stdout, stderr, CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string[] Lines(string output) => output.TrimEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private async Task RegisterAsync(params string[] args) => Assert.Equal(0, (await RunAsync(["register", .. args])).Code);

    [Fact]
    public async Task Search_ByTagAndNamePrefix_PrintsOneLinePerMatchingVersion()
    {
        await RegisterAsync("vision-a", WriteModel("a1.onnx", 1f), "--tag", "team=vision", "--metric", "accuracy=0.8");
        await RegisterAsync("vision-a", WriteModel("a2.onnx", 2f), "--tag", "team=vision", "--metric", "accuracy=0.95");
        await RegisterAsync("vision-b", WriteModel("b1.onnx", 3f), "--tag", "team=speech");
        await RegisterAsync("audio", WriteModel("c1.onnx", 4f), "--tag", "team=vision");

        (int code, string output, string error) = await RunAsync("search", "--name-prefix", "vision", "--tag", "team=vision", "--order-by", "created-asc");
        Assert.True(code == 0, error);
        string[] lines = Lines(output);
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("vision-a/1\t", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("vision-a/2\t", lines[1], StringComparison.Ordinal);
        Assert.Contains("\taccuracy=0.95\tteam=vision", lines[1], StringComparison.Ordinal);

        (code, output, _) = await RunAsync("search", "--metric-min", "accuracy=0.9");
        Assert.Equal(0, code);
        Assert.StartsWith("vision-a/2\t", Assert.Single(Lines(output)), StringComparison.Ordinal);

        (code, output, _) = await RunAsync("search", "--order-by", "created-asc", "--page-size", "3");
        Assert.Equal(0, code);
        lines = Lines(output);
        Assert.Equal(["vision-a/1", "vision-a/2", "vision-b/1", "next-page-token"], lines.Select(l => l.Split('\t')[0]));
        (code, output, _) = await RunAsync("search", "--order-by", "created-asc", "--page-size", "3", "--page-token", lines[3].Split('\t')[1]);
        Assert.Equal(0, code);
        Assert.StartsWith("audio/1\t", Assert.Single(Lines(output)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--order-by", "size")]
    [InlineData("--page-size", "0")]
    [InlineData("--page-token", "next")]
    [InlineData("--metric-min", "accuracy=high")]
    [InlineData("--tag", "team")]
    public async Task Search_BadOptions_ExitWithUsageErrorAndOneLineOnStderr(string option, string value)
    {
        (int code, string output, string error) = await RunAsync("search", option, value);
        Assert.Equal(1, code);
        Assert.Empty(output);
        Assert.StartsWith("modelkit: ", error, StringComparison.Ordinal);
        Assert.Single(Lines(error));
        Assert.Contains(value.Split('=')[^1], error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Lineage_OfAVersionRegisteredWithAParent_ShowsAncestorsAndDescendantsWithRunDatasetAndRecipe()
    {
        string dataset = "sha256:" + new string('d', 64);
        await RegisterAsync("classifier", WriteModel("fp32.onnx", 1f), "--run-id", "run-42", "--dataset-digest", dataset);
        await RegisterAsync("classifier", WriteModel("int8.onnx", 2f), "--parent", "1", "--compression-recipe", "int8-dynamic", "--run-id", "run-42", "--dataset-digest", dataset);
        await RegisterAsync("classifier", WriteModel("pruned.onnx", 3f), "--parent", "2", "--compression-recipe", "prune-50");

        (int code, string output, string error) = await RunAsync("lineage", "classifier/2");
        Assert.True(code == 0, error);
        string[] lines = Lines(output);
        Assert.Equal($"version\tclassifier/2\tparent=classifier/1\trun=run-42\tdataset={dataset}\trecipe=int8-dynamic", lines[0]);
        Assert.Contains($"ancestor\tclassifier/1\tparent=-\trun=run-42\tdataset={dataset}\trecipe=-", lines);
        Assert.Contains("descendant\tclassifier/3\tparent=classifier/2\trun=-\tdataset=-\trecipe=prune-50", lines);

        (code, _, error) = await RunAsync("lineage", "classifier/9");
        Assert.Equal(2, code);
        Assert.StartsWith("modelkit: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Gc_WithGracePeriodZero_DeletesTheOrphanBlobAndKeepsReferencedOnes()
    {
        await RegisterAsync("scaler", WriteModel("v1.onnx", 2f));
        await RegisterAsync("scaler", WriteModel("v2.onnx", 3f));
        byte[] orphan = "bytes no version references"u8.ToArray();
        string hex = Convert.ToHexStringLower(SHA256.HashData(orphan));
        string orphanPath = Path.Combine(DataDir, "blobs", "sha256", hex[..2], hex);
        Directory.CreateDirectory(Path.GetDirectoryName(orphanPath)!);
        File.WriteAllBytes(orphanPath, orphan);
        File.SetLastWriteTimeUtc(orphanPath, DateTime.UtcNow.AddMinutes(-1));

        (int code, string output, string error) = await RunAsync("gc", "--grace-period", "0");
        Assert.True(code == 0, error);
        string[] lines = Lines(output);
        Assert.Equal($"deleted\tsha256:{hex}", lines[0]);
        Assert.Equal($"examined 3, deleted 1 ({orphan.Length} bytes), kept 2 referenced, 0 younger than the grace period, 0 in upload", lines[1]);
        Assert.False(File.Exists(orphanPath));
        Assert.Equal(0, (await RunAsync("show", "scaler/1")).Code);
        Assert.Equal(0, (await RunAsync("show", "scaler/2")).Code);

        (code, _, error) = await RunAsync("gc", "--grace-period", "-5");
        Assert.Equal(1, code);
        Assert.Contains("-5", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task S3AndAzureTogether_IsAUsageErrorNamingBoth()
    {
        (int code, string output, string error) = await RunAsync(
            "list", "--artifacts-s3-bucket", "models", "--artifacts-azure-connection-string", "UseDevelopmentStorage=true");
        Assert.Equal(1, code);
        Assert.Empty(output);
        Assert.Equal(
            "modelkit: Both an S3 bucket (--artifacts-s3-bucket / MODELKIT_ARTIFACTS_S3_BUCKET) and an Azure connection string (--artifacts-azure-connection-string / MODELKIT_ARTIFACTS_AZURE_CONNECTION_STRING) are given; choose one artifact store.",
            error.TrimEnd());
        Assert.False(Directory.Exists(DataDir));
    }

    [Fact]
    public async Task RegistryPostgres_UnreachablePort_ExitsNonZeroWithAClearMessage()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
        }

        (int code, string output, string error) = await RunAsync(
            "list", "--registry-postgres", $"Host=127.0.0.1;Port={port};Username=modelkit;Password=unused;Database=modelkit;Timeout=2;Command Timeout=2");
        Assert.Equal(1, code);
        Assert.Empty(output);
        Assert.StartsWith("modelkit: ", error, StringComparison.Ordinal);
        Assert.Single(Lines(error));
        Assert.Contains("connect", error, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Password=unused", error, StringComparison.Ordinal);
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
}
