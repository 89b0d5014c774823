using System.Globalization;

namespace ModelKit.Monitoring.Alerts;

/// <summary>The state machine of one rule for one model version (Prometheus' rule semantics, Alertmanager's repeat interval). Not thread-safe.</summary>
internal sealed class AlertRuleState
{
    private readonly AlertRule _rule;
    private readonly string _model;
    private readonly int _version;
    private DateTimeOffset _activeSince;
    private DateTimeOffset _lastNotified;

    public AlertRuleState(AlertRule rule, string model, int version)
    {
        _rule = rule;
        _model = model;
        _version = version;
    }

    public AlertRule Rule => _rule;

    public AlertState State { get; private set; } = AlertState.Inactive;

    public double LastValue { get; private set; } = double.NaN;

    /// <summary>Evaluates the rule; returns a notification when one is due (firing, repeat, or resolved).</summary>
    public AlertNotification? Evaluate(double? value, DateTimeOffset now, long observed, out bool changed)
    {
        AlertState before = State;
        LastValue = value ?? double.NaN;
        bool holds = value is double v && !double.IsNaN(v) && Compare(v);
        AlertNotification? notification = null;
        switch (State)
        {
            case AlertState.Inactive:
            case AlertState.Resolved:
                State = AlertState.Inactive;
                if (holds)
                {
                    _activeSince = now;
                    State = AlertState.Pending;
                    if (_rule.For <= TimeSpan.Zero)
                    {
                        State = AlertState.Firing;
                        _lastNotified = now;
                        notification = Create(AlertState.Firing, now, observed);
                    }
                }

                break;
            case AlertState.Pending:
                if (!holds)
                {
                    State = AlertState.Inactive;
                }
                else if (now - _activeSince >= _rule.For)
                {
                    State = AlertState.Firing;
                    _lastNotified = now;
                    notification = Create(AlertState.Firing, now, observed);
                }

                break;
            case AlertState.Firing:
                if (!holds)
                {
                    State = AlertState.Resolved;
                    notification = Create(AlertState.Resolved, now, observed);
                }
                else if (now - _lastNotified >= _rule.RepeatInterval)
                {
                    _lastNotified = now;
                    notification = Create(AlertState.Firing, now, observed);
                }

                break;
        }

        changed = State != before;
        return notification;
    }

    private bool Compare(double value) => _rule.Comparison switch
    {
        AlertComparison.GreaterThan => value > _rule.Threshold,
        AlertComparison.GreaterThanOrEqual => value >= _rule.Threshold,
        AlertComparison.LessThan => value < _rule.Threshold,
        _ => value <= _rule.Threshold,
    };

    private AlertNotification Create(AlertState state, DateTimeOffset now, long observed)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["alertname"] = _rule.Name,
            ["severity"] = _rule.Severity,
            ["model"] = _model,
            ["version"] = _version.ToString(CultureInfo.InvariantCulture),
            ["metric"] = _rule.Metric,
        };
        foreach ((string key, string value) in _rule.Labels)
        {
            labels.TryAdd(key, value);
        }

        string op = _rule.Comparison switch
        {
            AlertComparison.GreaterThan => ">",
            AlertComparison.GreaterThanOrEqual => ">=",
            AlertComparison.LessThan => "<",
            _ => "<=",
        };
        string valueText = LastValue.ToString("G6", CultureInfo.InvariantCulture);
        string summary = _rule.Summary ?? $"{_rule.Metric} of {_model}/{_version} is {valueText} ({op} {_rule.Threshold.ToString(CultureInfo.InvariantCulture)})";
        return new AlertNotification
        {
            RuleName = _rule.Name,
            State = state,
            ModelName = _model,
            ModelVersion = _version,
            Value = LastValue,
            Threshold = _rule.Threshold,
            Labels = labels,
            Annotations = new Dictionary<string, string>(StringComparer.Ordinal) { ["summary"] = summary, ["value"] = valueText },
            StartsAt = _activeSince,
            EndsAt = state == AlertState.Resolved ? now : null,
            ObservedRequests = observed,
        };
    }
}
