using System.Text.Json;

namespace ModelKit.Abstractions.Tests;

public sealed class TensorSpecTests
{
    private static readonly TensorSpec Images = new("input", TensorElementType.Float, [-1, 1, 28, 28]);

    [Fact]
    public void Accepts_DynamicBatch_AcceptsAnyBatchSize()
    {
        Assert.True(Images.Accepts([1, 1, 28, 28]));
        Assert.True(Images.Accepts([1000, 1, 28, 28]));
    }

    [Fact]
    public void Accepts_WrongRankOrFixedDimension_Rejects()
    {
        Assert.False(Images.Accepts([3, 784]));
        Assert.False(Images.Accepts([3, 1, 28, 27]));
    }

    [Fact]
    public void FormatShape_WritesBracketedList()
    {
        Assert.Equal("[-1, 1, 28, 28]", TensorSpec.FormatShape(Images.Shape));
        Assert.Equal("[]", TensorSpec.FormatShape(ReadOnlySpan<long>.Empty));
    }

    [Fact]
    public void Equals_ComparesShapesByValue()
    {
        var same = new TensorSpec("input", TensorElementType.Float, new List<long> { -1, 1, 28, 28 });

        Assert.Equal(Images, same);
        Assert.Equal(Images.GetHashCode(), same.GetHashCode());
        Assert.NotEqual(Images, same with { ElementType = TensorElementType.Double });
        Assert.Equal(new ModelSignature([Images], []), new ModelSignature([same], []));
    }

    [Fact]
    public void Accepts_UnknownRank_AcceptsAnyShape()
    {
        TensorSpec any = TensorSpec.WithUnknownRank("audio", TensorElementType.Float);

        Assert.True(any.HasUnknownRank);
        Assert.True(any.Accepts([]));
        Assert.True(any.Accepts([16000]));
        Assert.True(any.Accepts([2, 3, 4, 5]));
    }

    [Fact]
    public void Accepts_Scalar_AcceptsOnlyRankZero()
    {
        var scalar = new TensorSpec("sr", TensorElementType.Int64, []);

        Assert.False(scalar.HasUnknownRank);
        Assert.True(scalar.Accepts([]));
        Assert.False(scalar.Accepts([1]));
    }

    [Fact]
    public void Equals_UnknownRankDiffersFromScalar()
    {
        TensorSpec any = TensorSpec.WithUnknownRank("x", TensorElementType.Float);
        var scalar = new TensorSpec("x", TensorElementType.Float, []);

        Assert.NotEqual(any, scalar);
        Assert.Equal(any, TensorSpec.WithUnknownRank("x", TensorElementType.Float));
        Assert.Equal("x: Float any shape (unknown rank)", any.ToString());
        Assert.Equal("x: Float []", scalar.ToString());
    }

    [Fact]
    public void HasUnknownRank_WithNonEmptyShape_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TensorSpec("x", TensorElementType.Float, [2]) { HasUnknownRank = true });

        Assert.StartsWith("Tensor 'x' has shape [2], so its rank is known;", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_UnknownRankRoundTrips_AndKnownRankIsWrittenAsBefore()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        TensorSpec any = TensorSpec.WithUnknownRank("x", TensorElementType.Float);

        string anyJson = JsonSerializer.Serialize(any, options);
        string imagesJson = JsonSerializer.Serialize(Images, options);

        Assert.Equal(any, JsonSerializer.Deserialize<TensorSpec>(anyJson, options));
        Assert.Contains("\"hasUnknownRank\":true", anyJson, StringComparison.Ordinal);
        Assert.Equal("{\"name\":\"input\",\"elementType\":1,\"shape\":[-1,1,28,28]}", imagesJson);
        Assert.Equal(Images, JsonSerializer.Deserialize<TensorSpec>(imagesJson, options));
    }
}
