using Microsoft.Extensions.Logging;

namespace ModelKit.Monitoring.Internal;

/// <summary>The monitoring package's log messages.</summary>
internal static partial class MonitoringLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "Alert {Rule} firing for model {Model} version {Version} ({Severity}): {Summary}")]
    public static partial void AlertFiring(ILogger logger, string rule, string model, int version, string severity, string summary);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Alert {Rule} resolved for model {Model} version {Version}: {Summary}")]
    public static partial void AlertResolved(ILogger logger, string rule, string model, int version, string summary);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Alert sink {Sink} failed to deliver alert {Rule}; monitoring goes on.")]
    public static partial void SinkFailed(ILogger logger, string sink, string rule, Exception exception);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Processing an observation of model {Model} version {Version} failed; it is skipped and serving is unaffected.")]
    public static partial void ObservationFailed(ILogger logger, string model, int version, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "No reference profile is stored for model {Model} version {Version}; its first {Rows} rows become the baseline.")]
    public static partial void BaselineStarted(ILogger logger, string model, int version, int rows);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "The reference profile of model {Model} version {Version} could not be used; a baseline window is built instead.")]
    public static partial void ProfileUnusable(ILogger logger, string model, int version, Exception exception);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Baseline profile of model {Model} version {Version} built from {Rows} rows.")]
    public static partial void BaselineBuilt(ILogger logger, string model, int version, long rows);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "Writing a capture record failed; capture goes on with the next record.")]
    public static partial void CaptureFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9, Level = LogLevel.Debug, Message = "A label arrived for request id {RequestId}, which is not waiting for a label (unknown, already labelled, or forgotten).")]
    public static partial void UnknownLabel(ILogger logger, string requestId);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Alert rule {Rule} names metric {Metric}, which model {Model} version {Version} does not report; the rule stays inactive for it.")]
    public static partial void UnknownRuleMetric(ILogger logger, string rule, string metric, string model, int version);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Alert action {Action} failed for alert {Rule}.")]
    public static partial void ActionFailed(ILogger logger, string action, string rule, Exception exception);
}
