namespace ModelKit.Compression.Tests;

public class CompressionRecipeTests
{
    [Fact]
    public void ToJson_ThenFromJson_GivesAnEqualRecipe()
    {
        var recipe = new CompressionRecipe(
        [
            new WeightClippingStep { Mode = WeightClippingMode.Percentile, Percentile = 99.9 },
            new StructuredPruningStep { Fraction = 0.125, Layers = ["Gemm_1"] },
            new MagnitudePruningStep { Sparsity = 0.3, Global = true },
            new StaticQuantizationStep { Method = CalibrationMethod.Entropy, NodesToExclude = ["Conv_0"], SymmetricActivations = true },
            new DynamicQuantizationStep { PerChannel = false, OperatorTypes = ["MatMul"] },
            new Float16Step { KeepInputsAndOutputsFloat32 = false, OperatorTypesToKeep = ["Softmax"] },
        ]);

        string json = recipe.ToJson();
        CompressionRecipe back = CompressionRecipe.FromJson(json);

        Assert.Equal(recipe, back);
        Assert.Contains("\"kind\":\"static-int8\"", json, StringComparison.Ordinal);
        Assert.Contains("\"method\":\"Entropy\"", json, StringComparison.Ordinal);
        Assert.Equal(json, back.ToJson());
    }

    [Fact]
    public void FromJson_MissingSettings_TakeTheirDefaults()
    {
        CompressionRecipe recipe = CompressionRecipe.FromJson("{\"steps\":[{\"kind\":\"dynamic-int8\"}]}");

        Assert.Equal(new DynamicQuantizationStep(), recipe.Steps[0]);
    }

    [Fact]
    public void FromJson_UnknownKind_ThrowsListingTheKnownKinds()
    {
        var ex = Assert.Throws<ArgumentException>(() => CompressionRecipe.FromJson("{\"steps\":[{\"kind\":\"int4\"}]}"));

        Assert.Contains("dynamic-int8, static-int8, float16, magnitude-pruning, structured-pruning, weight-clipping", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromJson_OutOfRangeSetting_ThrowsNamingStepAndValue()
    {
        var ex = Assert.Throws<ArgumentException>(() => CompressionRecipe.FromJson("{\"steps\":[{\"kind\":\"structured-pruning\",\"fraction\":1.5}]}"));

        Assert.StartsWith("Step 1 ('structured-pruning') of the compression recipe: Fraction is 1.5;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_NoSteps_Throws() =>
        Assert.Throws<ArgumentException>(() => new CompressionRecipe([]));

    [Fact]
    public void Validate_UnsupportedOperatorType_ThrowsNamingIt()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CompressionRecipe([new DynamicQuantizationStep { OperatorTypes = ["LSTM"] }]).Validate());

        Assert.Contains("OperatorTypes holds 'LSTM'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_DescribesEveryStepInOrder() =>
        Assert.Equal(
            "weight-clipping(4σ) → dynamic-int8(per-channel)",
            new CompressionRecipe([new WeightClippingStep(), new DynamicQuantizationStep()]).ToString());
}
