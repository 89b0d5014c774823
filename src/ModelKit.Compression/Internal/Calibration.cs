namespace ModelKit.Compression.Internal;

/// <summary>What the calibration data showed for one activation: its range and, for the histogram methods, histograms.</summary>
internal sealed class TensorStatistics
{
    public float Min { get; private set; } = float.PositiveInfinity;

    public float Max { get; private set; } = float.NegativeInfinity;

    public long Count { get; private set; }

    /// <summary>Histogram of |x| over [0, max |x|] (from the first pass), or <see langword="null"/> before the second pass.</summary>
    public double[]? AbsoluteHistogram { get; private set; }

    /// <summary>Histogram of x over [min, max] (from the first pass), or <see langword="null"/> before the second pass.</summary>
    public double[]? Histogram { get; private set; }

    public float MaxAbs => Count == 0 ? 0 : Math.Max(Math.Abs(Min), Math.Abs(Max));

    public void AddRange(ReadOnlySpan<float> values)
    {
        float min = Min, max = Max;
        foreach (float v in values)
        {
            if (float.IsNaN(v))
            {
                continue;
            }

            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        Min = min;
        Max = max;
        Count += values.Length;
    }

    public void StartHistograms(int bins)
    {
        AbsoluteHistogram = new double[bins];
        Histogram = new double[bins];
    }

    public void AddToHistograms(ReadOnlySpan<float> values)
    {
        double[] abs = AbsoluteHistogram!, signed = Histogram!;
        int bins = abs.Length;
        float maxAbs = MaxAbs, min = Min, width = Max - Min;
        foreach (float v in values)
        {
            if (float.IsNaN(v))
            {
                continue;
            }

            int a = maxAbs > 0 ? (int)(Math.Abs(v) / maxAbs * bins) : 0;
            abs[Math.Clamp(a, 0, bins - 1)]++;
            int s = width > 0 ? (int)((v - min) / width * bins) : 0;
            signed[Math.Clamp(s, 0, bins - 1)]++;
        }
    }
}

/// <summary>Turns calibration statistics into activation ranges (onnxruntime/python/tools/quantization/calibrate.py describes the same three methods).</summary>
internal static class Calibration
{
    /// <summary>The range [low, high] an activation is quantized over.</summary>
    public static (float Low, float High) Range(TensorStatistics stats, CalibrationMethod method, double percentile, bool symmetric)
    {
        if (stats.Count == 0)
        {
            return (0, 0);
        }

        bool nonNegative = stats.Min >= 0;
        switch (method)
        {
            case CalibrationMethod.MinMax:
                return symmetric ? (-stats.MaxAbs, stats.MaxAbs) : (stats.Min, stats.Max);

            case CalibrationMethod.Percentile:
                if (symmetric || nonNegative)
                {
                    float t = PercentileOf(stats.AbsoluteHistogram!, 0, stats.MaxAbs, percentile / 100);
                    return nonNegative && !symmetric ? (0, t) : Clamp(stats, -t, t, symmetric);
                }

                float tail = (float)((100 - percentile) / 100 / 2);
                float low = PercentileOf(stats.Histogram!, stats.Min, stats.Max, tail, lowerEdge: true);
                float high = PercentileOf(stats.Histogram!, stats.Min, stats.Max, 1 - tail);
                return (low, high);

            default:
                int levels = nonNegative && !symmetric ? 256 : 128;
                float threshold = EntropyThreshold(stats.AbsoluteHistogram!, stats.MaxAbs, levels);
                return nonNegative && !symmetric ? (0, threshold) : Clamp(stats, -threshold, threshold, symmetric);
        }
    }

    private static (float, float) Clamp(TensorStatistics stats, float low, float high, bool symmetric) =>
        symmetric ? (low, high) : (Math.Max(stats.Min, low), Math.Min(stats.Max, high));

