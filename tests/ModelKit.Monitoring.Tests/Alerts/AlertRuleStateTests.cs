using Microsoft.Extensions.Time.Testing;
using ModelKit.Monitoring.Alerts;

namespace ModelKit.Monitoring.Tests.Alerts;

public sealed class AlertRuleStateTests
{
    private static AlertRule Rule(TimeSpan forDuration, TimeSpan? repeat = null) => new()
    {
        Name = "HighPsi",
        Metric = "drift.x[0].psi",
        Comparison = AlertComparison.GreaterThanOrEqual,
        Threshold = 0.25,
        For = forDuration,
        RepeatInterval = repeat ?? TimeSpan.FromHours(4),
        Severity = "critical",
        Labels = { ["team"] = "ml" },
    };

    [Fact]
    public void Evaluate_ConditionHoldsForTheForDuration_GoesPendingThenFiringThenResolvedThenInactive()
    {
        var time = new FakeTimeProvider();
        var state = new AlertRuleState(Rule(TimeSpan.FromMinutes(5)), "m", 2);

        Assert.Null(state.Evaluate(0.1, time.GetUtcNow(), 0, out _));
        Assert.Equal(AlertState.Inactive, state.State);

        DateTimeOffset began = time.GetUtcNow();
        Assert.Null(state.Evaluate(0.3, began, 0, out bool changed));
        Assert.True(changed);
        Assert.Equal(AlertState.Pending, state.State);

        time.Advance(TimeSpan.FromMinutes(4));
        Assert.Null(state.Evaluate(0.4, time.GetUtcNow(), 0, out _));
        Assert.Equal(AlertState.Pending, state.State);

        time.Advance(TimeSpan.FromMinutes(1));
        AlertNotification? firing = state.Evaluate(0.5, time.GetUtcNow(), 123, out _);
        Assert.NotNull(firing);
        Assert.Equal(AlertState.Firing, firing.State);
        Assert.Equal(began, firing.StartsAt);
        Assert.Null(firing.EndsAt);
        Assert.Equal(123, firing.ObservedRequests);
        Assert.Equal("HighPsi", firing.Labels["alertname"]);
        Assert.Equal("critical", firing.Labels["severity"]);
        Assert.Equal("2", firing.Labels["version"]);
        Assert.Equal("ml", firing.Labels["team"]);
        Assert.Equal("drift.x[0].psi of m/2 is 0.5 (>= 0.25)", firing.Annotations["summary"]);

        time.Advance(TimeSpan.FromMinutes(1));
        AlertNotification? resolved = state.Evaluate(0.1, time.GetUtcNow(), 0, out _);
        Assert.NotNull(resolved);
        Assert.Equal(AlertState.Resolved, resolved.State);
        Assert.Equal(time.GetUtcNow(), resolved.EndsAt);

        Assert.Null(state.Evaluate(0.1, time.GetUtcNow(), 0, out _));
        Assert.Equal(AlertState.Inactive, state.State);
    }

    [Fact]
    public void Evaluate_ConditionStopsBeforeTheForDuration_ReturnsToInactiveWithoutNotifying()
    {
        var time = new FakeTimeProvider();
        var state = new AlertRuleState(Rule(TimeSpan.FromMinutes(5)), "m", 1);
        state.Evaluate(0.3, time.GetUtcNow(), 0, out _);
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(state.Evaluate(0.2, time.GetUtcNow(), 0, out _));
        Assert.Equal(AlertState.Inactive, state.State);
    }

    [Fact]
    public void Evaluate_StillFiring_NotifiesAgainOnlyAfterTheRepeatInterval()
    {
        var time = new FakeTimeProvider();
        var state = new AlertRuleState(Rule(TimeSpan.Zero, TimeSpan.FromMinutes(30)), "m", 1);
        Assert.NotNull(state.Evaluate(0.3, time.GetUtcNow(), 0, out _));
        time.Advance(TimeSpan.FromMinutes(29));
        Assert.Null(state.Evaluate(0.3, time.GetUtcNow(), 0, out _));
        time.Advance(TimeSpan.FromMinutes(1));
        AlertNotification? repeat = state.Evaluate(0.3, time.GetUtcNow(), 0, out bool changed);
        Assert.NotNull(repeat);
        Assert.False(changed);
        Assert.Equal(AlertState.Firing, repeat.State);
    }

    [Fact]
    public void Evaluate_ValueUnavailable_CountsAsConditionNotHolding()
    {
        var state = new AlertRuleState(Rule(TimeSpan.Zero), "m", 1);
        Assert.Null(state.Evaluate(null, DateTimeOffset.UnixEpoch, 0, out _));
        Assert.Null(state.Evaluate(double.NaN, DateTimeOffset.UnixEpoch, 0, out _));
        Assert.Equal(AlertState.Inactive, state.State);
    }

    [Theory]
    [InlineData(AlertComparison.GreaterThan, 0.25, false)]
    [InlineData(AlertComparison.GreaterThanOrEqual, 0.25, true)]
    [InlineData(AlertComparison.LessThan, 0.25, false)]
    [InlineData(AlertComparison.LessThanOrEqual, 0.25, true)]
    public void Evaluate_Comparison_DecidesWhetherTheConditionHolds(AlertComparison comparison, double value, bool fires)
    {
        AlertRule rule = Rule(TimeSpan.Zero);
        rule.Comparison = comparison;
        var state = new AlertRuleState(rule, "m", 1);
        Assert.Equal(fires, state.Evaluate(value, DateTimeOffset.UnixEpoch, 0, out _) is not null);
    }
}
