using MathNet.Numerics.Distributions;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Tests.Sketches;

public sealed class KllSketchTests
{
    public static TheoryData<string, int> Streams => new() { { "uniform", 1 }, { "normal", 2 }, { "lognormal", 3 }, { "sorted", 4 }, { "few distinct", 5 } };

    private static double[] Stream(string kind, int seed, int n)
    {
        var random = new Random(seed);
        var values = new double[n];
        for (int i = 0; i < n; i++)
        {
            values[i] = kind switch
            {
                "uniform" => random.NextDouble(),
                "normal" => Normal.Sample(random, 3, 2),
                "lognormal" => LogNormal.Sample(random, 0, 1.5),
                "sorted" => i,
                _ => random.Next(7),
            };
        }

        return values;
    }

    private static double MaxRankError(KllSketch sketch, double[] values)
    {
        double[] sorted = [.. values.Order()];
        double worst = 0;
        for (int q = 1; q < 100; q++)
        {
            double x = sorted[(int)((long)sorted.Length * q / 100)];
            int upper = UpperBound(sorted, x);
            double exact = (double)upper / sorted.Length;
            worst = Math.Max(worst, Math.Abs(sketch.Rank(x) - exact));
        }

        return worst;
    }

    private static int UpperBound(double[] sorted, double x)
    {
        int lo = 0;
        int hi = sorted.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            if (sorted[mid] <= x)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void Rank_HundredThousandValues_IsWithinTheStatedErrorOfExactRanks(string kind, int seed)
    {
        double[] values = Stream(kind, seed, 100_000);
        var sketch = new KllSketch(seed: (ulong)seed);
        foreach (double v in values)
        {
            sketch.Add(v);
        }

        Assert.Equal(values.Length, sketch.Count);
        Assert.True(sketch.RetainedCount < 3 * sketch.K + 64, $"retained {sketch.RetainedCount} values");
        double error = MaxRankError(sketch, values);
        Assert.True(error <= sketch.NormalizedRankError, $"{kind}: rank error {error:P3} exceeds the stated {sketch.NormalizedRankError:P3}");
    }

    [Fact]
    public void Quantile_HundredThousandNormalValues_MatchesExactQuantileWithinRankError()
    {
        double[] values = Stream("normal", 11, 100_000);
        var sketch = new KllSketch();
        foreach (double v in values)
        {
            sketch.Add(v);
        }

        double[] sorted = [.. values.Order()];
        foreach (double q in new[] { 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99 })
        {
            double estimate = sketch.Quantile(q);
            double rank = (double)UpperBound(sorted, estimate) / sorted.Length;
            Assert.InRange(rank, q - sketch.NormalizedRankError, q + sketch.NormalizedRankError);
        }

        Assert.Equal(sorted[0], sketch.Quantile(0));
        Assert.Equal(sorted[^1], sketch.Quantile(1));
    }

    [Fact]
    public void Merge_TenSketchesOfParts_IsWithinTheStatedErrorOfTheWhole()
    {
        double[] values = Stream("lognormal", 21, 100_000);
        var merged = new KllSketch(seed: 1);
        for (int part = 0; part < 10; part++)
        {
            var sketch = new KllSketch(seed: (ulong)(part + 2));
            for (int i = part * 10_000; i < (part + 1) * 10_000; i++)
            {
                sketch.Add(values[i]);
            }

            merged.Merge(sketch);
        }

        Assert.Equal(100_000, merged.Count);
        Assert.Equal(values.Min(), merged.Min);
        Assert.Equal(values.Max(), merged.Max);
        Assert.True(MaxRankError(merged, values) <= merged.NormalizedRankError);
    }

    [Fact]
    public void Rank_FewerValuesThanK_IsExact()
    {
        double[] values = Stream("normal", 5, 150);
        var sketch = new KllSketch();
        foreach (double v in values)
        {
            sketch.Add(v);
        }

        Assert.Equal(0, MaxRankError(sketch, values));
    }

    [Fact]
    public void Add_NonFiniteValues_AreCountedAndNeverChangeTheSummary()
    {
        var sketch = new KllSketch();
        sketch.Add(1);
        sketch.Add(double.NaN);
        sketch.Add(double.PositiveInfinity);
        sketch.Add(double.NegativeInfinity);
        sketch.Add(3);
        Assert.Equal(2, sketch.Count);
        Assert.Equal(3, sketch.NonFiniteCount);
        Assert.Equal(3, sketch.Max);
        Assert.Equal(0.5, sketch.Rank(2));
    }

    [Fact]
    public void FromState_RoundTrip_GivesTheSameRanks()
    {
        double[] values = Stream("uniform", 8, 20_000);
        var sketch = new KllSketch();
        foreach (double v in values)
        {
            sketch.Add(v);
        }

        KllSketch copy = KllSketch.FromState(sketch.ToState());
        foreach (double x in new[] { 0.1, 0.5, 0.9 })
        {
            Assert.Equal(sketch.Rank(x), copy.Rank(x));
        }
    }

    [Fact]
    public void FromState_WeightsNotAddingUp_ThrowsInvalidDataNamingTheCount()
    {
        KllSketchState state = new KllSketch().ToState();
        state.Count = 5;
        state.Levels = [[1.0, 2.0]];
        var ex = Assert.Throws<InvalidDataException>(() => KllSketch.FromState(state));
        Assert.Contains("count 5", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Merge_DifferentK_ThrowsNamingBothValues()
    {
        var ex = Assert.Throws<ArgumentException>(() => new KllSketch(200).Merge(new KllSketch(100)));
        Assert.Contains("k = 100", ex.Message, StringComparison.Ordinal);
        Assert.Contains("k = 200", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>Bulk insertion (the monitor's window path) gives exactly the sketch of one Add per value, compactions included, and Reset gives a new sketch.</summary>
    [Theory]
    [MemberData(nameof(Streams))]
    public void AddRange_InChunks_EqualsAddPerValue_AndResetEqualsNew(string kind, int seed)
    {
        double[] values = Stream(kind, seed, 20_000);
        values[17] = double.NaN;
        values[4_000] = double.PositiveInfinity;
        var one = new KllSketch(64);
        foreach (double v in values)
        {
            one.Add(v);
        }

        var bulk = new KllSketch(64);
        bulk.Add(-5); // state to forget
        bulk.Reset();
        for (int start = 0; start < values.Length; start += 64)
        {
            bulk.AddRange(values.AsSpan(start, Math.Min(64, values.Length - start)));
        }

        KllSketchState a = one.ToState();
        KllSketchState b = bulk.ToState();
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.NonFiniteCount, b.NonFiniteCount);
        Assert.Equal(a.Min, b.Min);
        Assert.Equal(a.Max, b.Max);
        Assert.Equal(a.Levels.Length, b.Levels.Length);
        for (int h = 0; h < a.Levels.Length; h++)
        {
            Assert.Equal(a.Levels[h], b.Levels[h]);
        }
    }
}
