using ModelKit.Monitoring.Features;

namespace ModelKit.Monitoring.Drift;

/// <summary>The drift of one feature in one window against the reference.</summary>
public sealed record FeatureDrift
{
    /// <summary>Gets the feature name.</summary>
    public required string Feature { get; init; }

    /// <summary>Gets the feature's group: <c>input</c> or <c>output</c>.</summary>
    public required string Group { get; init; }

    /// <summary>Gets the feature's kind.</summary>
    public required FeatureKind Kind { get; init; }

    /// <summary>Gets the finite values in the window.</summary>
    public required long Count { get; init; }

    /// <summary>Gets the population stability index over the reference's decile bins (numeric) or categories (categorical).</summary>
    public double Psi { get; init; } = double.NaN;

    /// <summary>Gets the Jensen–Shannon distance (base 2) over the same bins.</summary>
    public double JensenShannon { get; init; } = double.NaN;

    /// <summary>Gets the two-sample Kolmogorov–Smirnov statistic (numeric features).</summary>
    public double KsStatistic { get; init; } = double.NaN;

    /// <summary>Gets the Kolmogorov–Smirnov p-value (numeric features).</summary>
    public double KsPValue { get; init; } = double.NaN;

    /// <summary>Gets the Wasserstein-1 distance over the reference's standard deviation (numeric features).</summary>
    public double Wasserstein { get; init; } = double.NaN;

    /// <summary>Gets Pearson's chi-squared statistic (categorical features).</summary>
    public double ChiSquared { get; init; } = double.NaN;

    /// <summary>Gets the chi-squared p-value (categorical features).</summary>
    public double ChiSquaredPValue { get; init; } = double.NaN;

    /// <summary>Gets the p-value of the feature's test (Kolmogorov–Smirnov for numeric, chi-squared for categorical).</summary>
    public double PValue => Kind == FeatureKind.Numeric ? KsPValue : ChiSquaredPValue;

    /// <summary>Gets whether the feature drifted: its p-value is below the corrected level of the window.</summary>
    public bool Drifted { get; init; }
}

/// <summary>Performance of one window.</summary>
public sealed record WindowPerformance
{
    /// <summary>Gets the number of labels joined in the window.</summary>
    public long LabelledCount { get; init; }

    /// <summary>Gets the measured accuracy on the joined labels (classifiers), or NaN.</summary>
    public double Accuracy { get; init; } = double.NaN;

    /// <summary>Gets the macro-averaged F1 score on the joined labels (classifiers), or NaN.</summary>
    public double MacroF1 { get; init; } = double.NaN;

    /// <summary>Gets the mean absolute error (regression), or NaN.</summary>
    public double MeanAbsoluteError { get; init; } = double.NaN;

    /// <summary>Gets the root mean squared error (regression), or NaN.</summary>
    public double RootMeanSquaredError { get; init; } = double.NaN;

    /// <summary>Gets the label-free accuracy estimate: the mean calibrated top-1 confidence (NannyML's CBPE idea), or NaN for non-classifiers.</summary>
    public double EstimatedAccuracy { get; init; } = double.NaN;

    /// <summary>Gets the accuracy recorded in the reference profile (the version's validation accuracy), or NaN.</summary>
    public double ReferenceAccuracy { get; init; } = double.NaN;
}

/// <summary>Everything computed when a window closes.</summary>
public sealed record WindowReport
{
    /// <summary>Gets the model name.</summary>
    public required string ModelName { get; init; }

    /// <summary>Gets the model version.</summary>
    public required int ModelVersion { get; init; }

    /// <summary>Gets the window number, from 1 per version.</summary>
    public required long WindowIndex { get; init; }

    /// <summary>Gets when the window opened (UTC).</summary>
    public required DateTimeOffset Start { get; init; }

    /// <summary>Gets when the window closed (UTC).</summary>
    public required DateTimeOffset End { get; init; }

    /// <summary>Gets the rows in the window.</summary>
    public required long RowCount { get; init; }

    /// <summary>Gets the requests observed for this version so far (sampled ones only).</summary>
    public required long ObservedRequests { get; init; }

    /// <summary>Gets the drift per feature; empty when the window was smaller than <see cref="MonitoringOptions.MinWindowSize"/>.</summary>
    public required IReadOnlyList<FeatureDrift> Features { get; init; }

    /// <summary>Gets the level each feature's p-value was compared with, after the correction.</summary>
    public required double TestLevel { get; init; }

    /// <summary>Gets the share of features that drifted.</summary>
    public required double DriftShare { get; init; }

    /// <summary>Gets whether the data set drifted: the share reached <see cref="MonitoringOptions.DriftShare"/>.</summary>
    public required bool DatasetDrift { get; init; }

    /// <summary>Gets the performance of the window.</summary>
    public required WindowPerformance Performance { get; init; }

    /// <summary>Gets the latency percentiles of the observed requests, in seconds (p50, p95, p99).</summary>
    public required (double P50, double P95, double P99) Latency { get; init; }

    /// <summary>Gets the NaN or infinite input elements seen in the window.</summary>
    public required long NonFiniteInputs { get; init; }

    /// <summary>Gets the observations dropped (queue full) since the previous window, over every model.</summary>
    public required long Dropped { get; init; }

    /// <summary>Gets the monitored values by metric name (<see cref="Alerts.AlertRule.Metric"/>'s names), for alert rules.</summary>
    public required IReadOnlyDictionary<string, double> Values { get; init; }
}
