using ModelKit.Compression.Tests.TestSupport;

namespace ModelKit.Compression.Tests;

public class WeightClippingTests
{
    [Fact]
    public async Task Clip_StandardDeviations_ClipsTheOutlierAndReportsHowMany()
    {
        byte[] original = TestModels.MatMul();
        float[] w = TestModels.Floats(TestModels.Initializer(TestModels.Parse(original), "w"));
        w[5] = 25f;
        byte[] model = TestModels.WithInitializer(original, "w", w);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(model, new CompressionRecipe([new WeightClippingStep { StandardDeviations = 3 }]));

        CompressionStepReport step = result.Report.Steps[0];
        Assert.Equal(1, step.Measures["weights_clipped"]);
        Assert.Equal(25, step.Measures["max_abs_before"], 3);
        Assert.True(step.Measures["max_abs_after"] < 10);
        Assert.True(step.Measures["range_reduction"] > 0.5);
        float[] clipped = TestModels.Floats(TestModels.Initializer(TestModels.Parse(result.Model), "w"));
        Assert.Equal(w.Where((_, i) => i != 5), clipped.Where((_, i) => i != 5));
    }

    [Fact]
    public async Task Clip_Percentile_BoundsEveryWeightByThatPercentileOfMagnitudes()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(hidden: 32), new CompressionRecipe([new WeightClippingStep { Mode = WeightClippingMode.Percentile, Percentile = 90 }]));

        float[] original = TestModels.Floats(TestModels.Initializer(TestModels.Parse(TestModels.Mlp(hidden: 32)), "fc1.weight"));
        float bound = original.Select(Math.Abs).Order().ElementAt((int)Math.Ceiling(0.9 * original.Length) - 1);
        float[] clipped = TestModels.Floats(TestModels.Initializer(TestModels.Parse(result.Model), "fc1.weight"));
        Assert.Equal(bound, clipped.Max(Math.Abs));
        Assert.InRange(result.Report.Steps[0].Measures["weights_clipped"], 0.09 * (2048 + 320), 0.11 * (2048 + 320));
    }

    [Fact]
    public async Task Clip_ThenDynamicInt8_RecordsBothStepsInOrder()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new WeightClippingStep(), new DynamicQuantizationStep()]));

        Assert.Equal(["weight-clipping", "dynamic-int8"], result.Report.Steps.Select(s => s.Kind));
        Assert.Contains("MatMulInteger", TestModels.OpTypes(result.Model));
    }
}
