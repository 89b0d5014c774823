using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Profiles;

/// <summary>
/// What a model version's inputs and outputs look like on data it is known to handle well (its validation data, or its
/// first requests): per-feature summaries that live windows are compared with, and the calibration that turns
/// confidence into an accuracy estimate. Stored as JSON next to the version (see <see cref="IReferenceProfileStore"/>).
/// </summary>
public sealed class ReferenceProfile
{
    /// <summary>The current format version of the stored JSON: 1.</summary>
    public const int CurrentFormatVersion = 1;

    /// <summary>Gets or sets the stored format version.</summary>
    public int FormatVersion { get; set; } = CurrentFormatVersion;

    /// <summary>Gets or sets the model name.</summary>
    public string ModelName { get; set; } = "";

    /// <summary>Gets or sets the model version number.</summary>
    public int ModelVersion { get; set; }

    /// <summary>Gets or sets the artifact digest (<c>sha256:…</c>) of the version the profile describes.</summary>
    public string ArtifactDigest { get; set; } = "";

    /// <summary>Gets or sets where the profile comes from: <c>dataset</c> or <c>baseline</c> (the version's first requests).</summary>
    public string Source { get; set; } = "dataset";

    /// <summary>Gets or sets when the profile was built (UTC).</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Gets or sets the number of rows summarised.</summary>
    public long RowCount { get; set; }

    /// <summary>Gets or sets the accuracy measured on the labelled rows (classifiers), or <see langword="null"/> without labels.</summary>
    public double? Accuracy { get; set; }

    /// <summary>Gets or sets the number of labelled rows.</summary>
    public long LabelledCount { get; set; }

    /// <summary>Gets or sets the confidence calibration for the label-free accuracy estimate, or <see langword="null"/> without labels.</summary>
    public ConfidenceCalibration? Calibration { get; set; }

    /// <summary>Gets or sets the feature summaries, in the extractor's order.</summary>
    public List<FeatureProfile> Features { get; set; } = [];
}

/// <summary>The reference summary of one feature.</summary>
public sealed class FeatureProfile
{
    /// <summary>Gets or sets the feature name.</summary>
    public string Name { get; set; } = "";

    /// <summary>Gets or sets the kind.</summary>
    public FeatureKind Kind { get; set; }

    /// <summary>Gets or sets the number of finite values.</summary>
    public long Count { get; set; }

    /// <summary>Gets or sets the number of non-finite values seen (left out of every summary).</summary>
    public long NonFiniteCount { get; set; }

    /// <summary>Gets or sets the mean (numeric features).</summary>
    public double Mean { get; set; }

    /// <summary>Gets or sets the population standard deviation (numeric features).</summary>
    public double StandardDeviation { get; set; }

    /// <summary>Gets or sets the quantile sketch (numeric features).</summary>
    public KllSketchState? Sketch { get; set; }

    /// <summary>Gets or sets the interior histogram edges: the reference's deciles, deduplicated (numeric features).</summary>
    public double[] BinEdges { get; set; } = [];

    /// <summary>Gets or sets the reference counts per histogram bin (length <c>BinEdges.Length + 1</c>).</summary>
    public long[] BinCounts { get; set; } = [];

    /// <summary>Gets or sets the counts per category (categorical features; keys are the category numbers as text).</summary>
    public Dictionary<string, long> Categories { get; set; } = [];
}

/// <summary>
/// Histogram-binning calibration of top-1 confidence (Zadrozny and Elkan, 2001): equal-mass confidence bins, each with
/// the accuracy measured on the reference. NannyML's CBPE calibrates the same way before averaging (it uses isotonic
/// regression by default); the expected calibrated confidence over a window estimates its accuracy.
/// </summary>
public sealed class ConfidenceCalibration
{
    /// <summary>Gets or sets the upper edges of the bins, ascending (the last bin is open-ended).</summary>
    public double[] UpperEdges { get; set; } = [];

    /// <summary>Gets or sets the accuracy per bin.</summary>
    public double[] Accuracy { get; set; } = [];

    /// <summary>Returns the calibrated probability that a prediction with <paramref name="confidence"/> is right.</summary>
    /// <param name="confidence">The top-1 confidence.</param>
    /// <returns>The probability; NaN when the calibration is empty or the confidence is NaN.</returns>
    public double Calibrate(double confidence)
    {
        if (Accuracy.Length == 0 || double.IsNaN(confidence))
        {
            return double.NaN;
        }

        for (int i = 0; i < UpperEdges.Length && i < Accuracy.Length; i++)
        {
            if (confidence <= UpperEdges[i])
            {
                return Accuracy[i];
            }
        }

        return Accuracy[^1];
    }
}
