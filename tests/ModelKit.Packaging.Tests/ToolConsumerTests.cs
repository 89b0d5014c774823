using System.IO.Compression;
using System.Text.Json;
using ModelKit.Onnx;
using Xunit.Abstractions;

namespace ModelKit.Packaging.Tests;

/// <summary>
/// The <c>modelkit</c> .NET tool as a user gets it: ModelKit.Cli names its linux-x64 package, which carries ONNX
/// Runtime's linux-x64 native library only; <c>dotnet tool install</c> from the packed folder gives a <c>modelkit</c>
/// that registers an ONNX model, shows it and runs a prediction on ONNX Runtime.
/// </summary>
[Collection(PackedModelKitDefinition.Name)]
public sealed class ToolConsumerTests(PackagesFixture packages, ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public void ToolPackage_IsLinuxX64Specific_WithOnlyThatRidsNativeOnnxRuntime()
    {
        string pointer = Path.Combine(packages.PackagesDirectory, $"ModelKit.Cli.{packages.Version}.nupkg");
        string tool = Path.Combine(packages.PackagesDirectory, $"ModelKit.Cli.linux-x64.{packages.Version}.nupkg");
        Assert.True(File.Exists(pointer), $"'{pointer}' was not packed.");
        Assert.True(File.Exists(tool), $"'{tool}' was not packed.");
        output.WriteLine($"ModelKit.Cli: {new FileInfo(pointer).Length} bytes; ModelKit.Cli.linux-x64: {new FileInfo(tool).Length} bytes");

        using (ZipArchive zip = ZipFile.OpenRead(pointer))
        {
            string settings = new StreamReader(zip.Entries.Single(e => e.Name == "DotnetToolSettings.xml").Open()).ReadToEnd();
            Assert.Contains("RuntimeIdentifier=\"linux-x64\"", settings, StringComparison.Ordinal);
            Assert.DoesNotContain(zip.Entries, e => e.Name.EndsWith(".so", StringComparison.Ordinal) || e.Name.EndsWith(".dll", StringComparison.Ordinal));
        }

        using (ZipArchive zip = ZipFile.OpenRead(tool))
        {
            string[] natives = [.. zip.Entries.Select(e => e.FullName).Where(n => n.EndsWith(".so", StringComparison.Ordinal) || n.EndsWith(".dylib", StringComparison.Ordinal) || n.EndsWith(".dll", StringComparison.Ordinal) && n.Contains("onnxruntime", StringComparison.OrdinalIgnoreCase))];
            Assert.Contains(natives, n => n.EndsWith("/libonnxruntime.so", StringComparison.Ordinal));
            Assert.DoesNotContain(natives, n => n.Contains("win-", StringComparison.Ordinal) || n.Contains("osx-", StringComparison.Ordinal) || n.Contains("-arm64", StringComparison.Ordinal) || n.EndsWith(".dylib", StringComparison.Ordinal));
            // ONNX Runtime's build props add the Windows onnxruntime.dll to x64 outputs; the tool drops it.
            Assert.DoesNotContain(natives, n => n.EndsWith("/onnxruntime.dll", StringComparison.Ordinal));
        }

        Assert.True(new FileInfo(tool).Length < 40L * 1024 * 1024, $"ModelKit.Cli.linux-x64 is {new FileInfo(tool).Length} bytes; it should carry one RID's native libraries.");
    }

    [Fact]
    public async Task ToolInstall_FromThePackedFolder_GivesAWorkingModelkit()
    {
        string work = Path.Combine(packages.ConsumerDirectory, "tool");
        string toolPath = Path.Combine(work, "bin");
        string data = Path.Combine(work, "modelkit-data");
        Directory.CreateDirectory(work);

        // --tool-path rather than --global, so the machine's tools stay as they are; the package resolution is the same.
        await PackagesFixture.DotnetAsync(work, Timeout, "tool", "install", "ModelKit.Cli", "--version", packages.Version, "--tool-path", toolPath, "--add-source", packages.PackagesDirectory);
        string modelkit = Path.Combine(toolPath, "modelkit");
        Assert.True(File.Exists(modelkit), $"'{modelkit}' was not installed.");

        // y = Relu(x), x float32 [-1, 3].
        string model = Path.Combine(work, "relu.onnx");
        await File.WriteAllBytesAsync(model, new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddNode("Relu", ["x"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes());
        string request = Path.Combine(work, "request.json");
        await File.WriteAllTextAsync(request, """{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [-1, 2, -3]}]}""");

        // The apphost finds the shared runtime through DOTNET_ROOT, as after `dotnet tool install` on any machine.
        string dotnetRoot = Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(typeof(object).Assembly.Location))))!;
        var environment = new Dictionary<string, string> { ["DOTNET_ROOT"] = dotnetRoot };

        (int registerExit, string registered) = await ConsumerProcess.RunAsync(modelkit, ["register", "relu", model, "--data-dir", data], work, Timeout, environment);
        Assert.True(registerExit == 0, $"modelkit register exited with {registerExit}:\n{registered}");

        (int showExit, string shown) = await ConsumerProcess.RunAsync(modelkit, ["show", "relu/1", "--data-dir", data], work, Timeout, environment);
        Assert.True(showExit == 0, $"modelkit show exited with {showExit}:\n{shown}");
        using (JsonDocument version = JsonDocument.Parse(shown))
        {
            Assert.Equal("relu", version.RootElement.GetProperty("name").GetString());
            Assert.Equal("FP32", version.RootElement.GetProperty("inputs")[0].GetProperty("datatype").GetString());
        }

        (int predictExit, string predicted) = await ConsumerProcess.RunAsync(modelkit, ["predict", "relu/1", "--input", request, "--data-dir", data], work, Timeout, environment);
        output.WriteLine(predicted);
        Assert.True(predictExit == 0, $"modelkit predict exited with {predictExit}:\n{predicted}");
        using JsonDocument response = JsonDocument.Parse(predicted);
        Assert.Equal([0f, 2f, 0f], response.RootElement.GetProperty("outputs")[0].GetProperty("data").EnumerateArray().Select(e => e.GetSingle()));
    }
}
