using System.Buffers.Binary;
using Google.Protobuf;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Onnx.Tests;

public class OnnxGraphBuilderTests
{
    private static OnnxGraphBuilder TinyLinear(int opset = 17) =>
        new OnnxGraphBuilder("tiny", opset)
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddInitializer("w", new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, 3, 4)
            .AddInitializer("b", new float[] { 0.5f, -0.5f, 1.5f }, 3)
            .AddNode("Gemm", ["x", "w", "b"], ["h"], OnnxAttribute.Int("transB", 1))
            .AddNode("Relu", ["h"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3);

    [Fact]
    public void ToBytes_ParsesBackWithNamesShapesAndAttributes()
    {
        byte[] bytes = TinyLinear().SetProducer("tests", "1.2.3").AddMetadata("run", "42").ToBytes();

        ModelProto model = ModelProto.Parser.ParseFrom(bytes);

        Assert.Equal(8, model.IrVersion);
        OperatorSetIdProto opset = Assert.Single(model.OpsetImport);
        Assert.Equal("", opset.Domain);
        Assert.Equal(17, opset.Version);
        Assert.Equal("tests", model.ProducerName);
        Assert.Equal("1.2.3", model.ProducerVersion);
        StringStringEntryProto meta = Assert.Single(model.MetadataProps);
        Assert.Equal(("run", "42"), (meta.Key, meta.Value));

        GraphProto graph = model.Graph;
        Assert.Equal("tiny", graph.Name);
        Assert.Equal(["Gemm_0", "Relu_1"], graph.Node.Select(n => n.Name));
        Assert.Equal(["Gemm", "Relu"], graph.Node.Select(n => n.OpType));
        Assert.Equal(["x", "w", "b"], graph.Node[0].Input);
        Assert.Equal(["h"], graph.Node[0].Output);
        AttributeProto transB = Assert.Single(graph.Node[0].Attribute);
        Assert.Equal("transB", transB.Name);
        Assert.Equal(AttributeProto.Types.AttributeType.Int, transB.Type);
        Assert.Equal(1, transB.I);

        ValueInfoProto x = Assert.Single(graph.Input);
        Assert.Equal("x", x.Name);
        Assert.Equal((int)TensorElementType.Float, x.Type.TensorType.ElemType);
        Assert.Equal("N", x.Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(4, x.Type.TensorType.Shape.Dim[1].DimValue);
        Assert.Equal("y", Assert.Single(graph.Output).Name);
    }

    [Fact]
    public void AddInitializer_Float_StoresLittleEndianRawData()
    {
        ModelProto model = TinyLinear().Build();

        TensorProto b = model.Graph.Initializer.Single(t => t.Name == "b");
        Assert.Equal((int)TensorElementType.Float, b.DataType);
        Assert.Equal([3L], b.Dims);
        Assert.Empty(b.FloatData);
        byte[] raw = b.RawData.ToByteArray();
        Assert.Equal(12, raw.Length);
        Assert.Equal(-0.5f, BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(4)));
        TensorProto w = model.Graph.Initializer.Single(t => t.Name == "w");
        Assert.Equal([3L, 4L], w.Dims);
        Assert.Equal(12f, BinaryPrimitives.ReadSingleLittleEndian(w.RawData.Span[(11 * 4)..]));
    }

    [Fact]
    public void AddInitializer_Int64_StoresLittleEndianRawData()
    {
        ModelProto model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 2, 3)
            .AddInitializer("shape", new long[] { -1, 6 }, 2)
            .AddNode("Reshape", ["x", "shape"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 6)
            .Build();

        TensorProto shape = Assert.Single(model.Graph.Initializer);
        Assert.Equal((int)TensorElementType.Int64, shape.DataType);
        Assert.Equal(-1L, BinaryPrimitives.ReadInt64LittleEndian(shape.RawData.Span));
        Assert.Equal(6L, BinaryPrimitives.ReadInt64LittleEndian(shape.RawData.Span[8..]));
    }

    [Fact]
    public void AddInput_DynamicDimensions_BecomeNAndDi()
    {
        ModelProto model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3, -1, -1)
            .AddNode("Relu", ["x"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3, -1, -1)
            .Build();

        var dims = model.Graph.Input[0].Type.TensorType.Shape.Dim;
        Assert.Equal("N", dims[0].DimParam);
        Assert.Equal(3, dims[1].DimValue);
        Assert.Equal("d2", dims[2].DimParam);
        Assert.Equal("d3", dims[3].DimParam);
    }

    [Theory]
    [InlineData(13, 7)]
    [InlineData(17, 8)]
    [InlineData(18, 8)]
    [InlineData(19, 9)]
    [InlineData(21, 10)]
    [InlineData(11, 6)]
    public void Build_SetsIrVersionFromOpset(int opset, long irVersion)
    {
        ModelProto model = TinyLinear(opset).Build();

        Assert.Equal(irVersion, model.IrVersion);
        Assert.Equal(opset, model.OpsetImport[0].Version);
    }

    [Theory]
    [InlineData(6)]
    [InlineData(0)]
    [InlineData(99)]
    public void Constructor_UnsupportedOpset_Throws(int opset)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new OnnxGraphBuilder("g", opset));
        Assert.Contains($"Opset {opset} is not supported: expected a default-domain ONNX opset from 7 to 23.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_UndefinedNodeInput_ThrowsNamingIt()
    {
        OnnxGraphBuilder builder = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddNode("Gemm", ["x", "missing_w"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3);

        var ex = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Equal(
            "Node 'Gemm_0' consumes 'missing_w', which no graph input, initializer or earlier node defines. " +
            "Add the input or initializer, or add the node that produces it before this one (nodes must be in topological order).",
            ex.Message);
    }

    [Fact]
    public void Build_NodeBeforeProducer_Throws()
    {
        OnnxGraphBuilder builder = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddNode("Relu", ["h"], ["y"])
            .AddNode("Relu", ["x"], ["h"])
            .AddOutput("y", TensorElementType.Float, -1, 4);

        var ex = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.StartsWith("Node 'Relu_0' consumes 'h'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_EmptyInputName_IsAbsentOptionalInput()
    {
        ModelProto model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddInitializer("w", new float[12], 3, 4)
            .AddNode("Gemm", ["x", "w", ""], ["y"], OnnxAttribute.Int("transB", 1))
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .Build();

        Assert.Equal(["x", "w", ""], model.Graph.Node[0].Input);
    }

    [Fact]
    public void Build_OutputNotProduced_ThrowsNamingIt()
    {
        OnnxGraphBuilder builder = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddNode("Relu", ["x"], ["y"])
            .AddOutput("z", TensorElementType.Float, -1, 4);

        var ex = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Equal("Graph output 'z' is not produced by any node, graph input or initializer. Add the node that produces it, or fix the output name.", ex.Message);
    }

    [Fact]
    public void Build_DuplicateValueName_ThrowsNamingBothDefinitions()
    {
        OnnxGraphBuilder builder = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddInitializer("x", new float[4], 4)
            .AddNode("Relu", ["x"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 4);

        var ex = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Equal(
            "Value 'x' is defined twice: as graph input and as initializer. Value names must be unique across graph inputs, initializers and node outputs; rename one.",
            ex.Message);
    }

    [Fact]
    public void Build_NodeOutputRedefinesValue_Throws()
    {
        OnnxGraphBuilder builder = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddNode("Relu", ["x"], ["y"])
            .AddNode("Relu", ["y"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 4);

        var ex = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Contains("Value 'y' is defined twice: as output of node 'Relu_0' and as output of node 'Relu_1'.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_NoOutputs_Throws()
    {
        OnnxGraphBuilder builder = new OnnxGraphBuilder("g").AddInput("x", TensorElementType.Float, 1);

        var ex = Assert.Throws<InvalidOperationException>(builder.Build);
        Assert.Equal("Graph 'g' has no outputs; call AddOutput for each value the model returns.", ex.Message);
    }

    [Fact]
    public void AddInitializer_CountMismatch_ThrowsWithCounts()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder().AddInitializer("w", new float[5], 2, 3));
        Assert.StartsWith("Initializer 'w' has shape [2, 3], which holds 6 elements, but 5 were given. Pass exactly 6 values or fix the shape.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddInput_InvalidDimension_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder().AddInput("x", TensorElementType.Float, -2, 4));
        Assert.StartsWith("Value 'x' has shape [-2, 4] with dimension 0 = -2;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddInput_UndefinedElementType_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder().AddInput("x", TensorElementType.Undefined, 4));
        Assert.StartsWith("Value 'x' has element type Undefined;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddNode_DuplicateAttribute_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder()
            .AddNode("Gemm", ["a", "b"], ["c"], OnnxAttribute.Int("transB", 1), OnnxAttribute.Int("transB", 0)));
        Assert.StartsWith("Node 'Gemm_0' has attribute 'transB' twice;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddMetadata_DuplicateKey_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder().AddMetadata("k", "1").AddMetadata("k", "2"));
        Assert.StartsWith("Metadata key 'k' was added before (value '1');", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ReturnsIndependentModels()
    {
        OnnxGraphBuilder builder = TinyLinear();
        ModelProto first = builder.Build();
        first.Graph.Node[0].OpType = "Changed";

        ModelProto second = builder.Build();

        Assert.Equal("Gemm", second.Graph.Node[0].OpType);
    }

    [Fact]
    public void Build_OutputOfBuilderPassesModelValidation()
    {
        ModelProto model = OnnxModel.LoadProto(TinyLinear().ToBytes());

        Assert.Equal("x", Assert.Single(OnnxModel.ReadSignature(model).Inputs).Name);
    }

    [Fact]
    public void AddInitializer_TensorProto_AcceptsOtherElementTypes()
    {
        var zeroPoint = new TensorProto { Name = "zp", DataType = (int)TensorElementType.UInt8, RawData = ByteString.CopyFrom(7) };

        ModelProto model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddInitializer(zeroPoint)
            .AddInitializer("scale", new float[] { 0.1f })
            .AddNode("QuantizeLinear", ["x", "scale", "zp"], ["q"])
            .AddOutput("q", TensorElementType.UInt8, -1, 4)
            .Build();

        Assert.Equal(7, model.Graph.Initializer.Single(t => t.Name == "zp").RawData[0]);
    }

    [Fact]
    public void AddInitializer_ShapeWhoseProductOverflows_ThrowsArgumentExceptionNamingTheInitializer()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxGraphBuilder().AddInitializer("w", new float[4], 1L << 32, 1L << 32, 4));

        Assert.StartsWith("Initializer 'w' has shape [4294967296, 4294967296, 4], whose element count overflows 64 bits; 4 elements were given.", ex.Message, StringComparison.Ordinal);
    }
}
