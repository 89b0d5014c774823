using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Capture;

namespace ModelKit.Monitoring.Internal;

/// <summary>The sinks that <see cref="MonitoringOptions"/> configures (Alertmanager, webhook, JSON Lines capture); owned and disposed by the container.</summary>
internal sealed class MonitoringSinks : IDisposable
{
    public MonitoringSinks(IOptions<MonitoringOptions> options, IOptions<ModelKitOptions> modelKitOptions, TimeProvider? timeProvider = null)
    {
        MonitoringOptions o = options.Value;
        var alertSinks = new List<IAlertSink>();
        if (o.AlertmanagerUrl is not null)
        {
            alertSinks.Add(new AlertmanagerAlertSink(o.AlertmanagerUrl, o.AlertmanagerResendInterval, timeProvider));
        }

        if (o.WebhookUrl is not null)
        {
            alertSinks.Add(new WebhookAlertSink(o.WebhookUrl));
        }

        AlertSinks = alertSinks;
        if (o.Capture.Enabled)
        {
            string directory = o.Capture.Directory ?? Path.Combine(modelKitOptions.Value.DataDirectory, "monitoring", "capture");
            Capture = new JsonLinesCaptureSink(directory, o.Capture, timeProvider);
        }
    }

    public IReadOnlyList<IAlertSink> AlertSinks { get; }

    public JsonLinesCaptureSink? Capture { get; }

    public void Dispose()
    {
        foreach (IAlertSink sink in AlertSinks)
        {
            (sink as IDisposable)?.Dispose();
        }

        Capture?.Dispose();
    }
}
