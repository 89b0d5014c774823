using Google.Protobuf;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Onnx.Tests;

public class OnnxModelTests
{
    // A one-layer network as ModelKit.Training's exporter writes it: Gemm(features, W[2, 4], B[2]) with transB=1.
    private static ModelProto Exported() => new OnnxGraphBuilder("sequential", 17)
        .AddInput("features", TensorElementType.Float, -1, 4)
        .AddInitializer("0.weight", new float[8], 2, 4)
        .AddInitializer("0.bias", new float[2], 2)
        .AddNode("Gemm", ["features", "0.weight", "0.bias"], ["logits"], OnnxAttribute.Float("alpha", 1f), OnnxAttribute.Float("beta", 1f), OnnxAttribute.Int("transB", 1))
        .AddOutput("logits", TensorElementType.Float, -1, 2)
        .Build();

    [Fact]
    public void Load_ModelLocalFunctions_AreKnownFieldsAndSurviveARoundTrip()
    {
        byte[] known = Exported().ToByteArray();
        // Append ModelProto field 25 (functions; the schema subset before issue 13 did not know it): a FunctionProto named "f".
        byte[] withFunction = [.. known, 0xCA, 0x01, 3, 0x0a, 0x01, 0x66]; // tag (25 << 3) | 2 as a varint

        ModelProto model = OnnxModel.LoadProto(withFunction);

        Assert.Equal("f", Assert.Single(model.Functions).Name);
        Assert.Equal(withFunction, model.ToByteArray());
    }

    [Fact]
    public void PublicModel_LoadedFromBytesStreamAndFile_DescribesAndWritesBackTheSameModel()
    {
        byte[] bytes = new OnnxGraphBuilder("g", 17)
            .SetProducer("tests", "1.2")
            .AddMetadata("run", "abc")
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddNode("Constant", [], ["w"], OnnxAttribute.Tensor("value", "w", [1f, 2f, 3f, 4f], 4))
            .AddNode("Mul", ["x", "w"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 4)
            .ToBytes();
        string path = Path.Combine(Path.GetTempPath(), $"modelkit-onnx-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, bytes);
        try
        {
            using var stream = new MemoryStream(bytes);
            foreach (OnnxModel model in new[] { OnnxModel.Load(bytes), OnnxModel.Load(stream), OnnxModel.LoadFile(path) })
            {
                Assert.Equal(bytes, model.ToArray());
                using var written = new MemoryStream();
                model.WriteTo(written);
                Assert.Equal(bytes, written.ToArray());
                Assert.Equal(17, model.DefaultOpset);
                Assert.Equal([new KeyValuePair<string, long>(string.Empty, 17)], model.OpsetImports);
                Assert.Equal([new KeyValuePair<string, string>("run", "abc")], model.Metadata);
                Assert.Equal(("tests", "1.2", "g"), (model.ProducerName, model.ProducerVersion, model.GraphName));
                Assert.True(model.IrVersion >= 1);
                ModelSignature signature = model.ReadSignature();
                Assert.Equal(new TensorSpec("x", TensorElementType.Float, [-1, 4]), Assert.Single(signature.Inputs));
                Assert.Equal("y", Assert.Single(signature.Outputs).Name);
                Assert.Equal("17", OnnxModelInspector.Describe(model).Properties["onnx.opset"]);
            }

            AttributeProto value = ModelProto.Parser.ParseFrom(bytes).Graph.Node[0].Attribute.Single();
            Assert.Equal(AttributeProto.Types.AttributeType.Tensor, value.Type);
            Assert.Equal([4L], value.T.Dims);
            Assert.Equal("w", value.T.Name);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void PublicModel_InvalidBytes_ThrowsTheSameErrorAsBefore()
    {
        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Load(ReadOnlySpan<byte>.Empty));
        var inner = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProto(ReadOnlySpan<byte>.Empty));
        Assert.Equal(inner.Message, ex.Message);
    }

    [Fact]
    public void Load_StreamAndSpan_GiveTheSameModel()
    {
        byte[] bytes = Exported().ToByteArray();
        using var stream = new MemoryStream(bytes);

        Assert.Equal(OnnxModel.LoadProto(bytes), OnnxModel.LoadProto(stream));
    }

    [Fact]
    public void Load_SeekableStreamOverLimit_ThrowsBeforeReading()
    {
        using var stream = new MemoryStream(Exported().ToByteArray());

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProto(stream, maxBytes: 10));
        Assert.StartsWith($"The ONNX model is {stream.Length} bytes, larger than the limit of 10 bytes (OnnxModelOptions.MaxModelBytes).", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, stream.Position);
    }

    [Fact]
    public void Load_NonSeekableStreamOverLimit_Throws()
    {
        using var stream = new ForwardOnlyStream(Exported().ToByteArray());

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.LoadProto(stream, maxBytes: 10));
        Assert.StartsWith("The ONNX model is more than 10 bytes, larger than the limit of 10 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadSignature_SkipsInitializersListedAsInputs()
    {
        ModelProto model = Exported();
        // IR < 4 style: initializers also listed as graph inputs.
        model.Graph.Input.Add(new ValueInfoProto
        {
            Name = "0.weight",
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto() } },
        });

        ModelSignature signature = OnnxModel.ReadSignature(model);

        Assert.Equal(["features"], signature.Inputs.Select(i => i.Name));
    }

