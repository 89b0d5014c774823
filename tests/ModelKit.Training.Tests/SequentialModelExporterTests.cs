using System.Buffers.Binary;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Training.Tests;

public class SequentialModelExporterTests
{
    // The exported bytes read back through this test assembly's own copy of the ONNX protobuf classes.
    private static ModelProto ExportProto(SequentialExportRequest request) => ModelProto.Parser.ParseFrom(SequentialModelExporter.ExportToBytes(request));

    private static ModelSignature ReadSignature(SequentialExportRequest request) => OnnxModel.Load(SequentialModelExporter.ExportToBytes(request)).ReadSignature();

    private static float[] Values(int count, float start = 0.01f)
    {
        var data = new float[count];
        for (int i = 0; i < count; i++)
        {
            data[i] = start * (i + 1);
        }

        return data;
    }

    // Flatten → Linear(12→5) → ReLU → Dropout → Linear(5→3), input [-1, 3, 2, 2].
    private static SequentialExportRequest MlpRequest() => new(
        [new FlattenLayer(), new LinearLayer(12, 5), new ReluLayer(), new DropoutLayer(0.2), new LinearLayer(5, 3)],
        [
            new OnnxParameter("1.weight", Values(60), [5, 12]),
            new OnnxParameter("1.bias", Values(5), [5]),
            new OnnxParameter("4.weight", Values(15), [3, 5]),
            new OnnxParameter("4.bias", Values(3, -0.5f), [3]),
        ],
        new TensorSpec("pixels", TensorElementType.Float, [-1, 3, 2, 2]));

    [Fact]
    public void Export_MapsLayersToFlattenGemmReluGemm()
    {
        ModelProto model = ExportProto(MlpRequest());

        GraphProto graph = model.Graph;
        Assert.Equal(["Flatten", "Gemm", "Relu", "Gemm"], graph.Node.Select(n => n.OpType));
        Assert.Equal(1, graph.Node[0].Attribute.Single(a => a.Name == "axis").I);
        Assert.Equal(1, graph.Node[1].Attribute.Single(a => a.Name == "transB").I);
        Assert.Equal(["pixels"], graph.Node[0].Input);
        Assert.Equal([graph.Node[0].Output[0], "1.weight", "1.bias"], graph.Node[1].Input);
        Assert.Equal([graph.Node[1].Output[0]], graph.Node[2].Input);
        Assert.Equal([graph.Node[2].Output[0], "4.weight", "4.bias"], graph.Node[3].Input);
        Assert.Equal(["logits"], graph.Node[3].Output);
    }

    [Fact]
    public void Export_WritesPyTorchNamedInitializers()
    {
        ModelProto model = ExportProto(MlpRequest());

        Assert.Equal(["1.weight", "1.bias", "4.weight", "4.bias"], model.Graph.Initializer.Select(t => t.Name));
        TensorProto weight = model.Graph.Initializer[0];
        Assert.Equal([5L, 12L], weight.Dims);
        Assert.Equal(60 * 4, weight.RawData.Length);
        Assert.Equal(0.6f, BinaryPrimitives.ReadSingleLittleEndian(weight.RawData.Span[(59 * 4)..]), 6);
        TensorProto bias = model.Graph.Initializer[3];
        Assert.Equal(-1.5f, BinaryPrimitives.ReadSingleLittleEndian(bias.RawData.Span[8..]), 6);
        Assert.DoesNotContain(model.Graph.Input, i => i.Name.Contains("weight", StringComparison.Ordinal));
    }

    [Fact]
    public void Export_DynamicBatch_InputAndOutputAreSymbolic()
    {
        ModelSignature signature = ReadSignature(MlpRequest());

        Assert.Equal(new TensorSpec("pixels", TensorElementType.Float, [-1, 3, 2, 2]), Assert.Single(signature.Inputs));
        Assert.Equal(new TensorSpec("logits", TensorElementType.Float, [-1, 3]), Assert.Single(signature.Outputs));
        ModelProto model = ExportProto(MlpRequest());
        Assert.Equal("N", model.Graph.Output[0].Type.TensorType.Shape.Dim[0].DimParam);
    }

    [Fact]
    public void Export_FixedBatch_KeepsIt()
    {
        SequentialExportRequest request = MlpRequest() with { Input = new TensorSpec("pixels", TensorElementType.Float, [8, 3, 2, 2]) };

        ModelSignature signature = ReadSignature(request);

        Assert.Equal([8L, 3L], signature.Outputs[0].Shape);
    }

    [Fact]
    public void Export_OpsetProducerMetadataAndOutputName()
    {
        SequentialExportRequest request = MlpRequest() with
        {
            Opset = 13,
            ProducerName = "trainer",
            OutputName = "scores",
            Metadata = new Dictionary<string, string> { ["modelkit.run_id"] = "run-7" },
        };

        ModelProto model = ExportProto(request);

        Assert.Equal(13, Assert.Single(model.OpsetImport).Version);
        Assert.Equal(7, model.IrVersion);
        Assert.Equal("trainer", model.ProducerName);
        Assert.Equal("scores", Assert.Single(model.Graph.Output).Name);
        StringStringEntryProto meta = Assert.Single(model.MetadataProps);
        Assert.Equal(("modelkit.run_id", "run-7"), (meta.Key, meta.Value));
    }

    [Fact]
    public void Export_DefaultOpsetIs17()
    {
        ModelProto model = ExportProto(MlpRequest());

        Assert.Equal(17, model.OpsetImport[0].Version);
        Assert.Equal(8, model.IrVersion);
        Assert.Equal("ModelKit", model.ProducerName);
    }

