using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Tests;

public class PruningTests
{
    [Fact]
    public async Task MagnitudePruning_PerLayer_ZeroesThatFractionOfEveryLayer()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(hidden: 32), new CompressionRecipe([new MagnitudePruningStep { Sparsity = 0.75 }]));

        ModelProto model = TestModels.Parse(result.Model);
        float[] w1 = TestModels.Floats(TestModels.Initializer(model, "fc1.weight"));
        float[] w2 = TestModels.Floats(TestModels.Initializer(model, "fc2.weight"));
        Assert.Equal(w1.Length * 3 / 4, w1.Count(v => v == 0));
        Assert.Equal(w2.Length * 3 / 4, w2.Count(v => v == 0));
        Assert.Equal(0.75, result.Report.Steps[0].Measures["sparsity"], 3);

        // The survivors are the largest magnitudes of the original.
        float[] original = TestModels.Floats(TestModels.Initializer(TestModels.Parse(TestModels.Mlp(hidden: 32)), "fc1.weight"));
        float smallestKept = w1.Where(v => v != 0).Min(Math.Abs);
        float largestPruned = original.Where((v, i) => w1[i] == 0).Max(Math.Abs);
        Assert.True(smallestKept >= largestPruned);
    }

    [Fact]
    public async Task MagnitudePruning_Global_ReachesTheSparsityOverAllLayersTogether()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(hidden: 32), new CompressionRecipe([new MagnitudePruningStep { Sparsity = 0.5, Global = true }]));

        Assert.Equal((32 * 64) + (10 * 32), result.Report.Steps[0].Measures["weights_total"]);
        Assert.Equal(0.5, result.Report.Steps[0].Measures["sparsity"], 3);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void MagnitudePruning_SparsityOutsideZeroToOne_IsRejectedNamingTheValue(double sparsity)
    {
        var ex = Assert.Throws<ArgumentException>(() => new CompressionRecipe([new MagnitudePruningStep { Sparsity = sparsity }]).Validate());
        Assert.Contains("it must be in [0, 1)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Step 1 ('magnitude-pruning')", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StructuredPruning_GemmReluGemm_RemovesChannelsFromBothLayersAndMatchesZeroedChannels()
    {
        byte[] original = TestModels.Mlp(hidden: 16);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, new CompressionRecipe([new StructuredPruningStep { Fraction = 0.25 }]));

        ModelProto pruned = TestModels.Parse(result.Model);
        Assert.Equal([12L, 64L], TestModels.Initializer(pruned, "fc1.weight").Dims);
        Assert.Equal([12L], TestModels.Initializer(pruned, "fc1.bias").Dims);
        Assert.Equal([10L, 12L], TestModels.Initializer(pruned, "fc2.weight").Dims);
        Assert.Equal(4, result.Report.Steps[0].Measures["channels_removed"]);

        // Reference: the original with the 4 rows of smallest L1 norm zeroed (weights and bias).
        ModelProto source = TestModels.Parse(original);
        float[] w1 = TestModels.Floats(TestModels.Initializer(source, "fc1.weight"));
        float[] b1 = TestModels.Floats(TestModels.Initializer(source, "fc1.bias"));
        int[] removed = Enumerable.Range(0, 16).OrderBy(r => Enumerable.Range(0, 64).Sum(k => Math.Abs(w1[(r * 64) + k]))).Take(4).ToArray();
        foreach (int r in removed)
        {
            Array.Clear(w1, r * 64, 64);
            b1[r] = 0;
        }

        byte[] zeroed = TestModels.WithInitializer(TestModels.WithInitializer(original, "fc1.weight", w1), "fc1.bias", b1);
        float[] x = TestModels.Random(8 * 64, 3);
        Assert.True(TestModels.MaxAbsDifference(TestModels.Run(zeroed, "input", x, 8, 1, 8, 8), TestModels.Run(result.Model, "input", x, 8, 1, 8, 8)) < 1e-5);
    }

    [Fact]
    public async Task StructuredPruning_CnnThroughMaxPoolAndFlatten_ShrinksConvFiltersAndGemmInputs()
    {
        byte[] original = TestModels.Cnn();
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, new CompressionRecipe([new StructuredPruningStep { Fraction = 0.5 }]));

        ModelProto pruned = TestModels.Parse(result.Model);
        Assert.Equal([4L, 3, 3, 3], TestModels.Initializer(pruned, "conv1.weight").Dims);
        Assert.Equal([4L, 4, 3, 3], TestModels.Initializer(pruned, "conv2.weight").Dims);
        Assert.Equal([10L, 4 * 16], TestModels.Initializer(pruned, "fc.weight").Dims);
        Assert.Equal(["Conv_0", "Conv_3"], result.Report.Steps[0].TransformedNodes);
        Assert.True(result.Report.SizeRatio < 0.6);
    }

    [Fact]
    public async Task StructuredPruning_LayerThatFeedsAGraphOutput_IsReportedAndLeftAlone()
    {
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new StructuredPruningStep { Layers = ["Gemm_3"] }]));

        Assert.Empty(result.Report.Steps[0].TransformedNodes);
        Assert.Contains(result.Report.Steps[0].Notes, n => n.StartsWith("Gemm_3: not pruned", StringComparison.Ordinal));
    }
}
