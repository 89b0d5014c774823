using Google.Protobuf;
using ModelKit.Onnx.Protobuf;
using ModelKit.Registry;

namespace ModelKit.Onnx.Tests;

/// <summary>
/// The inspector parses files and memory streams without copying large tensor payloads (Internal/OnnxStructureParser).
/// These tests hold it to the usual path, <see cref="OnnxModel.LoadProto(ReadOnlySpan{byte}, OnnxModelOptions)"/> followed by
/// <see cref="OnnxModelInspector.Describe(ModelProto)"/>: the same signature and properties for valid models, the same exception
/// type and message for invalid ones, on hostile models and on 2,000 byte mutations.
/// </summary>
public sealed class OnnxModelInspectorLargeTensorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "modelkit-onnx-large-" + Guid.NewGuid().ToString("N")[..8]);

    public OnnxModelInspectorLargeTensorTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Inspect_FileAndMemoryStreamWithLargeInitializers_MatchTheUsualPath_AndEndAtTheEnd()
    {
        byte[] bytes = LargeModel(out _);
        string path = Path.Combine(_dir, "large.onnx");
        File.WriteAllBytes(path, bytes);
        var inspector = new OnnxModelInspector();

        string expected = Outcome(() => OnnxModelInspector.Describe(OnnxModel.LoadProto(bytes, new OnnxModelOptions())));
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
        string fromFile = Outcome(() => inspector.Inspect(file));
        using var memory = new MemoryStream(bytes);
        string fromMemory = Outcome(() => inspector.Inspect(memory));

        Assert.StartsWith("ok ", expected, StringComparison.Ordinal);
        Assert.Equal(expected, fromFile);
        Assert.Equal(expected, fromMemory);
        Assert.Equal((file.Length, memory.Length), (file.Position, memory.Position));
    }

    [Fact]
    public void Inspect_8MiBModelFile_AllocatesLessThanATenthOfItsSize()
    {
        const int Elements = 2 * 1024 * 1024;
        byte[] bytes = new OnnxGraphBuilder("main", opset: 17)
            .AddInput("x", TensorElementType.Float, -1, Elements)
            .AddInitializer("w", new float[Elements], Elements)
            .AddNode("Add", ["x", "w"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, Elements)
            .ToBytes();
        string path = Path.Combine(_dir, "eight.onnx");
        File.WriteAllBytes(path, bytes);
        var inspector = new OnnxModelInspector();
        using (var warm = new FileStream(path, FileMode.Open, FileAccess.Read))
        {
            inspector.Inspect(warm);
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read);
        long before = GC.GetAllocatedBytesForCurrentThread();
        ModelArtifactInfo info = inspector.Inspect(file);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal("x", info.Signature.Inputs[0].Name);
        Assert.True(allocated < bytes.Length / 10, $"Inspecting a {bytes.Length:N0}-byte model allocated {allocated:N0} bytes; its tensor payload must not be copied.");
    }

    [Fact]
    public void Inspect_LargeRawDataDisagreeingWithItsDims_ThrowsTheUsualMessage()
    {
        ModelProto model = HostileModels.AddBias();
        model.Graph.Initializer[0].RawData = ByteString.CopyFrom(new byte[64 * 1024 + 4]);
        byte[] bytes = model.ToByteArray();

        string expected = Outcome(() => OnnxModelInspector.Describe(OnnxModel.LoadProto(bytes, new OnnxModelOptions())));
        string actual = Outcome(() => new OnnxModelInspector().Inspect(new MemoryStream(bytes)));

        Assert.Contains("raw_data holds 65,540 bytes", expected, StringComparison.Ordinal);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Inspect_LargeTensorsInFunctionsTrainingInfoAndNestedSubgraphs_MatchTheUsualPath()
    {
        TensorProto Big(string name) => HostileModels.Floats(name, [2048], new byte[2048 * 4]);
        TensorProto Wrong(string name) => HostileModels.Floats(name, [2048], new byte[2047 * 4]);
        ModelProto[] models =
        [
            HostileModels.WithLocalFunction(Big("c")),
            HostileModels.WithLocalFunction(Wrong("c")),
            HostileModels.WithTrainingInfo(Big("t")),
            HostileModels.WithTrainingInfo(Wrong("t")),
            HostileModels.NestedIfs(5, Big("deep")),
            HostileModels.NestedIfs(5, Wrong("deep")),
        ];

        foreach (ModelProto model in models)
        {
            byte[] bytes = model.ToByteArray();
            Assert.Equal(
                Outcome(() => OnnxModelInspector.Describe(OnnxModel.LoadProto(bytes, new OnnxModelOptions()))),
                Outcome(() => new OnnxModelInspector().Inspect(new MemoryStream(bytes))));
        }
    }

    [Fact]
    public void Inspect_ThousandsOfByteMutationsOfAModelWithLargeTensors_MatchTheUsualPath()
    {
        byte[] original = LargeModel(out int[] payloadStarts);
        var random = new Random(20261202);
        var inspector = new OnnxModelInspector();
        int differentOutcomes = 0;
        for (int i = 0; i < 2000; i++)
        {
            byte[] bytes = Mutate(original, payloadStarts, random);
            string expected = Outcome(() => OnnxModelInspector.Describe(OnnxModel.LoadProto(bytes, new OnnxModelOptions())));
            string actual = Outcome(() => inspector.Inspect(new MemoryStream(bytes)));
            Assert.True(expected == actual, $"Mutation {i}: the usual path gave '{expected}', the structure parser '{actual}'.");
            differentOutcomes += expected.StartsWith("ok ", StringComparison.Ordinal) ? 0 : 1;
        }

        // The mutations must reach the validation, not only the happy path.
        Assert.InRange(differentOutcomes, 200, 1990);
    }

    /// <summary>y = (x + a) * b with two 16,384-float initializers (raw_data), plus the offsets of their payloads.</summary>
    private static byte[] LargeModel(out int[] payloadStarts)
    {
        float[] a = new float[16384];
        float[] b = new float[16384];
        a[0] = 1.5f;
        b[^1] = -2.5f;
        byte[] bytes = new OnnxGraphBuilder("main", opset: 17)
            .AddInput("x", TensorElementType.Float, -1, 16384)
            .AddInitializer("a", a, 16384)
            .AddInitializer("b", b, 16384)
            .AddNode("Add", ["x", "a"], ["s"])
            .AddNode("Mul", ["s", "b"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 16384)
            .ToBytes();
        byte[] markerA = BitConverter.GetBytes(1.5f);
        int first = bytes.AsSpan().IndexOf(markerA);
        int second = bytes.AsSpan().LastIndexOf(BitConverter.GetBytes(-2.5f)) - (16384 - 1) * 4;
        payloadStarts = [first, second];
        return bytes;
    }

    /// <summary>Flips, inserts, deletes or truncates bytes, mostly in the structure around the tensor payloads.</summary>
    private static byte[] Mutate(byte[] original, int[] payloadStarts, Random random)
    {
        var bytes = new List<byte>(original);
        int edits = random.Next(1, 4);
        for (int e = 0; e < edits && bytes.Count > 1; e++)
        {
            int anchor = random.Next(4) switch
            {
                0 => 0,
                1 => payloadStarts[0],
                2 => payloadStarts[1],
                _ => bytes.Count,
            };
            int at = Math.Clamp(anchor + random.Next(-24, 24), 0, Math.Max(0, bytes.Count - 1));
            switch (random.Next(5))
            {
                case 0:
                    bytes[at] = (byte)random.Next(256);
                    break;
                case 1:
                    bytes[at] ^= (byte)(1 << random.Next(8));
                    break;
                case 2:
                    bytes.Insert(at, (byte)random.Next(256));
                    break;
                case 3:
                    bytes.RemoveAt(at);
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return [.. bytes];
    }

    private static string Outcome(Func<ModelArtifactInfo> inspect)
    {
        try
        {
            ModelArtifactInfo info = inspect();
            return "ok " + string.Join(";", info.Signature.Inputs.Concat(info.Signature.Outputs).Select(t => $"{t.Name}:{t.ElementType}:{t.DescribeShape()}")) +
                " " + string.Join(";", info.Properties.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
        }
        catch (Exception ex) when (ex is ModelKitException)
        {
            return ex.GetType().Name + ": " + ex.Message;
        }
    }
}
