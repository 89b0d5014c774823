using System.Net.Http.Headers;
using System.Text.Json;

namespace ModelKit.Monitoring.Alerts;

/// <summary>
/// Posts every notification as JSON to a URL, in the shape of Alertmanager's webhook receiver (version 4):
/// <c>{"version":"4","status":"firing"|"resolved","receiver":"modelkit","alerts":[{labels, annotations, startsAt, endsAt, generatorURL, status, value}]}</c>.
/// A response other than 2xx is an error (logged by the monitor). Thread-safe.
/// </summary>
public sealed class WebhookAlertSink : IAlertSink, IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsClient;
    private readonly Uri _url;

    /// <summary>Creates the sink.</summary>
    /// <param name="url">The absolute http or https URL that receives the posts.</param>
    /// <param name="http">The client to use, or <see langword="null"/> for one the sink owns.</param>
    /// <exception cref="ArgumentException"><paramref name="url"/> is not an absolute http(s) URL.</exception>
    public WebhookAlertSink(Uri url, HttpClient? http = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"Webhook URL '{url}' is not an absolute http or https URL; give one such as http://127.0.0.1:8080/alerts.", nameof(url));
        }

        _url = url;
        _ownsClient = http is null;
        _http = http ?? new HttpClient();
    }

    /// <inheritdoc />
    public async Task SendAsync(AlertNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        using var body = new MemoryStream();
        var writer = new Utf8JsonWriter(body);
        await using (writer.ConfigureAwait(false))
        {
            string status = notification.State == AlertState.Resolved ? "resolved" : "firing";
            writer.WriteStartObject();
            writer.WriteString("version", "4");
            writer.WriteString("status", status);
            writer.WriteString("receiver", "modelkit");
            writer.WriteStartArray("alerts");
            AlertJson.WriteAlert(writer, notification with { Annotations = new Dictionary<string, string>(notification.Annotations) { ["status"] = status } }, notification.EndsAt);
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using HttpResponseMessage response = await _http.PostAsync(_url, content, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"Webhook {_url} answered {(int)response.StatusCode} {response.ReasonPhrase} to alert '{notification.RuleName}'; check the receiver.", null, response.StatusCode);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _http.Dispose();
        }
    }
}
