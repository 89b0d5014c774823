using System.Globalization;
using CsCheck;
using Google.Protobuf;
using ModelKit.Onnx.Protobuf;
using Xunit.Abstractions;

namespace ModelKit.Onnx.Fuzz.Tests;

/// <summary>
/// Fuzzes parse + validate + register + load + run with fixed seeds (see <see cref="FuzzPipeline"/> for the property).
/// The normal run takes well under a minute; <c>MODELKIT_FUZZ_SCALE=N</c> runs N times as many cases (for example 50
/// for a long run). Each test writes its counts to the test output and to <c>artifacts/fuzz/</c>.
/// </summary>
public sealed class ModelPipelineFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const ulong Seed = 20261202;
    private static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("MODELKIT_FUZZ_SCALE"), NumberStyles.None, CultureInfo.InvariantCulture, out int scale) && scale > 0 ? scale : 1;

    private readonly FuzzPipeline _pipeline = new();

    public void Dispose() => _pipeline.Dispose();

    [Fact]
    public void StructuredModelsWithTargetedCorruptions_EndInModelKitExceptionOrARun()
    {
        Sample("structured", StructuredModels.Generator(_pipeline.CanaryPath), 500 * Scale, stream: 1);
    }

    [Fact]
    public void QuickStartMlpByteMutations_EndInModelKitExceptionOrARun()
    {
        byte[] mlp = QuickStartMlp();
        Assert.Null(_pipeline.Run(new FuzzCase("quick-start MLP, unmutated", mlp)));

        Sample("quick-start MLP bytes", ByteMutations.Generator("quick-start MLP", mlp), 250 * Scale, stream: 2);
    }

    [Theory]
    [InlineData("silero_vad_legacy.onnx", 3u)]
    [InlineData("silero_vad_v5.onnx", 4u)]
    [InlineData("ch_PP-OCRv4_det_infer.onnx", 5u)]
    [InlineData("ch_PP-OCRv4_rec_infer.onnx", 6u)]
    [InlineData("ch_ppocr_mobile_v2.0_cls_infer.onnx", 7u)]
    public void ThirdPartyModelByteMutations_EndInModelKitExceptionOrARun(string file, uint stream)
    {
        byte[] model = File.ReadAllBytes(Path.Combine(RepositoryRoot(), "artifacts", "models", "thirdparty", file));
        Assert.Null(_pipeline.Run(new FuzzCase(file + ", unmutated", model)));

        Sample(file + " bytes", ByteMutations.Generator(file, model), 16 * Scale, stream);
    }

    [Theory]
    [InlineData("silero_vad_v5.onnx", 8u)]
    [InlineData("ch_ppocr_mobile_v2.0_cls_infer.onnx", 9u)]
    public void ThirdPartyModelsWithExternalData_LoadFromTheirFolderOnlyWhenTheDataStaysInside(string file, uint stream)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(RepositoryRoot(), "artifacts", "models", "thirdparty", file)));
        string[] locations = ["weights.bin", "../canary.bin", "appsettings.json", _pipeline.CanaryPath, "link.bin"];
        FuzzCase Build(int location, bool folder, int seed)
        {
            ModelProto copy = model.Clone();
            TensorProto[] candidates = [.. WeightTensors(copy.Graph).Where(i => i.RawData.Length >= 16)];
            TensorProto tensor = candidates[new Random(seed).Next(candidates.Length)];
            byte[] data = [.. new byte[16], .. tensor.RawData.ToByteArray()];
            tensor.ClearRawData();
            tensor.DataLocation = TensorProto.Types.DataLocation.External;
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = locations[location] });
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "16" });
            Dictionary<string, byte[]>? files = folder ? new(StringComparer.Ordinal) { ["weights.bin"] = data, ["link.bin"] = [] } : null;
            string kind = (location == 3 ? "absolute path to the canary" : locations[location]) + (folder ? " (folder)" : " (bytes)");
            return new FuzzCase($"{file}, tensor '{tensor.Name}' external at '{locations[location]}'", copy.ToByteArray(), files, kind);
        }

        // The legitimate case first: the data next to the model, loaded from the folder, runs.
        Assert.Null(_pipeline.Run(Build(0, folder: true, seed: 1)));
        Assert.Equal(1, _pipeline.Outcomes.GetValueOrDefault(FuzzOutcome.Ran) + _pipeline.Outcomes.GetValueOrDefault(FuzzOutcome.RanWithError));
        Gen<FuzzCase> gen = Gen.Select(Gen.Int[0, locations.Length - 1], Gen.Bool, Gen.Int).Select(t => Build(t.Item1, t.Item2, t.Item3));

        Sample(file + " external data", gen, 12 * Scale, stream);
    }

    /// <summary>The tensors of a graph that hold weights: initializers, Constant values, and those of subgraphs.</summary>
    private static IEnumerable<TensorProto> WeightTensors(GraphProto graph)
    {
        foreach (TensorProto tensor in graph.Initializer)
        {
            yield return tensor;
        }

        foreach (NodeProto node in graph.Node)
        {
            foreach (AttributeProto attribute in node.Attribute)
            {
                if (attribute.T is { } t)
                {
                    yield return t;
                }

                foreach (GraphProto subgraph in attribute.Graphs.Append(attribute.G).OfType<GraphProto>())
                {
                    foreach (TensorProto inner in WeightTensors(subgraph))
                    {
                        yield return inner;
                    }
                }
            }
        }
    }

    private void Sample(string title, Gen<FuzzCase> gen, int cases, uint stream)
    {
        for (int i = 0; i < cases; i++)
        {
            var pcg = new PCG(stream, Seed + (ulong)i);
            string seed = pcg.ToString();
            FuzzCase fuzzCase = gen.Generate(pcg, null!, out _);
            if (_pipeline.Run(fuzzCase) is { } finding)
            {
                output.WriteLine($"finding at case {i} (CsCheck seed {seed}): {finding}");
            }
        }

        string summary = _pipeline.Summary(title);
        output.WriteLine(summary);
        WriteReport(title, summary);
        Assert.True(_pipeline.Findings.Count == 0, summary);
    }

    private static void WriteReport(string title, string summary)
    {
        string folder = Path.Combine(RepositoryRoot(), "artifacts", "fuzz");
        Directory.CreateDirectory(folder);
        string name = new([.. title.Select(c => char.IsLetterOrDigit(c) ? c : '-')]);
        File.WriteAllText(Path.Combine(folder, $"{name}.txt"), $"scale {Scale}, seed {Seed}\n{summary}");
    }

    /// <summary>A model shaped like the quick start's (Flatten, Linear 784→256, ReLU, Linear 256→10), random weights.</summary>
    private static byte[] QuickStartMlp()
    {
        var random = new Random(7);
        float[] Weights(int count) => [.. Enumerable.Range(0, count).Select(_ => (float)((random.NextDouble() * 0.1) - 0.05))];
        return new OnnxGraphBuilder("quickstart", opset: 17)
            .AddInput("input", TensorElementType.Float, -1, 1, 28, 28)
            .AddNode("Flatten", ["input"], ["flat"], OnnxAttribute.Int("axis", 1))
            .AddInitializer("0.weight", Weights(256 * 784), 256, 784)
            .AddInitializer("0.bias", Weights(256), 256)
            .AddNode("Gemm", ["flat", "0.weight", "0.bias"], ["hidden"], OnnxAttribute.Int("transB", 1))
            .AddNode("Relu", ["hidden"], ["activated"])
            .AddInitializer("1.weight", Weights(10 * 256), 10, 256)
            .AddInitializer("1.bias", Weights(10), 10)
            .AddNode("Gemm", ["activated", "1.weight", "1.bias"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 10)
            .ToBytes();
    }

    private static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ModelKit.sln not found above " + AppContext.BaseDirectory);
    }
}
