namespace ModelKit.Training.Data;

/// <summary>
/// Per-feature standardisation <c>z = (x - mean) / std</c>, fitted on a training split and applied unchanged to every
/// other split (as scikit-learn's <c>StandardScaler</c>: population standard deviation, a constant feature gets scale 1),
/// so no statistic leaks from validation or test data. Immutable once fitted; safe to share between threads.
/// </summary>
public sealed class FeatureStandardizer
{
    private readonly float[] _mean;
    private readonly float[] _scale;

    private FeatureStandardizer(float[] mean, float[] scale, string fittedOn)
    {
        _mean = mean;
        _scale = scale;
        FittedOn = fittedOn;
    }

    /// <summary>Gets the per-feature means (float32, one per value of a sample).</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Gets the per-feature scales: the population standard deviation, or 1 where it is 0.</summary>
    public IReadOnlyList<float> Scale => _scale;

    /// <summary>Gets the digest of the data set the statistics come from.</summary>
    public string FittedOn { get; }

    /// <summary>Computes the statistics of <paramref name="train"/> (in float64, stored as float32).</summary>
    /// <param name="train">The training split; every sample's values are features.</param>
    /// <returns>The fitted standardiser.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="train"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="train"/> has no samples.</exception>
    public static FeatureStandardizer Fit(LabeledDataset train)
    {
        ArgumentNullException.ThrowIfNull(train);
        if (train.Count == 0)
        {
            throw new ArgumentException($"Data set '{train.Name}' has no samples; fit the standardiser on a non-empty training split.", nameof(train));
        }

        int d = train.SampleSize;
        var sum = new double[d];
        ReadOnlySpan<float> x = train.Features.Span;
        for (int i = 0; i < x.Length; i++)
        {
            sum[i % d] += x[i];
        }

        var mean = new double[d];
        for (int j = 0; j < d; j++)
        {
            mean[j] = sum[j] / train.Count;
        }

        var squares = new double[d];
        for (int i = 0; i < x.Length; i++)
        {
            double delta = x[i] - mean[i % d];
            squares[i % d] += delta * delta;
        }

        var m = new float[d];
        var s = new float[d];
        for (int j = 0; j < d; j++)
        {
            m[j] = (float)mean[j];
            double std = Math.Sqrt(squares[j] / train.Count);
            s[j] = std > 0 && (float)std > 0 ? (float)std : 1f;
        }

        return new FeatureStandardizer(m, s, train.Digest);
    }

    /// <summary>Returns a standardised copy of <paramref name="dataset"/>; labels, shape and classes are unchanged.</summary>
    /// <param name="dataset">Any split of the same table (the same sample size as the training split).</param>
    /// <returns>The copy; its digest is the source digest followed by <c>|standardized(</c><see cref="FittedOn"/><c>)</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="dataset"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">Its sample size differs from the fitted one.</exception>
    public LabeledDataset Transform(LabeledDataset dataset)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (dataset.SampleSize != _mean.Length)
        {
            throw new ArgumentException(
                $"Data set '{dataset.Name}' has {dataset.SampleSize} features per sample; the standardiser was fitted on {_mean.Length}. Use the splits of one table.",
                nameof(dataset));
        }

        ReadOnlySpan<float> x = dataset.Features.Span;
        var z = new float[x.Length];
        int d = _mean.Length;
        for (int i = 0; i < x.Length; i++)
        {
            int j = i % d;
            z[i] = (x[i] - _mean[j]) / _scale[j];
        }

        return new LabeledDataset(dataset.Name, z, dataset.Labels.ToArray(), [.. dataset.SampleShape], dataset.ClassCount, $"{dataset.Digest}|standardized({FittedOn})");
    }
}
