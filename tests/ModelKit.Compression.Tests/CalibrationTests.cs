using ModelKit.Compression.Internal;

namespace ModelKit.Compression.Tests;

public class CalibrationTests
{
    private static TensorStatistics Collect(float[] values, bool histograms = true, int bins = 2048)
    {
        var stats = new TensorStatistics();
        stats.AddRange(values.AsSpan(0, values.Length / 2));
        stats.AddRange(values.AsSpan(values.Length / 2));
        if (histograms)
        {
            stats.StartHistograms(bins);
            stats.AddToHistograms(values);
        }

        return stats;
    }

    [Fact]
    public void MinMax_ReturnsTheSmallestAndLargestValueOverAllBatches()
    {
        TensorStatistics stats = Collect([-0.5f, 2f, 1f, -3f, 0.25f, 4f], histograms: false);

        Assert.Equal((-3f, 4f), Calibration.Range(stats, CalibrationMethod.MinMax, 99.99, symmetric: false));
        Assert.Equal((-4f, 4f), Calibration.Range(stats, CalibrationMethod.MinMax, 99.99, symmetric: true));
    }

    [Fact]
    public void Percentile_OnAUniformGrid_ReturnsThatQuantileWithinOneBin()
    {
        // 0, 0.0001, ..., 0.9999: the 99th percentile is 0.99.
        float[] values = Enumerable.Range(0, 10_000).Select(i => i / 10_000f).ToArray();
        TensorStatistics stats = Collect(values);

        (float low, float high) = Calibration.Range(stats, CalibrationMethod.Percentile, 99, symmetric: false);

        Assert.Equal(0f, low);
        Assert.InRange(high, 0.99f - (1f / 2048), 0.99f + (1f / 2048));
    }

    [Fact]
    public void Percentile_OnSignedValues_ClipsBothTails()
    {
        // -1 .. 1 uniformly: 98 % central mass lies in [-0.98, 0.98].
        float[] values = Enumerable.Range(0, 20_001).Select(i => (i / 10_000f) - 1).ToArray();
        (float low, float high) = Calibration.Range(Collect(values), CalibrationMethod.Percentile, 98, symmetric: false);

        Assert.InRange(low, -0.98f - 0.002f, -0.98f + 0.002f);
        Assert.InRange(high, 0.98f - 0.002f, 0.98f + 0.002f);
    }

    [Fact]
    public void Entropy_OnAUniformDistribution_KeepsNearlyTheWholeRange()
    {
        float[] values = Enumerable.Range(0, 50_000).Select(i => i / 50_000f).ToArray();
        (float low, float high) = Calibration.Range(Collect(values), CalibrationMethod.Entropy, 99.99, symmetric: false);

        Assert.Equal(0f, low);
        Assert.InRange(high, 0.9f, 1f);
    }

    [Fact]
    public void Entropy_OnAGaussianWithARareOutlier_ClipsTheOutlierButKeepsTheBulk()
    {
        var random = new Random(3);
        float[] values = new float[100_001];
        for (int i = 0; i < values.Length - 1; i++)
        {
            // Box-Muller, σ = 1.
            double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        values[^1] = 40f;
        (float low, float high) = Calibration.Range(Collect(values), CalibrationMethod.Entropy, 99.99, symmetric: true);

        Assert.InRange(high, 2.5f, 10f);
        Assert.Equal(-high, low);
    }

    [Fact]
    public void PercentileOf_AHistogram_ReturnsTheUpperEdgeOfTheBinThatReachesTheFraction()
    {
        double[] histogram = [10, 20, 30, 40];

        Assert.Equal(2f, Calibration.PercentileOf(histogram, 0, 4, 0.30));
        Assert.Equal(3f, Calibration.PercentileOf(histogram, 0, 4, 0.31));
        Assert.Equal(4f, Calibration.PercentileOf(histogram, 0, 4, 1.0));
    }
}
