using Google.Protobuf;
using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving;

namespace ModelKit.Compression.Tests;

public class StaticQuantizerTests
{
    private static CalibrationData Calibration(int count, long[] sampleShape, int seed, string input = "input")
    {
        int size = (int)sampleShape.Aggregate(1L, (a, b) => a * b);
        return CalibrationData.FromSamples(input, TestModels.Random(count * size, seed), count, sampleShape, batchSize: 16);
    }

    [Fact]
    public async Task Compress_Mlp_InsertsQdqPairsWithPerChannelWeightsInt32BiasAndFoldsRelu()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(
            TestModels.Mlp(hidden: 32), new CompressionRecipe([new StaticQuantizationStep()]), Calibration(64, [1, 8, 8], seed: 2));

        ModelProto model = TestModels.Parse(result.Model);
        List<string> ops = [.. model.Graph.Node.Select(n => n.OpType)];
        Assert.DoesNotContain("Relu", ops);
        Assert.Equal(2, ops.Count(o => o == "Gemm"));
        Assert.Equal(3, ops.Count(o => o == "QuantizeLinear"));
        TensorProto w = TestModels.Initializer(model, "fc1.weight_quantized");
        Assert.Equal((int)TensorProto.Types.DataType.Int8, w.DataType);
        Assert.Equal([32L], TestModels.Initializer(model, "fc1.weight_scale").Dims);
        Assert.Equal((int)TensorProto.Types.DataType.Int32, TestModels.Initializer(model, "fc1.bias_quantized").DataType);
        NodeProto weightDq = model.Graph.Node.Single(n => n.OpType == "DequantizeLinear" && n.Input[0] == "fc1.weight_quantized");
        Assert.Equal(0, weightDq.Attribute.Single(a => a.Name == "axis").I);
        Assert.Equal((int)TensorProto.Types.DataType.Uint8, TestModels.Initializer(model, "input_zero_point").DataType);
        Assert.Contains(result.Report.Steps[0].Notes, n => n.StartsWith("Relu_2: folded into the quantization of 'Gemm_1'", StringComparison.Ordinal));
        _ = OnnxModel.Load(model.ToByteArray());
    }

    [Fact]
    public async Task Compress_Mlp_AgreesWithTheFloatModelOnNewInputs()
    {
        byte[] original = TestModels.Mlp(hidden: 32);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, new CompressionRecipe([new StaticQuantizationStep()]), Calibration(128, [1, 8, 8], seed: 2));

        float[] x = TestModels.Random(200 * 64, seed: 99);
        float[] expected = TestModels.Run(original, "input", x, 200, 1, 8, 8);
        float[] actual = TestModels.Run(result.Model, "input", x, 200, 1, 8, 8);
        int[] a = TestModels.ArgMax(expected, 10), b = TestModels.ArgMax(actual, 10);
        double agreement = a.Zip(b).Count(p => p.First == p.Second) / 200.0;
        Assert.True(agreement >= 0.95, $"top-1 agreement {agreement}");
        Assert.True(TestModels.Cosine(expected, actual) > 0.995);
    }

    // Entropy (KL) clips long-tailed activations hard by design: on random weights and noise inputs it keeps less of the tail.
    [Theory]
    [InlineData(CalibrationMethod.Percentile, 0.99)]
    [InlineData(CalibrationMethod.Entropy, 0.9)]
    public async Task Compress_HistogramCalibration_StaysClose(CalibrationMethod method, double minCosine)
    {
        byte[] original = TestModels.Cnn();
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(
            original, new CompressionRecipe([new StaticQuantizationStep { Method = method, Percentile = 99.99 }]), Calibration(64, [3, 12, 12], seed: 8));

        float[] x = TestModels.Random(8 * 3 * 12 * 12, seed: 81);
        double cosine = TestModels.Cosine(TestModels.Run(original, "input", x, 8, 3, 12, 12), TestModels.Run(result.Model, "input", x, 8, 3, 12, 12));
        Assert.True(cosine > minCosine, $"cosine {cosine}");
        Assert.Equal(64.0 / 16, result.Report.Steps[0].Measures["calibration_batches"]);
    }

    [Fact]
    public async Task Compress_Cnn_QuantizesConvPoolingAndGemmWithSharedScalesAcrossMaxPool()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Cnn(), new CompressionRecipe([new StaticQuantizationStep()]), Calibration(32, [3, 12, 12], seed: 8));

        ModelProto model = TestModels.Parse(result.Model);
        Assert.Equal([8L], TestModels.Initializer(model, "conv2.weight_scale").Dims);
        float poolIn = TestModels.Floats(TestModels.Initializer(model, "r1_scale"))[0];
        float poolOut = TestModels.Floats(TestModels.Initializer(model, "p1_scale"))[0];
        Assert.Equal(poolIn, poolOut);
        Assert.Equal(["Conv_0", "MaxPool_2", "Conv_3", "Flatten_5", "Gemm_6"], result.Report.Steps[0].TransformedNodes);
    }

    [Fact]
    public async Task Compress_SymmetricActivations_UsesInt8ZeroPointsOfZeroAndKeepsRelu()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(
            TestModels.Mlp(), new CompressionRecipe([new StaticQuantizationStep { SymmetricActivations = true }]), Calibration(32, [1, 8, 8], seed: 2));

        ModelProto model = TestModels.Parse(result.Model);
        TensorProto zp = TestModels.Initializer(model, "input_zero_point");
        Assert.Equal((int)TensorProto.Types.DataType.Int8, zp.DataType);
        Assert.Equal(0, zp.RawData[0]);
        Assert.Contains("Relu", model.Graph.Node.Select(n => n.OpType));
    }

    [Fact]
    public async Task Compress_Opset12Model_UpgradesToOpset13ForPerChannelWeights()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(opset: 12), new CompressionRecipe([new StaticQuantizationStep()]), Calibration(16, [1, 8, 8], seed: 2));

        Assert.Equal(13, TestModels.Parse(result.Model).OpsetImport.Single().Version);
        Assert.Contains("model: default-domain opset upgraded from 12 to 13", result.Report.Steps[0].Notes);
    }

    [Fact]
    public async Task Compress_WithoutCalibrationData_ThrowsSayingWhatToPass()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        var ex = await Assert.ThrowsAsync<CompressionException>(() => compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new StaticQuantizationStep()])));
        Assert.Contains("needs calibration data", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compress_EmptyCalibrationData_Throws()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        var ex = await Assert.ThrowsAsync<CompressionException>(() =>
            compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new StaticQuantizationStep()]), new CalibrationData([])));
        Assert.Contains("calibration data is empty (0 batches)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compress_CalibrationShapeDoesNotFit_ThrowsNamingInputAndShapes()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        var ex = await Assert.ThrowsAsync<CompressionException>(() =>
            compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new StaticQuantizationStep()]), Calibration(4, [1, 9, 9], seed: 1)));
        Assert.Equal(
            "Calibration batch 0 input 'input' is Float [4, 1, 9, 9] but the model expects Float [-1, 1, 8, 8] (-1 = any size). Reshape or convert the calibration data.",
            ex.Message);
    }

    [Fact]
    public async Task Compress_CalibrationNamesAnUnknownInput_Throws()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        var ex = await Assert.ThrowsAsync<CompressionException>(() =>
            compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new StaticQuantizationStep()]), Calibration(4, [1, 8, 8], seed: 1, input: "pixels")));
        Assert.Contains("has no tensor for model input 'input'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compress_WithoutSessionFactory_ThrowsSayingHowToRegisterServing()
    {
        using var compressor = new OnnxModelCompressor();
        var ex = await Assert.ThrowsAsync<CompressionException>(() =>
            compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new StaticQuantizationStep()]), Calibration(4, [1, 8, 8], seed: 1)));
        Assert.Contains("AddOnnxRuntimeServing()", ex.Message, StringComparison.Ordinal);
    }
}
