using System.Globalization;
using System.Text;
using Google.Protobuf;
using ModelKit.Onnx.Protobuf;
using ModelKit.Registry;

namespace ModelKit.Onnx.Tests;

public class OnnxModelInspectorTests
{
    private const string Expected = "expected a serialized onnx.ModelProto (.onnx file).";

    // Flatten → Linear(4→3) → ReLU → Linear(3→2) as ModelKit.Training's exporter writes it.
    private static byte[] ExportedBytes() => new OnnxGraphBuilder("sequential", 17)
        .SetProducer("unit-test", typeof(OnnxGraphBuilder).Assembly.GetName().Version!.ToString(3))
        .AddInput("image", TensorElementType.Float, -1, 1, 2, 2)
        .AddInitializer("1.weight", new float[12], 3, 4)
        .AddInitializer("1.bias", new float[3], 3)
        .AddInitializer("3.weight", new float[6], 2, 3)
        .AddInitializer("3.bias", new float[2], 2)
        .AddNode("Flatten", ["image"], ["/0/Flatten_output_0"], OnnxAttribute.Int("axis", 1))
        .AddNode("Gemm", ["/0/Flatten_output_0", "1.weight", "1.bias"], ["/1/Gemm_output_0"], OnnxAttribute.Int("transB", 1))
        .AddNode("Relu", ["/1/Gemm_output_0"], ["/2/Relu_output_0"])
        .AddNode("Gemm", ["/2/Relu_output_0", "3.weight", "3.bias"], ["logits"], OnnxAttribute.Int("transB", 1))
        .AddOutput("logits", TensorElementType.Float, -1, 2)
        .ToBytes();

