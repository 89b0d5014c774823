using System.Diagnostics;
using Xunit.Abstractions;

namespace ModelKit.Packaging.Tests;

/// <summary>
/// A plain console app that serves models and never trains: it references ModelKit.Serving, ModelKit.Registry,
/// ModelKit.Onnx and Microsoft.ML.OnnxRuntime (plus the DI container it builds its services with), registers a
/// third-party ONNX model, runs it, and must not get libtorch or ModelKit's training shim in its output.
/// </summary>
[Collection(PackedModelKitDefinition.Name)]
public sealed class ServingConsumerTests(PackagesFixture packages, ITestOutputHelper output)
{
    private const string Program = """
        using Microsoft.Extensions.DependencyInjection;
        using ModelKit;
        using ModelKit.Registry;
        using ModelKit.Serving;

        // args: DATA_DIRECTORY MODEL.onnx
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = args[0]).AddOnnx().AddModelRegistry().AddOnnxRuntimeServing();
        await using ServiceProvider provider = services.BuildServiceProvider();
        var registry = provider.GetRequiredService<IModelRegistry>();
        await using (FileStream model = File.OpenRead(args[1]))
        {
            ModelVersion version = await registry.RegisterAsync(new ModelRegistration("text-direction"), model);
            Console.WriteLine($"registered {version.Name}/{version.Version}: {string.Join(", ", version.Signature.Inputs)} -> {string.Join(", ", version.Signature.Outputs)}");
        }

        // PaddleOCR's text direction classifier: an image 3x48x192 in, the probabilities of 0 and 180 degrees out.
        var random = new Random(7);
        float[] image = new float[3 * 48 * 192];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = (float)(random.NextDouble() * 2 - 1);
        }

        var pool = provider.GetRequiredService<IInferenceSessionPool>();
        InferenceResult result = await pool.RunAsync(ModelReference.Parse("text-direction/1"), [new NamedTensor("x", Tensor.Create<float>(image, 1, 3, 48, 192))]);
        var probabilities = (Tensor<float>)result.Outputs[0].Value;
        Console.WriteLine($"output {result.Outputs[0].Name} shape [{string.Join(", ", probabilities.Shape.ToArray())}] sum {probabilities.Span.ToArray().Sum():F4}");
        """;

    [Fact]
    public async Task ServingOnlyConsumer_RunsAModel_WithoutLibtorchOrTheTrainingShim()
    {
        var clock = Stopwatch.StartNew();
        string project = Path.Combine(packages.ConsumerDirectory, "ServingConsumer");
        Directory.CreateDirectory(project);
        await File.WriteAllTextAsync(Path.Combine(project, "ServingConsumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="ModelKit.Serving" Version="{packages.Version}" />
                <PackageReference Include="ModelKit.Registry" Version="{packages.Version}" />
                <PackageReference Include="ModelKit.Onnx" Version="{packages.Version}" />
                <PackageReference Include="Microsoft.ML.OnnxRuntime" Version="1.31.0" />
                <PackageReference Include="Microsoft.Extensions.DependencyInjection" Version="10.0.14" />
              </ItemGroup>
            </Project>
            """);
        await File.WriteAllTextAsync(Path.Combine(project, "Program.cs"), Program);

        await PackagesFixture.DotnetAsync(project, TimeSpan.FromMinutes(8), "build", "-c", "Release", "-warnaserror");
        output.WriteLine($"built: {clock.Elapsed.TotalSeconds:F0} s");

        string model = Path.Combine(packages.RepositoryRoot, "artifacts", "models", "thirdparty", "ch_ppocr_mobile_v2.0_cls_infer.onnx");
        Assert.True(File.Exists(model), $"'{model}' is missing: run 'bash eng/setup.sh' to fetch the third-party models.");
        string bin = Path.Combine(project, "bin", "Release", "net10.0");
        (int exitCode, string run) = await ConsumerProcess.RunAsync(
            PackagesFixture.Dotnet, [Path.Combine(bin, "ServingConsumer.dll"), Path.Combine(project, "modelkit-data"), model], project, TimeSpan.FromMinutes(2));
        output.WriteLine(run);
        Assert.True(exitCode == 0, $"the serving consumer exited with {exitCode}:\n{run}");
        Assert.Contains("registered text-direction/1: ", run, StringComparison.Ordinal);
        Assert.Matches(@"output \S+ shape \[1, 2\] sum 1\.0000", run);

        // ONNX Runtime's native library is there (so the scan below looks at a real output folder); nothing of libtorch is.
        string[] files = [.. Directory.EnumerateFiles(bin, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(bin, f))];
        Assert.Contains(files, f => Path.GetFileName(f) == "libonnxruntime.so");
        string[] training = [.. files.Where(f => Path.GetFileName(f) is var name && (name.StartsWith("libtorch", StringComparison.Ordinal) || name.StartsWith("libmodelkit_torch", StringComparison.Ordinal)
            || name.StartsWith("libc10", StringComparison.Ordinal) || name.StartsWith("ModelKit.Training", StringComparison.Ordinal)))];
        Assert.True(training.Length == 0, $"the serving-only consumer got training files: {string.Join(", ", training)}");
        string deps = await File.ReadAllTextAsync(Path.Combine(bin, "ServingConsumer.deps.json"));
        Assert.DoesNotContain("ModelKit.Training", deps, StringComparison.Ordinal);
        Assert.DoesNotContain("modelkit_torch", deps, StringComparison.Ordinal);
        output.WriteLine($"total {clock.Elapsed.TotalSeconds:F0} s");
    }
}
