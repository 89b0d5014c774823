namespace ModelKit.Monitoring.Alerts;

/// <summary>
/// A condition on a monitored value, evaluated when each window closes, with the states of a Prometheus alerting rule:
/// inactive → pending (the condition holds, for less than <see cref="For"/>) → firing → resolved (it stopped holding).
/// </summary>
public sealed class AlertRule
{
    /// <summary>Gets or sets the rule name, sent as the <c>alertname</c> label: letters, digits, <c>_</c> and <c>:</c>.</summary>
    public string Name { get; set; } = "";

    /// <summary>
    /// Gets or sets the monitored value: <c>drift.share</c>, <c>drift.detected</c>, <c>drift.{feature}.{metric}</c> with
    /// metric one of <c>psi</c>, <c>ks_statistic</c>, <c>ks_p_value</c>, <c>js_distance</c>, <c>wasserstein</c>,
    /// <c>chi2</c>, <c>chi2_p_value</c>, <c>drifted</c>; <c>performance.accuracy</c>, <c>performance.estimated_accuracy</c>,
    /// <c>performance.accuracy_drop</c>, <c>performance.estimated_accuracy_drop</c> (reference accuracy minus the value),
    /// <c>performance.f1</c>, <c>performance.mae</c>, <c>performance.rmse</c>; <c>latency.p50</c>, <c>latency.p95</c>,
    /// <c>latency.p99</c> (seconds, of the observed requests); <c>input.nonfinite_per_row</c> (NaN or infinite input elements per row); <c>monitoring.dropped</c>.
    /// </summary>
    public string Metric { get; set; } = "";

    /// <summary>Gets or sets the comparison of the value with <see cref="Threshold"/>.</summary>
    /// <value>The default is <see cref="AlertComparison.GreaterThanOrEqual"/>.</value>
    public AlertComparison Comparison { get; set; } = AlertComparison.GreaterThanOrEqual;

    /// <summary>Gets or sets the threshold.</summary>
    public double Threshold { get; set; }

    /// <summary>Gets or sets how long the condition must hold before the rule fires (Prometheus' <c>for</c>); zero fires at once.</summary>
    /// <value>The default is zero.</value>
    public TimeSpan For { get; set; }

    /// <summary>Gets or sets how often a firing alert is notified again (Alertmanager's <c>repeat_interval</c>, whose default is also 4 hours).</summary>
    /// <value>The default is 4 hours.</value>
    public TimeSpan RepeatInterval { get; set; } = TimeSpan.FromHours(4);

    /// <summary>Gets or sets the severity label.</summary>
    /// <value>The default is <c>warning</c>.</value>
    public string Severity { get; set; } = "warning";

    /// <summary>Gets or sets the model the rule applies to; <see langword="null"/> for every monitored model.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? Model { get; set; }

    /// <summary>Gets extra labels sent with the alert.</summary>
    public IDictionary<string, string> Labels { get; } = new Dictionary<string, string>();

    /// <summary>Gets or sets a one-line summary sent as the <c>summary</c> annotation; <see langword="null"/> for a generated one.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? Summary { get; set; }
}

/// <summary>Comparisons of an <see cref="AlertRule"/>.</summary>
public enum AlertComparison
{
    /// <summary>value &gt; threshold.</summary>
    GreaterThan = 0,

    /// <summary>value ≥ threshold.</summary>
    GreaterThanOrEqual = 1,

    /// <summary>value &lt; threshold.</summary>
    LessThan = 2,

    /// <summary>value ≤ threshold.</summary>
    LessThanOrEqual = 3,
}

/// <summary>The states of an alert rule, as in Prometheus.</summary>
public enum AlertState
{
    /// <summary>The condition does not hold.</summary>
    Inactive = 0,

    /// <summary>The condition holds, for less than the rule's <see cref="AlertRule.For"/>.</summary>
    Pending = 1,

    /// <summary>The condition has held for at least <see cref="AlertRule.For"/>; notified.</summary>
    Firing = 2,

    /// <summary>The condition stopped holding after the rule fired; notified as resolved, inactive at the next evaluation.</summary>
    Resolved = 3,
}

/// <summary>One alert notification, sent to every <see cref="IAlertSink"/>.</summary>
public sealed record AlertNotification
{
    /// <summary>Gets the rule name (the <c>alertname</c> label).</summary>
    public required string RuleName { get; init; }

    /// <summary>Gets <see cref="AlertState.Firing"/> or <see cref="AlertState.Resolved"/>.</summary>
    public required AlertState State { get; init; }

    /// <summary>Gets the model name.</summary>
    public required string ModelName { get; init; }

    /// <summary>Gets the model version.</summary>
    public required int ModelVersion { get; init; }

    /// <summary>Gets the value that was evaluated, or NaN when it was not available.</summary>
    public required double Value { get; init; }

    /// <summary>Gets the rule's threshold.</summary>
    public required double Threshold { get; init; }

    /// <summary>Gets every label: <c>alertname</c>, <c>severity</c>, <c>model</c>, <c>version</c>, <c>metric</c> and the rule's own.</summary>
    public required IReadOnlyDictionary<string, string> Labels { get; init; }

    /// <summary>Gets the annotations: <c>summary</c> and <c>value</c>.</summary>
    public required IReadOnlyDictionary<string, string> Annotations { get; init; }

    /// <summary>Gets when the condition started to hold (UTC).</summary>
    public required DateTimeOffset StartsAt { get; init; }

    /// <summary>Gets when the alert resolved (UTC), or <see langword="null"/> while firing.</summary>
    public DateTimeOffset? EndsAt { get; init; }

    /// <summary>Gets the number of requests observed for the model when the notification was made.</summary>
    public long ObservedRequests { get; init; }
}

/// <summary>Receives alert notifications. Implementations are thread-safe; a failure is logged and never stops monitoring.</summary>
public interface IAlertSink
{
    /// <summary>Delivers one notification.</summary>
    /// <param name="notification">The notification.</param>
    /// <param name="cancellationToken">Cancelled when the sink takes longer than <see cref="MonitoringOptions.SinkTimeout"/> or the monitor stops.</param>
    /// <returns>A task that completes when the notification is delivered.</returns>
    Task SendAsync(AlertNotification notification, CancellationToken cancellationToken);
}