    [Fact]
    public void ExportToStreamAndBytes_ProduceTheSameLoadableModel()
    {
        byte[] bytes = SequentialModelExporter.ExportToBytes(MlpRequest());
        using var stream = new MemoryStream();
        SequentialModelExporter.Export(MlpRequest(), stream);

        Assert.Equal(bytes, stream.ToArray());
        Assert.Equal(4, ModelProto.Parser.ParseFrom(bytes).Graph.Node.Count);
    }

    [Fact]
    public void Export_OnlyDropout_EmitsIdentity()
    {
        var request = new SequentialExportRequest([new DropoutLayer(0.5)], [], new TensorSpec("x", TensorElementType.Float, [-1, 4]));

        ModelProto model = ExportProto(request);

        NodeProto node = Assert.Single(model.Graph.Node);
        Assert.Equal(("Identity", "x", "logits"), (node.OpType, node.Input[0], node.Output[0]));
    }

    [Fact]
    public void Export_LinearOnRank4Input_ThrowsSuggestingFlatten()
    {
        SequentialExportRequest request = MlpRequest() with { Layers = [new LinearLayer(12, 5)], Parameters = [] };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith(
            "Layer 0 (Linear 12→5) receives shape [-1, 3, 2, 2] of rank 4, but a Linear layer (ONNX Gemm) needs rank 2 [N, 12]. Add a FlattenLayer before it.",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Export_FeatureMismatch_ThrowsWithExpectedAndActual()
    {
        SequentialExportRequest request = MlpRequest() with { Layers = [new FlattenLayer(), new LinearLayer(10, 5)] };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith(
            "Layer 1 (Linear 10→5) expects 10 input features but receives shape [-1, 12] (12 features). Fix InFeatures or the previous layer.",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Export_WrongWeightShape_ThrowsNamingLayerParameterAndShapes()
    {
        SequentialExportRequest request = MlpRequest() with
        {
            Parameters =
            [
                new OnnxParameter("1.weight", Values(60), [12, 5]),
                new OnnxParameter("1.bias", Values(5), [5]),
                new OnnxParameter("4.weight", Values(15), [3, 5]),
                new OnnxParameter("4.bias", Values(3), [3]),
            ],
        };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith(
            "Layer 1 (Linear 12→5) parameter '1.weight' has shape [12, 5], expected [5, 12] ([out, in] for a weight, [out] for a bias, as PyTorch stores them).",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Export_MissingBias_ThrowsListingGivenParameters()
    {
        SequentialExportRequest request = MlpRequest() with
        {
            Parameters = [new OnnxParameter("1.weight", Values(60), [5, 12]), new OnnxParameter("4.weight", Values(15), [3, 5]), new OnnxParameter("4.bias", Values(3), [3])],
        };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith(
            "Layer 1 (Linear 12→5) needs parameter '1.bias' of shape [5], but it is missing (parameters given: '1.weight', '4.bias', '4.weight'). Pass the trained '1.bias'.",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Export_DataLengthDiffersFromShape_Throws()
    {
        SequentialExportRequest request = MlpRequest() with
        {
            Parameters =
            [
                new OnnxParameter("1.weight", Values(59), [5, 12]),
                new OnnxParameter("1.bias", Values(5), [5]),
                new OnnxParameter("4.weight", Values(15), [3, 5]),
                new OnnxParameter("4.bias", Values(3), [3]),
            ],
        };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith("Layer 1 (Linear 12→5) parameter '1.weight' has shape [5, 12], which holds 60 values, but 59 were given.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_StrayParameter_Throws()
    {
        SequentialExportRequest request = MlpRequest() with { Parameters = [.. MlpRequest().Parameters, new OnnxParameter("2.weight", [1f], [1])] };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith("Parameter '2.weight' belongs to no layer of the network (5 layers);", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_NonFloatInput_Throws()
    {
        SequentialExportRequest request = MlpRequest() with { Input = new TensorSpec("pixels", TensorElementType.UInt8, [-1, 3, 2, 2]) };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith("Input 'pixels' has element type UInt8; the sequential exporter needs Float (float32) input", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Export_DynamicFeatureDimension_Throws()
    {
        SequentialExportRequest request = MlpRequest() with { Input = new TensorSpec("pixels", TensorElementType.Float, [-1, -1]) };

        var ex = Assert.Throws<ArgumentException>(() => ExportProto(request));
        Assert.StartsWith("Layer 1 (Linear 12→5) expects 12 input features but receives shape [-1, -1] (a dynamic number of features).", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(24)]
    public void Export_UnsupportedOpset_Throws(int opset)
    {
        var ex = Assert.Throws<ArgumentException>(() => ExportProto(MlpRequest() with { Opset = opset }));
        Assert.StartsWith($"Opset {opset} is not supported by the sequential exporter: expected 13 to 23.", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(15)]
    [InlineData(18)]
    [InlineData(21)]
    [InlineData(23)]
    public void Export_SupportedOpsets_LoadBack(int opset)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(SequentialModelExporter.ExportToBytes(MlpRequest() with { Opset = opset }));

        Assert.Equal(opset, model.OpsetImport[0].Version);
    }

    [Fact]
    public void Export_NoLayers_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => ExportProto(MlpRequest() with { Layers = [] }));
        Assert.StartsWith("The network has no layers;", ex.Message, StringComparison.Ordinal);
    }
}
