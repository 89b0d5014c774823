using Google.Protobuf;
using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Tests;

public class DynamicQuantizerTests
{
    private static readonly CompressionRecipe s_dynamic = new([new DynamicQuantizationStep()]);

    [Fact]
    public async Task Compress_Mlp_RewritesEachGemmIntoTheMatMulIntegerFormWithPerChannelInt8Weights()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(hidden: 32), s_dynamic);

        ModelProto model = TestModels.Parse(result.Model);
        List<string> ops = [.. model.Graph.Node.Select(n => n.OpType)];
        Assert.Equal(2, ops.Count(o => o == "MatMulInteger"));
        Assert.Equal(2, ops.Count(o => o == "DynamicQuantizeLinear"));
        Assert.DoesNotContain("Gemm", ops);
        TensorProto w1 = TestModels.Initializer(model, "fc1.weight_quantized");
        Assert.Equal((int)TensorProto.Types.DataType.Int8, w1.DataType);
        Assert.Equal([64L, 32L], w1.Dims);
        Assert.Equal([32L], TestModels.Initializer(model, "fc1.weight_scale").Dims);
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name == "fc1.weight");
        Assert.Equal(["Gemm_1", "Gemm_3"], result.Report.Steps[0].TransformedNodes);
        _ = OnnxModel.Load(model.ToByteArray());
    }

    [Fact]
    public async Task Compress_Mlp_ShrinksTheModelToAboutAQuarter()
    {
        byte[] original = TestModels.Mlp(hidden: 128);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, s_dynamic);

        Assert.InRange(result.Report.SizeRatio, 0.2, 0.35);
        Assert.Equal(original.Length, result.Report.InputSizeBytes);
        Assert.Equal(result.Model.Length, result.Report.OutputSizeBytes);
    }

    [Fact]
    public async Task Compress_MatMul_OutputWithinTheErrorTheQuantizationStepsPredict()
    {
        byte[] original = TestModels.MatMul();
        float[] x = TestModels.Random(4 * 16, seed: 11, scale: 2);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, s_dynamic);

        float[] expected = TestModels.Run(original, "x", x, 4, 16);
        float[] actual = TestModels.Run(result.Model, "x", x, 4, 16);

        // |Δy_n| ≤ Σ_k (|x_k| Δw_n + |w_kn| Δx + Δx Δw_n), Δ = half a quantization step (ONNX Runtime rounds to nearest).
        float[] w = TestModels.Floats(TestModels.Initializer(TestModels.Parse(original), "w"));
        float xMin = Math.Min(0, x.Min()), xMax = Math.Max(0, x.Max());
        float dx = (xMax - xMin) / 255 / 2;
        for (int n = 0; n < 8; n++)
        {
            float wMax = 0;
            for (int k = 0; k < 16; k++)
            {
                wMax = Math.Max(wMax, Math.Abs(w[(k * 8) + n]));
            }

            float dw = wMax / Internal.Quantization.WeightLimit / 2;
            for (int row = 0; row < 4; row++)
            {
                double bound = 0;
                for (int k = 0; k < 16; k++)
                {
                    bound += (Math.Abs(x[(row * 16) + k]) * dw) + (Math.Abs(w[(k * 8) + n]) * dx) + (dx * dw);
                }

                Assert.InRange(Math.Abs(actual[(row * 8) + n] - expected[(row * 8) + n]), 0, bound + 1e-5);
            }
        }
    }

    [Fact]
    public async Task Compress_PerTensor_WritesOneScalePerWeight()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new DynamicQuantizationStep { PerChannel = false }]));

        Assert.Empty(TestModels.Initializer(TestModels.Parse(result.Model), "fc1.weight_scale").Dims);
    }

    [Fact]
    public async Task Compress_ConvOptedIn_UsesConvIntegerAndStaysClose()
    {
        byte[] original = TestModels.Cnn();
        float[] x = TestModels.Random(2 * 3 * 12 * 12, seed: 4);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, new CompressionRecipe([new DynamicQuantizationStep { OperatorTypes = ["Conv", "Gemm"] }]));

        List<string> ops = TestModels.OpTypes(result.Model);
        Assert.Equal(2, ops.Count(o => o == "ConvInteger"));
        Assert.DoesNotContain("Conv", ops);
        double cosine = TestModels.Cosine(TestModels.Run(original, "input", x, 2, 3, 12, 12), TestModels.Run(result.Model, "input", x, 2, 3, 12, 12));
        Assert.True(cosine > 0.995, $"cosine {cosine}");
    }

    [Fact]
    public async Task Compress_MatMulOfTwoActivations_LeavesItInFloatWithAReportLine()
    {
        byte[] model = new OnnxGraphBuilder("aa", 17)
            .AddInput("a", TensorElementType.Float, -1, 4)
            .AddInput("b", TensorElementType.Float, 4, 3)
            .AddNode("MatMul", ["a", "b"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes();
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(model, s_dynamic);

        Assert.Equal(["MatMul"], TestModels.OpTypes(result.Model));
        Assert.Contains(result.Report.Steps[0].Notes, n => n.StartsWith("MatMul_0: kept in float", StringComparison.Ordinal) && n.Contains("'b'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Compress_ExcludedNode_StaysGemm()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new DynamicQuantizationStep { NodesToExclude = ["Gemm_3"] }]));

        Assert.Single(TestModels.OpTypes(result.Model), "Gemm");
        Assert.Contains("Gemm_3: kept in float: listed in NodesToExclude", result.Report.Steps[0].Notes);
    }

    [Fact]
    public async Task Compress_KeepListNamesAMissingNode_ThrowsNamingTheNodeAndTheModelsNodes()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        var ex = await Assert.ThrowsAsync<ArgumentException>(() =>
            compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new DynamicQuantizationStep { NodesToExclude = ["fc9"] }])));

        Assert.Contains("names node 'fc9', which the model does not have", ex.Message, StringComparison.Ordinal);
        Assert.Contains("'Gemm_1' (Gemm)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compress_BytesThatAreNotAModel_ThrowsInvalidModelException()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        await Assert.ThrowsAsync<InvalidModelException>(() => compressor.CompressAsync(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2 }, s_dynamic));
    }
}
