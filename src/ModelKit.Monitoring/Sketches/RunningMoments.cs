namespace ModelKit.Monitoring.Sketches;

/// <summary>
/// Count, mean and variance of a stream in constant memory (Welford's update; merged with the pairwise formula of Chan,
/// Golub and LeVeque, "Algorithms for computing the sample variance", 1983). Non-finite values are counted apart.
/// Not thread-safe.
/// </summary>
public sealed class RunningMoments
{
    private double _m2;

    /// <summary>Gets the number of finite values.</summary>
    public long Count { get; private set; }

    /// <summary>Gets the mean (NaN when empty).</summary>
    public double Mean { get; private set; } = double.NaN;

    /// <summary>Gets the number of non-finite values offered and left out.</summary>
    public long NonFiniteCount { get; private set; }

    /// <summary>Gets the population variance (divided by the count; NaN when empty).</summary>
    public double Variance => Count == 0 ? double.NaN : _m2 / Count;

    /// <summary>Gets the population standard deviation (NaN when empty).</summary>
    public double StandardDeviation => Math.Sqrt(Variance);

    /// <summary>Adds a value.</summary>
    /// <param name="value">The value; NaN and ±∞ are only counted.</param>
    public void Add(double value)
    {
        if (!double.IsFinite(value))
        {
            NonFiniteCount++;
            return;
        }

        Count++;
        if (Count == 1)
        {
            Mean = value;
            return;
        }

        double delta = value - Mean;
        Mean += delta / Count;
        _m2 += delta * (value - Mean);
    }

    /// <summary>Merges <paramref name="other"/> into this instance.</summary>
    /// <param name="other">Other moments.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    public void Merge(RunningMoments other)
    {
        ArgumentNullException.ThrowIfNull(other);
        NonFiniteCount += other.NonFiniteCount;
        if (other.Count == 0)
        {
            return;
        }

        if (Count == 0)
        {
            Count = other.Count;
            Mean = other.Mean;
            _m2 = other._m2;
            return;
        }

        long n = Count + other.Count;
        double delta = other.Mean - Mean;
        _m2 += other._m2 + (delta * delta * Count * other.Count / n);
        Mean += delta * other.Count / n;
        Count = n;
    }
}
