using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Monitoring.Alerts;

namespace ModelKit.Monitoring.Tests.Alerts;

public sealed class AlertmanagerAlertSinkTests : IClassFixture<AlertmanagerFixture>
{
    private readonly AlertmanagerFixture _alertmanager;

    public AlertmanagerAlertSinkTests(AlertmanagerFixture alertmanager) => _alertmanager = alertmanager;

    private static AlertNotification Notification(string rule, AlertState state, DateTimeOffset startsAt, DateTimeOffset? endsAt = null) => new()
    {
        RuleName = rule,
        State = state,
        ModelName = "fashion-mnist",
        ModelVersion = 3,
        Value = 0.42,
        Threshold = 0.25,
        Labels = new Dictionary<string, string> { ["alertname"] = rule, ["severity"] = "warning", ["model"] = "fashion-mnist", ["version"] = "3", ["metric"] = "drift.share" },
        Annotations = new Dictionary<string, string> { ["summary"] = "drift.share of fashion-mnist/3 is 0.42 (>= 0.25)", ["value"] = "0.42" },
        StartsAt = startsAt,
        EndsAt = endsAt,
    };

    private async Task<JsonElement[]> AlertsNamedAsync(string rule)
    {
        string json = await _alertmanager.Http.GetStringAsync(new Uri(_alertmanager.BaseUrl, $"api/v2/alerts?filter=alertname%3D%22{rule}%22"));
        return [.. JsonDocument.Parse(json).RootElement.EnumerateArray().Select(e => e.Clone())];
    }

    [Fact]
    public async Task SendAsync_FiringThenResolved_AlertmanagerShowsTheAlertActiveThenNoLonger()
    {
        string rule = $"ModelKitDrift{Guid.NewGuid():N}";
        using var sink = new AlertmanagerAlertSink(_alertmanager.BaseUrl, TimeSpan.FromMinutes(1));
        DateTimeOffset start = DateTimeOffset.UtcNow.AddMinutes(-1);

        await sink.SendAsync(Notification(rule, AlertState.Firing, start), CancellationToken.None);
        JsonElement alert = Assert.Single(await AlertsNamedAsync(rule));
        Assert.Equal("active", alert.GetProperty("status").GetProperty("state").GetString());
        Assert.Equal("fashion-mnist", alert.GetProperty("labels").GetProperty("model").GetString());
        Assert.Equal("3", alert.GetProperty("labels").GetProperty("version").GetString());
        Assert.Equal("drift.share of fashion-mnist/3 is 0.42 (>= 0.25)", alert.GetProperty("annotations").GetProperty("summary").GetString());
        Assert.True(alert.GetProperty("endsAt").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(3));

        await sink.SendAsync(Notification(rule, AlertState.Resolved, start, DateTimeOffset.UtcNow), CancellationToken.None);
        Assert.Empty(await AlertsNamedAsync(rule));
    }

    [Fact]
    public async Task Resend_WhileFiring_PostsTheAlertAgainWithALaterEnd()
    {
        string rule = $"ModelKitRepeat{Guid.NewGuid():N}";
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var sink = new AlertmanagerAlertSink(_alertmanager.BaseUrl, TimeSpan.FromMinutes(1), time);
        await sink.SendAsync(Notification(rule, AlertState.Firing, time.GetUtcNow()), CancellationToken.None);
        DateTimeOffset firstEnd = Assert.Single(await AlertsNamedAsync(rule)).GetProperty("endsAt").GetDateTimeOffset();

        time.Advance(TimeSpan.FromMinutes(1));
        DateTimeOffset secondEnd = firstEnd;
        for (int i = 0; i < 100 && secondEnd == firstEnd; i++)
        {
            await Task.Delay(50);
            secondEnd = Assert.Single(await AlertsNamedAsync(rule)).GetProperty("endsAt").GetDateTimeOffset();
        }

        Assert.Equal(firstEnd.AddMinutes(1), secondEnd);
    }

    [Fact]
    public async Task SendAsync_WrongPath_ThrowsNamingTheEndpointAndStatus()
    {
        using var sink = new AlertmanagerAlertSink(new Uri(_alertmanager.BaseUrl, "nothing-here/"), TimeSpan.Zero);
        var ex = await Assert.ThrowsAsync<HttpRequestException>(() => sink.SendAsync(Notification("X", AlertState.Firing, DateTimeOffset.UtcNow), CancellationToken.None));
        Assert.Contains("nothing-here/api/v2/alerts", ex.Message, StringComparison.Ordinal);
        Assert.Contains("404", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_RelativeUrl_ThrowsNamingTheUrl()
    {
        var ex = Assert.Throws<ArgumentException>(() => new AlertmanagerAlertSink(new Uri("alertmanager:9093", UriKind.RelativeOrAbsolute), TimeSpan.Zero));
        Assert.Contains("alertmanager:9093", ex.Message, StringComparison.Ordinal);
    }
}

public sealed class WebhookAlertSinkTests
{
    [Fact]
    public async Task SendAsync_Firing_PostsAlertmanagerWebhookShapedJson()
    {
        int port = AlertmanagerFixture.FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/hook/");
        listener.Start();
        Task<string> received = Task.Run(async () =>
        {
            HttpListenerContext context = await listener.GetContextAsync();
            using var reader = new StreamReader(context.Request.InputStream);
            string body = await reader.ReadToEndAsync();
            Assert.Equal("application/json", context.Request.ContentType);
            context.Response.StatusCode = 200;
            context.Response.Close();
            return body;
        });

        using var sink = new WebhookAlertSink(new Uri($"http://127.0.0.1:{port}/hook/"));
        var notification = new AlertNotification
        {
            RuleName = "Drift",
            State = AlertState.Firing,
            ModelName = "m",
            ModelVersion = 1,
            Value = 1,
            Threshold = 1,
            Labels = new Dictionary<string, string> { ["alertname"] = "Drift" },
            Annotations = new Dictionary<string, string> { ["summary"] = "s" },
            StartsAt = DateTimeOffset.UnixEpoch,
        };
        await sink.SendAsync(notification, CancellationToken.None);
        JsonElement root = JsonDocument.Parse(await received).RootElement;
        Assert.Equal("4", root.GetProperty("version").GetString());
        Assert.Equal("firing", root.GetProperty("status").GetString());
        Assert.Equal("Drift", root.GetProperty("alerts")[0].GetProperty("labels").GetProperty("alertname").GetString());
        Assert.Equal("1970-01-01T00:00:00.0000000Z", root.GetProperty("alerts")[0].GetProperty("startsAt").GetString());
    }
}

public sealed class PrometheusRulesFileTests
{
    [Fact]
    public async Task ExampleRulesFile_PassesPromtoolCheckRules()
    {
        string file = Path.Combine(AppContext.BaseDirectory, "modelkit-monitoring.rules.yml");
        Assert.True(File.Exists("/usr/bin/promtool"), "promtool is missing; run 'bash eng/setup.sh' (it installs Debian's prometheus).");
        var start = new ProcessStartInfo("/usr/bin/promtool") { ArgumentList = { "check", "rules", file }, RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, output);
        Assert.Contains("SUCCESS: 4 rules found", output, StringComparison.Ordinal);
    }
}
