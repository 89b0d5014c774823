using MathNet.Numerics.Distributions;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Tests.Drift;

public sealed class DriftStatisticsTests
{
    private static KllSketch.SortedView View(IEnumerable<double> values)
    {
        var sketch = new KllSketch(4096);
        foreach (double v in values)
        {
            sketch.Add(v);
        }

        return sketch.GetSortedView();
    }

    [Fact]
    public void PopulationStabilityIndex_HalfAndHalfAgainstQuarterAndThreeQuarters_MatchesHandComputation()
    {
        double expected = (-0.25 * Math.Log(0.5)) + (0.25 * Math.Log(1.5));
        Assert.Equal(expected, DriftStatistics.PopulationStabilityIndex([50, 50], [25, 75]), 12);
        Assert.Equal(0, DriftStatistics.PopulationStabilityIndex([10, 20, 30], [20, 40, 60]), 12);
    }

    [Fact]
    public void PopulationStabilityIndex_EmptyBin_UsesTheEmptyBinProportion()
    {
        double r = DriftStatistics.EmptyBinProportion;
        double expected = ((0.5 - r) * Math.Log(0.5 / r)) + ((0.5 - 1) * Math.Log(0.5 / 1));
        Assert.Equal(expected, DriftStatistics.PopulationStabilityIndex([0, 10], [5, 5]), 9);
    }

    [Fact]
    public void JensenShannonDistance_KnownDistributions_MatchesHandComputation()
    {
        Assert.Equal(0, DriftStatistics.JensenShannonDistance([3, 7], [30, 70]), 12);
        Assert.Equal(1, DriftStatistics.JensenShannonDistance([1, 0], [0, 1]), 12);
        double divergence = (0.5 * ((0.5 * Math.Log2(0.5 / 0.75)) + (0.5 * Math.Log2(0.5 / 0.25)))) + (0.5 * Math.Log2(1 / 0.75));
        Assert.Equal(Math.Sqrt(divergence), DriftStatistics.JensenShannonDistance([1, 1], [1, 0]), 12);
    }

    [Fact]
    public void KolmogorovSmirnov_Statistic_EqualsTheBruteForceSupremumOverRawSamples()
    {
        var random = new Random(9);
        double[] a = [.. Enumerable.Range(0, 700).Select(_ => Normal.Sample(random, 0, 1))];
        double[] b = [.. Enumerable.Range(0, 300).Select(_ => Normal.Sample(random, 0.3, 1.2))];
        double exact = 0;
        foreach (double x in a.Concat(b))
        {
            double fa = a.Count(v => v <= x) / (double)a.Length;
            double fb = b.Count(v => v <= x) / (double)b.Length;
            exact = Math.Max(exact, Math.Abs(fa - fb));
        }

        (double d, double p) = DriftStatistics.KolmogorovSmirnov(View(a), View(b));
        Assert.Equal(exact, d, 12);
        Assert.Equal(DriftStatistics.KolmogorovSmirnovPValue(d, 700, 300), p);
    }

    [Theory]
    [InlineData(0.3)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(1.17)]
    [InlineData(1.36)]
    [InlineData(1.63)]
    [InlineData(2.0)]
    public void KolmogorovQ_AnyLambda_MatchesTheAlternatingSeriesSummedToConvergence(double lambda)
    {
        // Q_KS(λ) = 2 Σ (−1)^(j−1) exp(−2 j² λ²), summed directly with many terms (the implementation switches to the dual form below 1.18).
        double expected = 0;
        for (int j = 1; j <= 2000; j++)
        {
            expected += (j % 2 == 1 ? 2 : -2) * Math.Exp(-2.0 * j * j * lambda * lambda);
        }

        Assert.Equal(expected, DriftStatistics.KolmogorovQ(lambda), 9);
    }

    [Fact]
    public void KolmogorovQ_CriticalValueOfFivePercent_IsAboutFivePercent() =>
        // Smirnov's asymptotic 5% critical value, 1.3581.
        Assert.Equal(0.05, DriftStatistics.KolmogorovQ(1.3581), 4);

    [Fact]
    public void KolmogorovSmirnovPValue_SameDistribution_IsUniformEnoughThatFivePercentRejectAtFivePercent()
    {
        var random = new Random(17);
        int rejected = 0;
        const int trials = 2000;
        KllSketch.SortedView reference = View(Enumerable.Range(0, 2000).Select(_ => Normal.Sample(random, 0, 1)));
        for (int t = 0; t < trials; t++)
        {
            (_, double p) = DriftStatistics.KolmogorovSmirnov(reference, View(Enumerable.Range(0, 200).Select(_ => Normal.Sample(random, 0, 1))));
            rejected += p < 0.05 ? 1 : 0;
        }

        // The asymptotic test is valid (slightly conservative) at n = 200: about 5% of unshifted windows reject.
        Assert.InRange(rejected / (double)trials, 0.02, 0.07);
    }

    [Fact]
    public void NormalizedWasserstein_ShiftByHalf_IsHalfOverTheReferenceStandardDeviation()
    {
        double[] reference = [0, 1, 2, 3];
        double std = Math.Sqrt(1.25);
        double w = DriftStatistics.NormalizedWasserstein(View(reference), View(reference.Select(v => v + 0.5)), std);
        Assert.Equal(0.5 / std, w, 12);
        Assert.Equal(0, DriftStatistics.NormalizedWasserstein(View(reference), View(reference), std), 12);
    }

    [Fact]
    public void ChiSquared_KnownCounts_MatchesHandStatisticAndMathNetPValue()
    {
        (double chi2, int df, double p) = DriftStatistics.ChiSquared(
            new Dictionary<long, long> { [0] = 50, [1] = 50 },
            new Dictionary<long, long> { [0] = 30, [1] = 10 });
        Assert.Equal(10, chi2, 9);
        Assert.Equal(1, df);
        Assert.Equal(1 - ChiSquared.CDF(1, 10), p, 9);
    }

    [Fact]
    public void ChiSquared_CategoryTheReferenceNeverSaw_GivesAFiniteLargeStatistic()
    {
        (double chi2, int df, double p) = DriftStatistics.ChiSquared(
            new Dictionary<long, long> { [0] = 500, [1] = 500 },
            new Dictionary<long, long> { [0] = 50, [1] = 50, [2] = 50 });
        Assert.True(double.IsFinite(chi2) && chi2 > 1000);
        Assert.Equal(2, df);
        Assert.True(p < 1e-10);
    }

    [Fact]
    public void Metrics_EmptySide_ReturnNaN()
    {
        Assert.True(double.IsNaN(DriftStatistics.PopulationStabilityIndex([0, 0], [1, 1])));
        Assert.True(double.IsNaN(DriftStatistics.KolmogorovSmirnov(View([]), View([1.0])).Statistic));
    }

    [Fact]
    public void PopulationStabilityIndex_DifferentBinCounts_ThrowsNamingBoth()
    {
        var ex = Assert.Throws<ArgumentException>(() => DriftStatistics.PopulationStabilityIndex([1, 2], [1, 2, 3]));
        Assert.Contains("2 bins", ex.Message, StringComparison.Ordinal);
        Assert.Contains("3", ex.Message, StringComparison.Ordinal);
    }
}
