using System.Diagnostics.Metrics;
using ModelKit.Diagnostics;

namespace ModelKit.Monitoring.Internal;

/// <summary>The instruments of meter <c>ModelKit.Monitoring</c>.</summary>
internal sealed class MonitoringMetrics : IDisposable
{
    public const string MeterName = "ModelKit.Monitoring";
    public const string FeatureTag = "modelkit.feature";
    public const string MetricTag = "modelkit.drift.metric";
    public const string OutcomeTag = "modelkit.outcome";
    public const string RuleTag = "modelkit.alert.rule";
    public const string StateTag = "modelkit.alert.state";

    private readonly Meter? _owned;

    public MonitoringMetrics(IMeterFactory? meterFactory)
    {
        Meter meter = ModelKitTelemetryHelpers.CreateMeter(meterFactory, MeterName, out _owned);
        Observations = meter.CreateCounter<long>("modelkit.monitoring.observations", "{request}", "Answered requests seen by the monitoring hook, by outcome: sampled, skipped (not sampled) or dropped (queue full).");
        NonFinite = meter.CreateCounter<long>("modelkit.monitoring.nonfinite_inputs", "{element}", "NaN or infinite input elements, kept out of every sketch.");
        Labels = meter.CreateCounter<long>("modelkit.monitoring.labels", "{label}", "Labels posted, by outcome: joined or unknown.");
        Drift = meter.CreateGauge<double>("modelkit.monitoring.drift", "1", "Drift of one feature in the last closed window, by metric: psi, ks_statistic, ks_p_value, js_distance, wasserstein, chi2, chi2_p_value, drifted.");
        DriftShare = meter.CreateGauge<double>("modelkit.monitoring.drift.share", "1", "Share of drifted features in the last closed window.");
        DatasetDrift = meter.CreateGauge<double>("modelkit.monitoring.drift.detected", "1", "1 when the last closed window drifted as a whole (share of drifted features reached the configured share), else 0.");
        Performance = meter.CreateGauge<double>("modelkit.monitoring.performance", "1", "Performance in the last closed window, by metric: accuracy, estimated_accuracy, f1, mae, rmse.");
        Windows = meter.CreateCounter<long>("modelkit.monitoring.windows", "{window}", "Closed windows.");
        Notifications = meter.CreateCounter<long>("modelkit.monitoring.alert.notifications", "{notification}", "Alert notifications, by rule and state (firing, resolved).");
    }

    public Counter<long> Observations { get; }

    public Counter<long> NonFinite { get; }

    public Counter<long> Labels { get; }

    public Gauge<double> Drift { get; }

    public Gauge<double> DriftShare { get; }

    public Gauge<double> DatasetDrift { get; }

    public Gauge<double> Performance { get; }

    public Counter<long> Windows { get; }

    public Counter<long> Notifications { get; }

    public void Dispose() => _owned?.Dispose();
}
