using MathNet.Numerics.Statistics;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Tests.Sketches;

public sealed class FixedEdgeHistogramTests
{
    [Fact]
    public void Add_Values_CountsEachInItsRightClosedBin()
    {
        var histogram = new FixedEdgeHistogram([0.0, 1.0, 2.0]);
        foreach (double v in new[] { -5, 0, 0.5, 1, 1.5, 2, 2.5, double.NaN })
        {
            histogram.Add(v);
        }

        Assert.Equal([2L, 2, 2, 1], histogram.Counts);
        Assert.Equal(7, histogram.Count);
        Assert.Equal(1, histogram.NonFiniteCount);
    }

    [Fact]
    public void Merge_TwoHalves_EqualsOneHistogramOfTheWhole()
    {
        var random = new Random(3);
        double[] edges = [-1, -0.5, 0, 0.5, 1];
        var whole = new FixedEdgeHistogram(edges);
        var a = new FixedEdgeHistogram(edges);
        var b = new FixedEdgeHistogram(edges);
        for (int i = 0; i < 10_000; i++)
        {
            double v = (random.NextDouble() * 4) - 2;
            whole.Add(v);
            (i % 2 == 0 ? a : b).Add(v);
        }

        a.Merge(b);
        Assert.Equal(whole.Counts, a.Counts);
    }

    [Fact]
    public void Constructor_EdgesNotAscending_ThrowsNamingTheEdge()
    {
        var ex = Assert.Throws<ArgumentException>(() => new FixedEdgeHistogram([0.0, 2.0, 1.0]));
        Assert.Contains("edge 2 is 1", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class CategoryCountsTests
{
    [Fact]
    public void Merge_Counts_AddsPerCategory()
    {
        var a = new CategoryCounts();
        var b = new CategoryCounts();
        a.Add(1);
        a.Add(2, 3);
        b.Add(2);
        b.Add(7);
        a.Merge(b);
        Assert.Equal(6, a.Count);
        Assert.Equal(4, a.Counts[2]);
        Assert.Equal(1, a.Counts[7]);
    }

    [Fact]
    public void Add_BeyondMaxCategories_CountsTheRestAsOther()
    {
        var counts = new CategoryCounts(maxCategories: 2);
        counts.Add(1);
        counts.Add(2);
        counts.Add(3);
        counts.Add(4);
        Assert.Equal(2, counts.Counts[CategoryCounts.OtherCategory]);
        Assert.Equal(4, counts.Count);
    }
}

public sealed class RunningMomentsTests
{
    [Fact]
    public void MergeOfParts_MatchesMathNetOnTheWhole()
    {
        var random = new Random(4);
        double[] values = [.. Enumerable.Range(0, 5000).Select(_ => (random.NextDouble() * 100) + 1e6)];
        var a = new RunningMoments();
        var b = new RunningMoments();
        for (int i = 0; i < values.Length; i++)
        {
            (i < 1234 ? a : b).Add(values[i]);
        }

        a.Merge(b);
        Assert.Equal(values.Mean(), a.Mean, 1e-6);
        Assert.Equal(values.PopulationVariance(), a.Variance, 1e-6);
    }
}
