using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Tests;

public class Float16ConverterTests
{
    private static byte[] GemmSoftmax() =>
        new OnnxGraphBuilder("gs", 17)
            .AddInput("x", TensorElementType.Float, -1, 8)
            .AddInitializer("w", TestModels.Random(8 * 4, 1), 8, 4)
            .AddNode("MatMul", ["x", "w"], ["y"])
            .AddNode("Softmax", ["y"], ["p"], OnnxAttribute.Int("axis", -1))
            .AddOutput("p", TensorElementType.Float, -1, 4)
            .ToBytes();

    [Fact]
    public async Task Compress_Mlp_StoresFloat16WeightsAndKeepsFloat32InputsAndOutputsBehindCasts()
    {
        byte[] original = TestModels.Mlp(hidden: 64);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, new CompressionRecipe([new Float16Step()]));

        ModelProto model = TestModels.Parse(result.Model);
        Assert.All(model.Graph.Initializer, t => Assert.Equal((int)TensorProto.Types.DataType.Float16, t.DataType));
        Assert.Equal((int)TensorProto.Types.DataType.Float, model.Graph.Input[0].Type.TensorType.ElemType);
        Assert.Equal((int)TensorProto.Types.DataType.Float, model.Graph.Output[0].Type.TensorType.ElemType);
        Assert.Equal("Cast", model.Graph.Node[0].OpType);
        Assert.Equal("Cast", model.Graph.Node[^1].OpType);
        Assert.InRange(result.Report.SizeRatio, 0.45, 0.6);

        float[] x = TestModels.Random(16 * 64, 7);
        float[] expected = TestModels.Run(original, "input", x, 16, 1, 8, 8);
        float[] actual = TestModels.Run(result.Model, "input", x, 16, 1, 8, 8);
        Assert.True(TestModels.MaxAbsDifference(expected, actual) < 0.01, $"max difference {TestModels.MaxAbsDifference(expected, actual)}");
    }

    [Fact]
    public async Task Compress_SoftmaxOnTheKeepList_RunsInFloat32BetweenCasts()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(GemmSoftmax(), new CompressionRecipe([new Float16Step()]));

        Assert.Equal(["Cast", "MatMul", "Cast", "Softmax"], TestModels.OpTypes(result.Model));
        Assert.Contains(result.Report.Steps[0].Notes, n => n.StartsWith("Softmax_1: kept in float32", StringComparison.Ordinal));
        float[] x = TestModels.Random(4 * 8, 2);
        Assert.True(TestModels.MaxAbsDifference(TestModels.Run(GemmSoftmax(), "x", x, 4, 8), TestModels.Run(result.Model, "x", x, 4, 8)) < 2e-3);
    }

    [Fact]
    public async Task Compress_Float16InputsAndOutputs_ChangesTheSignature()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(
            GemmSoftmax(), new CompressionRecipe([new Float16Step { KeepInputsAndOutputsFloat32 = false, OperatorTypesToKeep = [] }]));

        ModelSignature signature = OnnxModel.Load(result.Model).ReadSignature();
        Assert.Equal(TensorElementType.Float16, signature.Inputs[0].ElementType);
        Assert.Equal(TensorElementType.Float16, signature.Outputs[0].ElementType);
        Assert.Equal(["MatMul", "Softmax"], TestModels.OpTypes(result.Model));
    }
}
