using Microsoft.Extensions.Logging;
using ModelKit.Monitoring.Internal;

namespace ModelKit.Monitoring.Alerts;

/// <summary>Writes every alert notification to the log (warning when firing, information when resolved). Always registered by <c>AddMonitoring</c>.</summary>
public sealed class LoggerAlertSink : IAlertSink
{
    private readonly ILogger _logger;

    /// <summary>Creates the sink.</summary>
    /// <param name="loggerFactory">Logging; <see langword="null"/> writes nothing.</param>
    public LoggerAlertSink(ILoggerFactory? loggerFactory = null) =>
        _logger = (loggerFactory ?? Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance).CreateLogger<LoggerAlertSink>();

    /// <inheritdoc />
    public Task SendAsync(AlertNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        if (notification.State == AlertState.Resolved)
        {
            MonitoringLog.AlertResolved(_logger, notification.RuleName, notification.ModelName, notification.ModelVersion, notification.Annotations["summary"]);
        }
        else
        {
            MonitoringLog.AlertFiring(_logger, notification.RuleName, notification.ModelName, notification.ModelVersion, notification.Labels["severity"], notification.Annotations["summary"]);
        }

        return Task.CompletedTask;
    }
}
