using System.Net.Http.Headers;
using System.Text.Json;

namespace ModelKit.Monitoring.Alerts;

/// <summary>
/// Sends alerts to a Prometheus Alertmanager through its v2 API, <c>POST /api/v2/alerts</c> with a JSON array of
/// <c>postableAlert</c> (labels, annotations, startsAt, endsAt, generatorURL), the way Prometheus does: a firing alert
/// is posted with <c>endsAt</c> four resend intervals ahead and posted again every <see cref="MonitoringOptions.AlertmanagerResendInterval"/>
/// while it fires; a resolved alert is posted once with <c>endsAt</c> = the time it resolved, which resolves it in
/// Alertmanager. Source: Alertmanager's OpenAPI spec (<c>api/v2/openapi.yaml</c>) and Prometheus' notifier. Thread-safe.
/// </summary>
public sealed class AlertmanagerAlertSink : IAlertSink, IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsClient;
    private readonly Uri _alertsUrl;
    private readonly TimeProvider _time;
    private readonly TimeSpan _resendInterval;
    private readonly Dictionary<string, AlertNotification> _firing = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly ITimer? _timer;

    /// <summary>Creates the sink.</summary>
    /// <param name="baseUrl">Alertmanager's base address, for example <c>http://127.0.0.1:9093/</c>.</param>
    /// <param name="resendInterval">How often firing alerts are posted again; zero or less never re-posts (then keep Alertmanager's <c>resolve_timeout</c> long enough).</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> for the system clock.</param>
    /// <param name="http">The client to use, or <see langword="null"/> for one the sink owns.</param>
    /// <exception cref="ArgumentException"><paramref name="baseUrl"/> is not an absolute http(s) URL.</exception>
    public AlertmanagerAlertSink(Uri baseUrl, TimeSpan resendInterval, TimeProvider? timeProvider = null, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (!baseUrl.IsAbsoluteUri || (baseUrl.Scheme != Uri.UriSchemeHttp && baseUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"Alertmanager URL '{baseUrl}' is not an absolute http or https URL; give its base address, for example http://127.0.0.1:9093/.", nameof(baseUrl));
        }

        string text = baseUrl.AbsoluteUri.EndsWith('/') ? baseUrl.AbsoluteUri : baseUrl.AbsoluteUri + "/";
        _alertsUrl = new Uri(new Uri(text), "api/v2/alerts");
        _time = timeProvider ?? TimeProvider.System;
        _resendInterval = resendInterval;
        _ownsClient = http is null;
        _http = http ?? new HttpClient();
        if (resendInterval > TimeSpan.Zero)
        {
            _timer = _time.CreateTimer(static s => ((AlertmanagerAlertSink)s!).Resend(), this, resendInterval, resendInterval);
        }
    }

    /// <summary>Gets the endpoint alerts are posted to.</summary>
    public Uri AlertsUrl => _alertsUrl;

    /// <inheritdoc />
    public async Task SendAsync(AlertNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        string key = $"{notification.RuleName}\u0000{notification.ModelName}\u0000{notification.ModelVersion}";
        lock (_lock)
        {
            if (notification.State == AlertState.Firing)
            {
                _firing[key] = notification;
            }
            else
            {
                _firing.Remove(key);
            }
        }

        await PostAsync([notification], cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _timer?.Dispose();
        if (_ownsClient)
        {
            _http.Dispose();
        }
    }

    private void Resend()
    {
        AlertNotification[] firing;
        lock (_lock)
        {
            firing = [.. _firing.Values];
        }

        if (firing.Length > 0)
        {
            // Best effort, like Prometheus' notifier: the next resend tries again.
            _ = PostAsync(firing, CancellationToken.None).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    private async Task PostAsync(AlertNotification[] alerts, CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        using var body = new MemoryStream();
        var writer = new Utf8JsonWriter(body);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartArray();
            foreach (AlertNotification n in alerts)
            {
                DateTimeOffset? endsAt = n.State == AlertState.Resolved
                    ? n.EndsAt ?? now
                    : _resendInterval > TimeSpan.Zero ? now + (4 * _resendInterval) : null;
                AlertJson.WriteAlert(writer, n, endsAt);
            }

            writer.WriteEndArray();
        }

        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await _http.PostAsync(_alertsUrl, content, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            string detail = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            throw new HttpRequestException($"Alertmanager at {_alertsUrl} answered {(int)response.StatusCode} {response.ReasonPhrase} ({detail.Trim()}) to {alerts.Length} alert(s); check its address and version (v2 API, 0.16 or later).", null, response.StatusCode);
        }
    }
}
