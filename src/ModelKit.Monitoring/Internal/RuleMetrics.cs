namespace ModelKit.Monitoring.Internal;

/// <summary>The metric names alert rules may use.</summary>
internal static class RuleMetrics
{
    public static readonly string[] Fixed =
    [
        "drift.share", "drift.detected",
        "performance.accuracy", "performance.estimated_accuracy", "performance.accuracy_drop", "performance.estimated_accuracy_drop",
        "performance.f1", "performance.mae", "performance.rmse",
        "latency.p50", "latency.p95", "latency.p99",
        "input.nonfinite_per_row", "monitoring.dropped",
    ];

    public static readonly string[] FeatureMetrics = ["psi", "ks_statistic", "ks_p_value", "js_distance", "wasserstein", "chi2", "chi2_p_value", "drifted"];

    public static bool IsValid(string? metric)
    {
        if (string.IsNullOrWhiteSpace(metric))
        {
            return false;
        }

        if (Array.IndexOf(Fixed, metric) >= 0)
        {
            return true;
        }

        if (!metric.StartsWith("drift.", StringComparison.Ordinal))
        {
            return false;
        }

        int last = metric.LastIndexOf('.');
        return last > "drift.".Length && Array.IndexOf(FeatureMetrics, metric[(last + 1)..]) >= 0;
    }

    /// <summary>Whether a metric may be missing from a tested window for good reasons (no labels yet, not a classifier).</summary>
    public static bool IsWindowOptional(string metric) =>
        !metric.StartsWith("drift.", StringComparison.Ordinal) || metric is "drift.share" or "drift.detected";
}