    private static ModelArtifactInfo Inspect(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes);
        return new OnnxModelInspector().Inspect(stream);
    }

    private static InvalidModelException Rejected(byte[] bytes) => Assert.Throws<InvalidModelException>(() => Inspect(bytes));

    [Fact]
    public void Format_IsOnnx()
    {
        Assert.Equal("onnx", new OnnxModelInspector().Format);
    }

    [Fact]
    public void Inspect_ExportedModel_ReturnsSignatureAndProperties()
    {
        ModelArtifactInfo info = Inspect(ExportedBytes());

        Assert.Equal(
            new ModelSignature(
                [new TensorSpec("image", TensorElementType.Float, [-1, 1, 2, 2])],
                [new TensorSpec("logits", TensorElementType.Float, [-1, 2])]),
            info.Signature);
        Assert.Equal("8", info.Properties["onnx.ir_version"]);
        Assert.Equal("17", info.Properties["onnx.opset"]);
        Assert.Equal("unit-test", info.Properties["onnx.producer_name"]);
        Assert.Equal(typeof(OnnxGraphBuilder).Assembly.GetName().Version!.ToString(3), info.Properties["onnx.producer_version"]);
    }

    [Fact]
    public void Inspect_OtherDomainOpset_IsReportedSeparately()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(ExportedBytes());
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });

        ModelArtifactInfo info = Inspect(model.ToByteArray());

        Assert.Equal("17", info.Properties["onnx.opset"]);
        Assert.Equal("1", info.Properties["onnx.opset.com.microsoft"]);
    }

    [Fact]
    public void Inspect_LeavesTheStreamOpen()
    {
        using var stream = new MemoryStream(ExportedBytes());

        new OnnxModelInspector().Inspect(stream);

        Assert.True(stream.CanRead);
        Assert.Equal(stream.Length, stream.Position);
    }

    [Fact]
    public void Inspect_Empty_ThrowsClearMessage()
    {
        InvalidModelException ex = Rejected([]);

        Assert.Equal($"The data is not an ONNX model: it is empty (0 bytes); {Expected} Check that the file was written completely.", ex.Message);
    }

    [Fact]
    public void Inspect_PngImage_ThrowsClearMessage()
    {
        byte[] png = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, (byte)'I', (byte)'H', (byte)'D', (byte)'R', 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89];

        InvalidModelException ex = Rejected(png);

        Assert.StartsWith("The data is not an ONNX model: the input (33 bytes) looks like a PNG image and ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith(Expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_TextFile_ThrowsClearMessage()
    {
        byte[] text = Encoding.UTF8.GetBytes("name,label\nshirt,6\nsneaker,7\n");

        InvalidModelException ex = Rejected(text);

        Assert.StartsWith("The data is not an ONNX model: the input (29 bytes) looks like text and ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith(Expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_GitLfsPointer_SaysSo()
    {
        byte[] pointer = Encoding.UTF8.GetBytes("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 1048576\n");

        InvalidModelException ex = Rejected(pointer);

        Assert.StartsWith($"The data is not an ONNX model: the input ({pointer.Length} bytes) looks like a Git LFS pointer file (fetch the real file with 'git lfs pull') and ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_ZipArchive_ThrowsClearMessage()
    {
        byte[] zip = [(byte)'P', (byte)'K', 3, 4, 20, 0, 0, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8];

        InvalidModelException ex = Rejected(zip);

        Assert.StartsWith("The data is not an ONNX model: the input (18 bytes) looks like a ZIP archive (for example a PyTorch .pt checkpoint or a .zip file) and ", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith(Expected, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 16)]
    [InlineData(2, 100)]
    [InlineData(3, 1000)]
    [InlineData(4, 4096)]
    [InlineData(5, 7)]
    [InlineData(6, 65536)]
    public void Inspect_RandomBytes_ThrowsNotAnOnnxModel(int seed, int length)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);

        InvalidModelException ex = Rejected(bytes);

        Assert.StartsWith("The data is not an ONNX model: the input (" + length.ToString("N0", CultureInfo.InvariantCulture) + " bytes) ", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("looks like", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith(Expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inspect_TruncatedModel_ThrowsNotAnOnnxModel()
    {
        byte[] bytes = ExportedBytes();

        InvalidModelException ex = Rejected(bytes[..(bytes.Length - 5)]);

        Assert.StartsWith("The data is not an ONNX model: ", ex.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidProtocolBufferException>(ex.InnerException);
    }

    [Fact]
    public void Inspect_NoGraph_ThrowsClearMessage()
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "x" };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        byte[] bytes = model.ToByteArray();

        InvalidModelException ex = Rejected(bytes);

        Assert.Equal($"The data is not an ONNX model: the input ({bytes.Length} bytes) has no graph (ModelProto.graph is missing); {Expected}", ex.Message);
    }

    [Fact]
    public void Inspect_NoIrVersion_ThrowsClearMessage()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(ExportedBytes());
        model.ClearIrVersion();
        byte[] bytes = model.ToByteArray();

        InvalidModelException ex = Rejected(bytes);

        Assert.Equal("The data is not an ONNX model: the input (" + bytes.Length.ToString("N0", CultureInfo.InvariantCulture) + $" bytes) has no ir_version; {Expected}", ex.Message);
    }

    [Fact]
    public void Inspect_ExternalData_ThrowsNotSupported()
    {
        ModelProto model = ModelProto.Parser.ParseFrom(ExportedBytes());
        TensorProto weight = model.Graph.Initializer[0];
        weight.ClearRawData();
        weight.DataLocation = TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
        weight.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });

        InvalidModelException ex = Rejected(model.ToByteArray());

        Assert.StartsWith(
            "Tensor data stored externally is not supported here: initializer '1.weight' of graph 'sequential' (ModelProto.graph.initializer[0]) keeps its data in an external file ('weights.bin', data_location EXTERNAL), " +
            "and a model given as bytes has no folder that the file could be checked against (ONNX Runtime would resolve it against the working directory). " +
            "Save the model with all tensors inside the .onnx file (in Python: onnx.save_model(model, path, save_as_external_data=False))",
            ex.Message,
            StringComparison.Ordinal);
    }
}
