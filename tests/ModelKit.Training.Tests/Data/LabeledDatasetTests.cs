using ModelKit.Training.Data;

namespace ModelKit.Training.Tests.Data;

public sealed class LabeledDatasetTests
{
    [Fact]
    public void Slice_ReturnsViewOverSameSamples()
    {
        var set = new LabeledDataset("d", [0, 1, 2, 3, 4, 5], [0, 1, 0], [2], 2, "sha256:x");

        LabeledDataset slice = set.Slice(1, 2);

        Assert.Equal(2, slice.Count);
        Assert.Equal([2f, 3, 4, 5], slice.Features.ToArray());
        Assert.Equal([1L, 0], slice.Labels.ToArray());
        Assert.Equal("sha256:x#1+2", slice.Digest);
    }

    [Fact]
    public void Constructor_FeatureCountMismatch_ThrowsQuotingCounts()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LabeledDataset("d", [0, 1, 2], [0, 1], [2], 2, "x"));

        Assert.StartsWith("3 feature values do not hold 2 samples of shape [2]: expected 4.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_LabelOutOfRange_ThrowsNamingSample()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LabeledDataset("d", [0, 1], [0, 5], [1], 3, "x"));

        Assert.StartsWith("Label 5 of sample 1 is outside [0, 3)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Slice_OutOfRange_Throws()
    {
        var set = new LabeledDataset("d", [0, 1, 2], [0, 1, 0], [1], 2, "x");

        Assert.Throws<ArgumentOutOfRangeException>(() => set.Slice(2, 2));
    }
}