    [Fact]
    public void ReadSignature_DimParamAndMissingDimensionAreDynamic()
    {
        ModelProto model = Exported();
        TensorShapeProto shape = model.Graph.Input[0].Type.TensorType.Shape;
        shape.Dim.Clear();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension());
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = 4 });

        ModelSignature signature = OnnxModel.ReadSignature(model);

        Assert.Equal([-1L, -1L, 4L], signature.Inputs[0].Shape);
    }

    [Fact]
    public void ReadSignature_NonTensorOutput_Throws()
    {
        ModelProto model = Exported();
        model.Graph.Output[0].Type = new TypeProto { SequenceType = new TypeProto.Types.Sequence() };

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.ReadSignature(model));
        Assert.StartsWith("Graph output 'logits' of the ONNX model is of type sequence, not a tensor; ModelKit supports only tensor inputs and outputs.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadSignature_InputWithoutType_Throws()
    {
        ModelProto model = Exported();
        model.Graph.Input[0].Type = null;

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.ReadSignature(model));
        Assert.StartsWith("Graph input 'features' of the ONNX model has no type;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadSignature_UnsupportedElementType_ThrowsNamingIt()
    {
        ModelProto model = Exported();
        model.Graph.Input[0].Type.TensorType.ElemType = (int)TensorProto.Types.DataType.Complex64;

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.ReadSignature(model));
        Assert.StartsWith("Graph input 'features' of the ONNX model has element type COMPLEX64 (14), which ModelKit does not support;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NoDefaultDomainOpset_ThrowsListingImports()
    {
        ModelProto model = Exported();
        model.OpsetImport.Clear();
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model));
        Assert.Equal(
            "The ONNX model does not import the default operator set (domain '' or 'ai.onnx', version 1 or greater); it imports 'com.microsoft' v1. " +
            "Re-export the model with a default-domain opset_import, for example opset 17.",
            ex.Message);
    }

    [Fact]
    public void Validate_AiOnnxDomain_CountsAsDefault()
    {
        ModelProto model = Exported();
        model.OpsetImport[0].Domain = "ai.onnx";

        OnnxModel.Validate(model);

        Assert.Equal(17, OnnxModel.GetDefaultOpset(model));
    }

    [Fact]
    public void Validate_OnlyInitializerInputs_Throws()
    {
        ModelProto model = Exported();
        model.Graph.Input.Clear();

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model));
        Assert.StartsWith("The ONNX model's graph 'sequential' has no inputs (other than initializers);", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NoOutputs_Throws()
    {
        ModelProto model = Exported();
        model.Graph.Output.Clear();

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model));
        Assert.StartsWith("The ONNX model's graph 'sequential' has no outputs;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExternalDataInConstantNodeAttribute_Throws()
    {
        ModelProto model = Exported();
        var tensor = new TensorProto { Name = "c", DataType = 1, DataLocation = TensorProto.Types.DataLocation.External };
        tensor.Dims.Add(1);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "c.bin" });
        var constant = new NodeProto { Name = "const0", OpType = "Constant" };
        constant.Output.Add("c");
        constant.Attribute.Add(OnnxAttribute.Tensor("value", tensor).ToProto());
        model.Graph.Node.Insert(0, constant);

        var ex = Assert.Throws<InvalidModelException>(() => OnnxModel.Validate(model));
        Assert.StartsWith(
            "Tensor data stored externally is not supported here: tensor of attribute 'value' of node 'const0' (Constant) of graph 'sequential' " +
            "(ModelProto.graph.node[0].attribute[0].t) keeps its data in an external file ('c.bin', data_location EXTERNAL),",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public void TryGetElementType_MapsOnnxValues()
    {
        Assert.True(OnnxModel.TryGetElementType(1, out TensorElementType f));
        Assert.Equal(TensorElementType.Float, f);
        Assert.True(OnnxModel.TryGetElementType(16, out TensorElementType bf));
        Assert.Equal(TensorElementType.BFloat16, bf);
        Assert.False(OnnxModel.TryGetElementType(0, out _));
        Assert.False(OnnxModel.TryGetElementType(17, out _));
    }

    private sealed class ForwardOnlyStream(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
