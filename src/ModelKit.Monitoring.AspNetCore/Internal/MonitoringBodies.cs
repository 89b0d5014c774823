using System.Text.Json.Serialization;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Profiles;

namespace ModelKit.Monitoring.AspNetCore.Internal;

// Bodies of the monitoring endpoints. Values that are NaN inside the monitor (not computed: no labels, not a
// classifier, too small a window) are written as JSON null.

internal sealed record ErrorBody(string Error);

internal sealed record MonitoredVersionSummaryBody(
    string Model,
    int Version,
    string? ProfileSource,
    long ProfileRows,
    bool InBaseline,
    long WindowsClosed,
    long CurrentWindowRows,
    long ObservedRequests,
    double? LastDriftShare,
    bool? LastDatasetDrift,
    IReadOnlyList<string> FiringAlerts);

internal sealed record MonitoredModelsBody(long DroppedObservations, IReadOnlyList<MonitoredVersionSummaryBody> Versions);

internal sealed record FeatureProfileBody(string Name, string Kind, long Count, long NonFiniteCount, double? Mean, double? StandardDeviation, IReadOnlyList<double> BinEdges, IReadOnlyDictionary<string, long> Categories);

internal sealed record ProfileBody(string Source, DateTimeOffset CreatedAt, long RowCount, double? Accuracy, long LabelledCount, string ArtifactDigest, IReadOnlyList<FeatureProfileBody> Features);

internal sealed record CurrentWindowBody(long Index, DateTimeOffset Start, long Rows);

internal sealed record FeatureDriftBody(string Feature, string Group, string Kind, long Count, double? Psi, double? JsDistance, double? KsStatistic, double? KsPValue, double? Wasserstein, double? Chi2, double? Chi2PValue, double? PValue, bool Drifted);

internal sealed record PerformanceBody(long LabelledCount, double? Accuracy, double? F1, double? Mae, double? Rmse, double? EstimatedAccuracy, double? ReferenceAccuracy);

internal sealed record LatencyBody(double? P50Seconds, double? P95Seconds, double? P99Seconds);

internal sealed record WindowBody(
    long Index,
    DateTimeOffset Start,
    DateTimeOffset End,
    long Rows,
    double TestLevel,
    double DriftShare,
    bool DatasetDrift,
    IReadOnlyList<FeatureDriftBody> Features,
    PerformanceBody Performance,
    LatencyBody Latency,
    long NonFiniteInputs,
    long Dropped);

internal sealed record AlertStatusBody(string Rule, string State, double? LastValue);

internal sealed record MonitoredVersionBody(
    string Model,
    int Version,
    bool InBaseline,
    long ObservedRequests,
    ProfileBody? Profile,
    CurrentWindowBody CurrentWindow,
    WindowBody? LastWindow,
    IReadOnlyList<WindowBody> RecentWindows,
    IReadOnlyList<AlertStatusBody> Alerts);

internal sealed record MonitoredModelBody(string Model, IReadOnlyList<MonitoredVersionBody> Versions);

internal sealed record LabelBody(string? RequestId, double? Label);

internal sealed record LabelResultBody(string RequestId, string Outcome);

internal sealed record LabelBatchBody(IReadOnlyList<LabelBody>? Labels);

internal sealed record LabelBatchResultBody(int Joined, IReadOnlyList<string> Unknown);

/// <summary>Maps the monitor's records to bodies.</summary>
internal static class Bodies
{
    public static double? Value(double value) => double.IsFinite(value) ? value : null;

    public static MonitoredVersionSummaryBody Summary(MonitoredModelState s)
    {
        WindowReport? last = s.RecentWindows.Count > 0 ? s.RecentWindows[^1] : null;
        return new MonitoredVersionSummaryBody(
            s.ModelName, s.ModelVersion, s.ProfileSource, s.ProfileRows, s.InBaseline, s.WindowsClosed, s.CurrentWindowRows, s.ObservedRequests,
            last is null || last.Features.Count == 0 ? null : last.DriftShare,
            last is null || last.Features.Count == 0 ? null : last.DatasetDrift,
            [.. s.Alerts.Where(a => a.State == Alerts.AlertState.Firing).Select(a => a.Rule)]);
    }

    public static MonitoredVersionBody Detail(MonitoredModelState s, ReferenceProfile? profile)
    {
        WindowBody[] windows = [.. s.RecentWindows.Select(Window)];
        return new MonitoredVersionBody(
            s.ModelName,
            s.ModelVersion,
            s.InBaseline,
            s.ObservedRequests,
            profile is null ? null : Profile(profile),
            new CurrentWindowBody(s.WindowsClosed + 1, s.CurrentWindowStart, s.CurrentWindowRows),
            windows.Length > 0 ? windows[^1] : null,
            windows,
            [.. s.Alerts.Select(a => new AlertStatusBody(a.Rule, Name(a.State), Value(a.LastValue)))]);
    }

    public static ProfileBody Profile(ReferenceProfile p) => new(
        p.Source,
        p.CreatedAt,
        p.RowCount,
        p.Accuracy is double a ? Value(a) : null,
        p.LabelledCount,
        p.ArtifactDigest,
        [.. p.Features.Select(f => new FeatureProfileBody(
            f.Name,
            Name(f.Kind),
            f.Count,
            f.NonFiniteCount,
            f.Kind == FeatureKind.Numeric ? Value(f.Mean) : null,
            f.Kind == FeatureKind.Numeric ? Value(f.StandardDeviation) : null,
            f.BinEdges,
            f.Categories))]);

    public static WindowBody Window(WindowReport w) => new(
        w.WindowIndex,
        w.Start,
        w.End,
        w.RowCount,
        w.TestLevel,
        w.DriftShare,
        w.DatasetDrift,
        [.. w.Features.Select(f => new FeatureDriftBody(
            f.Feature, f.Group, Name(f.Kind), f.Count, Value(f.Psi), Value(f.JensenShannon), Value(f.KsStatistic), Value(f.KsPValue),
            Value(f.Wasserstein), Value(f.ChiSquared), Value(f.ChiSquaredPValue), Value(f.PValue), f.Drifted))],
        new PerformanceBody(
            w.Performance.LabelledCount, Value(w.Performance.Accuracy), Value(w.Performance.MacroF1), Value(w.Performance.MeanAbsoluteError),
            Value(w.Performance.RootMeanSquaredError), Value(w.Performance.EstimatedAccuracy), Value(w.Performance.ReferenceAccuracy)),
        new LatencyBody(Value(w.Latency.P50), Value(w.Latency.P95), Value(w.Latency.P99)),
        w.NonFiniteInputs,
        w.Dropped);

    public static string Name(Alerts.AlertState state) => state switch
    {
        Alerts.AlertState.Pending => "pending",
        Alerts.AlertState.Firing => "firing",
        Alerts.AlertState.Resolved => "resolved",
        _ => "inactive",
    };

    public static string Name(FeatureKind kind) => kind == FeatureKind.Numeric ? "numeric" : "categorical";
}

/// <summary>Source-generated JSON for the monitoring bodies; snake_case like the other management endpoints.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(MonitoredModelsBody))]
[JsonSerializable(typeof(MonitoredModelBody))]
[JsonSerializable(typeof(MonitoredVersionBody))]
[JsonSerializable(typeof(ProfileBody))]
[JsonSerializable(typeof(LabelBody))]
[JsonSerializable(typeof(LabelResultBody))]
[JsonSerializable(typeof(LabelBatchBody))]
[JsonSerializable(typeof(LabelBatchResultBody))]
internal sealed partial class MonitoringEndpointsJsonContext : JsonSerializerContext;