    /// <summary>
    /// The value below which <paramref name="fraction"/> of the histogram's mass lies: the upper edge of the first bin where the
    /// cumulative count reaches it (or the lower edge, for a lower tail).
    /// </summary>
    public static float PercentileOf(double[] histogram, float start, float end, double fraction, bool lowerEdge = false)
    {
        double total = 0;
        foreach (double c in histogram)
        {
            total += c;
        }

        if (total == 0)
        {
            return end;
        }

        double width = (end - start) / (double)histogram.Length;
        double target = fraction * total, cumulative = 0;
        for (int i = 0; i < histogram.Length; i++)
        {
            cumulative += histogram[i];
            if (cumulative >= target)
            {
                return (float)(start + ((lowerEdge ? i : i + 1) * width));
            }
        }

        return end;
    }

    /// <summary>
    /// The clipping threshold of |x| that minimises the Kullback-Leibler divergence between the clipped distribution and its
    /// quantization to <paramref name="levels"/> levels (S. Migacz, "8-bit Inference with TensorRT", GTC 2017): for each candidate
    /// number of bins i, the reference P is the first i bins with the outliers added to the last, and Q merges those i bins into
    /// <paramref name="levels"/> groups spread back over their non-empty bins.
    /// </summary>
    public static float EntropyThreshold(double[] histogram, float maxAbs, int levels)
    {
        int bins = histogram.Length;
        if (maxAbs <= 0 || bins <= levels)
        {
            return maxAbs;
        }

        double width = maxAbs / (double)bins;
        double[] suffix = new double[bins + 1];
        for (int i = bins - 1; i >= 0; i--)
        {
            suffix[i] = suffix[i + 1] + histogram[i];
        }

        int best = bins;
        double bestDivergence = double.PositiveInfinity;
        double[] p = new double[bins], q = new double[bins];
        for (int i = levels; i <= bins; i++)
        {
            Array.Copy(histogram, p, i);
            p[i - 1] += suffix[i];
            Array.Clear(q, 0, i);
            for (int j = 0; j < levels; j++)
            {
                int start = (int)((long)j * i / levels), end = (int)((long)(j + 1) * i / levels);
                double sum = 0;
                int nonZero = 0;
                for (int k = start; k < end; k++)
                {
                    sum += histogram[k];
                    if (histogram[k] != 0)
                    {
                        nonZero++;
                    }
                }

                if (nonZero == 0)
                {
                    continue;
                }

                double spread = sum / nonZero;
                for (int k = start; k < end; k++)
                {
                    if (histogram[k] != 0)
                    {
                        q[k] = spread;
                    }
                }
            }

            double divergence = Divergence(p, q, i);
            if (divergence < bestDivergence)
            {
                bestDivergence = divergence;
                best = i;
            }
        }

        return (float)(best * width);
    }

    // KL(P || Q) over the first n bins after normalising both and smoothing zero bins (eps = 1e-4, as MXNet and ORT do).
    private static double Divergence(double[] p, double[] q, int n)
    {
        if (!Smooth(p, n) || !Smooth(q, n))
        {
            return double.PositiveInfinity;
        }

        double kl = 0;
        for (int k = 0; k < n; k++)
        {
            if (p[k] > 0)
            {
                kl += p[k] * Math.Log(p[k] / q[k]);
            }
        }

        return kl;
    }

    private static bool Smooth(double[] d, int n)
    {
        const double Eps = 1e-4;
        double total = 0;
        int zeros = 0;
        for (int k = 0; k < n; k++)
        {
            total += d[k];
            if (d[k] == 0)
            {
                zeros++;
            }
        }

        if (total == 0 || zeros == n)
        {
            return false;
        }

        double take = Eps * zeros / (n - zeros);
        for (int k = 0; k < n; k++)
        {
            d[k] = d[k] == 0 ? Eps : (d[k] / total) - take;
        }

        for (int k = 0; k < n; k++)
        {
            if (d[k] <= 0)
            {
                d[k] = Eps;
            }
        }

        return true;
    }
}
