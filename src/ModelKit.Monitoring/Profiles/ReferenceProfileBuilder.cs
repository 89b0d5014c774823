using ModelKit.Monitoring.Features;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Profiles;

/// <summary>
/// Builds the <see cref="ReferenceProfile"/> of a model version from rows the host runs through the model (its
/// validation data, with labels when known) or from the version's first requests (a baseline window). Memory is bounded
/// by the sketches whatever the number of rows. Not thread-safe.
/// </summary>
public sealed class ReferenceProfileBuilder
{
    /// <summary>The default accuracy parameter of the reference sketches: 1,024 (exact up to about 1,000 rows, then about 0.4% rank error).</summary>
    public const int DefaultSketchK = 1024;

    /// <summary>The default number of histogram bins: 10 (deciles of the reference), the usual choice for PSI.</summary>
    public const int DefaultBinCount = 10;

    private const int CalibrationBins = 20;
    private readonly ModelVersion _version;
    private readonly FeatureExtractor _extractor;
    private readonly FeatureAccumulator[] _features;
    private readonly int _binCount;
    private readonly List<(double Confidence, bool Correct)> _calibration = [];
    private long _rows;
    private long _correct;

    /// <summary>Creates a builder for <paramref name="version"/>.</summary>
    /// <param name="version">The version the profile describes (its signature defines the features).</param>
    /// <param name="reducers">Reducers for tensors of rank 3 or more; must match the monitor's <see cref="MonitoringOptions.Reducers"/>.</param>
    /// <param name="sketchK">Accuracy parameter of the quantile sketches.</param>
    /// <param name="binCount">Histogram bins per numeric feature, 2 to 100.</param>
    /// <exception cref="ArgumentNullException"><paramref name="version"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="binCount"/> is outside 2 to 100, or <paramref name="sketchK"/> outside 8 to 65,535.</exception>
    public ReferenceProfileBuilder(ModelVersion version, TensorReducers reducers = TensorReducers.Default, int sketchK = DefaultSketchK, int binCount = DefaultBinCount)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentOutOfRangeException.ThrowIfLessThan(binCount, 2);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(binCount, 100);
        ArgumentOutOfRangeException.ThrowIfLessThan(sketchK, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(sketchK, ushort.MaxValue);
        _version = version;
        _binCount = binCount;
        _extractor = new FeatureExtractor(version.Signature, reducers);
        _features = [.. _extractor.Features.Select(f => new FeatureAccumulator(f, sketchK, null))];
    }

    /// <summary>Gets the number of rows added.</summary>
    public long RowCount => _rows;

    /// <summary>Adds the rows of one request: its inputs, the model's outputs and, optionally, the true labels.</summary>
    /// <param name="inputs">The inputs (dimension 0 is the batch).</param>
    /// <param name="outputs">The model's outputs for them.</param>
    /// <param name="labels">One true class (classifiers) or value (regression) per row, or empty when unknown.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inputs"/> or <paramref name="outputs"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="labels"/> is not empty and its length differs from the row count.</exception>
    public void Add(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> outputs, ReadOnlySpan<double> labels = default)
    {
        double[] values = _extractor.Extract(inputs, outputs, out _);
        int width = _features.Length;
        int rows = width == 0 ? 0 : values.Length / width;
        if (!labels.IsEmpty && labels.Length != rows)
        {
            throw new ArgumentException($"{labels.Length} labels were given for a request of {rows} rows; give one label per row or none.", nameof(labels));
        }

        int classIndex = _extractor.ClassFeatureIndex;
        int confidenceIndex = _extractor.ConfidenceFeatureIndex;
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < width; f++)
            {
                _features[f].Add(values[(r * width) + f]);
            }

            if (!labels.IsEmpty && classIndex >= 0)
            {
                double predicted = values[(r * width) + classIndex];
                bool correct = predicted == labels[r];
                _calibration.Add((values[(r * width) + confidenceIndex], correct));
                if (correct)
                {
                    _correct++;
                }
            }
        }

        _rows += rows;
    }

    /// <summary>Builds the profile.</summary>
    /// <param name="source"><c>dataset</c> or <c>baseline</c>.</param>
    /// <param name="createdAt">When it was built (UTC).</param>
    /// <returns>The profile.</returns>
    /// <exception cref="InvalidOperationException">No row was added.</exception>
    public ReferenceProfile Build(string source, DateTimeOffset createdAt)
    {
        if (_rows == 0)
        {
            throw new InvalidOperationException($"No rows were added to the reference profile of {_version.Name}/{_version.Version}; add the validation data (or baseline requests) first.");
        }

        var profile = new ReferenceProfile
        {
            ModelName = _version.Name,
            ModelVersion = _version.Version,
            ArtifactDigest = _version.Digest,
            Source = source,
            CreatedAt = createdAt,
            RowCount = _rows,
            Features = [.. _features.Select(f => f.ToProfile(_binCount))],
        };
        if (_calibration.Count > 0)
        {
            profile.LabelledCount = _calibration.Count;
            profile.Accuracy = (double)_correct / _calibration.Count;
            profile.Calibration = BuildCalibration(_calibration);
        }

        return profile;
    }

    private static ConfidenceCalibration BuildCalibration(List<(double Confidence, bool Correct)> pairs)
    {
        pairs.Sort((a, b) => a.Confidence.CompareTo(b.Confidence));
        int bins = Math.Max(1, Math.Min(CalibrationBins, pairs.Count / 50));
        var edges = new double[bins];
        var accuracy = new double[bins];
        for (int b = 0; b < bins; b++)
        {
            int start = (int)((long)pairs.Count * b / bins);
            int end = (int)((long)pairs.Count * (b + 1) / bins);
            int correct = 0;
            for (int i = start; i < end; i++)
            {
                correct += pairs[i].Correct ? 1 : 0;
            }

            edges[b] = b == bins - 1 ? 1.0 : pairs[end - 1].Confidence;
            accuracy[b] = end > start ? (double)correct / (end - start) : double.NaN;
        }

        return new ConfidenceCalibration { UpperEdges = edges, Accuracy = accuracy };
    }
}
