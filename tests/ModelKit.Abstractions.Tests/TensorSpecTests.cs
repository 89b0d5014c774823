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
}
