using System.Net;
using System.Text.Json;

namespace ModelKit.Monitoring.AspNetCore.Tests;

public sealed class MonitoringEndpointsTests(MonitoringApiFactory factory) : IClassFixture<MonitoringApiFactory>
{
    public static TheoryData<string, string> EveryMonitoringEndpoint => new()
    {
        { "GET", "/modelkit/v1/monitoring/models" },
        { "GET", "/modelkit/v1/monitoring/models/clf" },
        { "GET", "/modelkit/v1/monitoring/models/clf/versions/1" },
        { "POST", "/modelkit/v1/monitoring/labels" },
        { "POST", "/modelkit/v1/monitoring/labels/batch" },
    };

    [Theory]
    [MemberData(nameof(EveryMonitoringEndpoint))]
    public async Task Anonymous_Returns401(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "GET" ? null : Http.Json("""{"request_id": "x", "label": 1}""") };
        HttpResponseMessage response = await factory.CreateClient().SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task WrongApiKey_Returns401_RightOne200()
    {
        HttpClient wrong = factory.CreateClient();
        wrong.DefaultRequestHeaders.Add("X-Api-Key", "not-the-key");
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync("/modelkit/v1/monitoring/models")).StatusCode);
        HttpResponseMessage ok = await factory.CreateManagementClient().GetAsync("/modelkit/v1/monitoring/models");
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(JsonValueKind.Array, (await ok.ReadJsonAsync()).GetProperty("versions").ValueKind);
    }

    [Fact]
    public async Task ServedTraffic_ShowsProfileWindowsDriftAndAlerts_ThenLabelsJoinTheCapturedPredictions()
    {
        await factory.SeedAsync();
        HttpClient client = factory.CreateManagementClient();

        // 20 requests build the baseline profile, 40 more close two windows of 20 (one of them shifted).
        await factory.InferAsync("base", MonitoringApiFactory.BaselineSize, seed: 1);
        await factory.InferAsync("calm", MonitoringApiFactory.WindowSize, seed: 2);
        int[] predicted = await factory.InferAsync("shifted", MonitoringApiFactory.WindowSize, seed: 3, shift: 4);

        JsonElement list = await (await client.GetAsync("/modelkit/v1/monitoring/models")).ReadJsonAsync();
        JsonElement summary = list.GetProperty("versions").EnumerateArray().Single(v => v.GetProperty("model").GetString() == "clf");
        Assert.Equal(1, summary.GetProperty("version").GetInt32());
        Assert.Equal("baseline", summary.GetProperty("profile_source").GetString());
        Assert.Equal(MonitoringApiFactory.BaselineSize, summary.GetProperty("profile_rows").GetInt64());
        Assert.Equal(2, summary.GetProperty("windows_closed").GetInt64());
        Assert.Equal(60, summary.GetProperty("observed_requests").GetInt64());
        Assert.Equal(0, list.GetProperty("dropped_observations").GetInt64());

        // The alias resolves through the registry to the same version as its number.
        JsonElement byAlias = await (await client.GetAsync("/modelkit/v1/monitoring/models/clf/versions/production")).ReadJsonAsync();
        JsonElement detail = await (await client.GetAsync("/modelkit/v1/monitoring/models/clf/versions/1")).ReadJsonAsync();
        Assert.Equal(detail.GetProperty("observed_requests").GetInt64(), byAlias.GetProperty("observed_requests").GetInt64());
        string[] profileFeatures = [.. detail.GetProperty("profile").GetProperty("features").EnumerateArray().Select(f => f.GetProperty("name").GetString()!)];
        Assert.Equal(["x[0]", "x[1]", "x[2]", "logits.class", "logits.confidence"], profileFeatures);
        Assert.Equal(3, detail.GetProperty("current_window").GetProperty("index").GetInt64());
        Assert.Equal(0, detail.GetProperty("current_window").GetProperty("rows").GetInt64());

        // The shifted window (x[0] + 4) drifts on x[0]; every feature carries its statistics, NaN written as null.
        JsonElement last = detail.GetProperty("last_window");
        Assert.Equal(2, last.GetProperty("index").GetInt64());
        JsonElement x0 = last.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("feature").GetString() == "x[0]");
        Assert.True(x0.GetProperty("drifted").GetBoolean());
        Assert.True(x0.GetProperty("ks_statistic").GetDouble() > 0.5);
        Assert.Equal(JsonValueKind.Null, x0.GetProperty("chi2").ValueKind);
        JsonElement classes = last.GetProperty("features").EnumerateArray().Single(f => f.GetProperty("feature").GetString() == "logits.class");
        Assert.Equal("categorical", classes.GetProperty("kind").GetString());
        Assert.True(classes.GetProperty("chi2").GetDouble() > 0);
        JsonElement rule = detail.GetProperty("alerts").EnumerateArray().Single();
        Assert.Equal("ClassMixDrift", rule.GetProperty("rule").GetString());
        Assert.Equal("firing", rule.GetProperty("state").GetString());
        Assert.Equal(last.GetProperty("drift_share").GetDouble(), rule.GetProperty("last_value").GetDouble());
        Assert.Equal(["ClassMixDrift"], (await (await client.GetAsync("/modelkit/v1/monitoring/models")).ReadJsonAsync())
            .GetProperty("versions")[0].GetProperty("firing_alerts").EnumerateArray().Select(e => e.GetString()!).ToArray());

        // Labels for the next window: one right, one wrong, joined by the requests' ids.
        int[] next = await factory.InferAsync("labelled", MonitoringApiFactory.WindowSize, seed: 4);
        HttpResponseMessage joined = await client.PostAsync("/modelkit/v1/monitoring/labels", Http.Json($$"""{"request_id": "labelled-0", "label": {{next[0]}}}"""));
        Assert.Equal(HttpStatusCode.OK, joined.StatusCode);
        Assert.Equal("joined", (await joined.ReadJsonAsync()).GetProperty("outcome").GetString());
        HttpResponseMessage again = await client.PostAsync("/modelkit/v1/monitoring/labels", Http.Json("""{"request_id": "labelled-0", "label": 1}"""));
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
        Assert.Contains("'labelled-0'", await again.ErrorAsync(), StringComparison.Ordinal);
        JsonElement batch = await (await client.PostAsync("/modelkit/v1/monitoring/labels/batch", Http.Json($$"""{"labels": [{"request_id": "labelled-1", "label": {{(next[1] + 1) % 4}}}, {"request_id": "never-served", "label": 0}]}"""))).ReadJsonAsync();
        Assert.Equal(1, batch.GetProperty("joined").GetInt32());
        Assert.Equal(["never-served"], batch.GetProperty("unknown").EnumerateArray().Select(e => e.GetString()!).ToArray());

        // The window that holds them closes with the measured accuracy of the two labels: one of two right.
        await factory.InferAsync("after", MonitoringApiFactory.WindowSize, seed: 5);
        JsonElement labelledWindow = (await (await client.GetAsync("/modelkit/v1/monitoring/models/clf")).ReadJsonAsync())
            .GetProperty("versions")[0].GetProperty("recent_windows").EnumerateArray().Single(w => w.GetProperty("index").GetInt64() == 4);
        Assert.Equal(2, labelledWindow.GetProperty("performance").GetProperty("labelled_count").GetInt64());
        Assert.Equal(0.5, labelledWindow.GetProperty("performance").GetProperty("accuracy").GetDouble());
        Assert.Equal(predicted.Length, labelledWindow.GetProperty("rows").GetInt64());

        // The capture holds each label next to the prediction of the same request id.
        string[] lines = [.. Directory.GetFiles(factory.CaptureDirectory, "*.jsonl").SelectMany(File.ReadLines)];
        JsonElement[] records = [.. lines.Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        JsonElement prediction = records.Single(r => r.GetProperty("kind").GetString() == "prediction" && r.GetProperty("requestId").GetString() == "labelled-0");
        JsonElement label = records.Single(r => r.GetProperty("kind").GetString() == "label" && r.GetProperty("requestId").GetString() == "labelled-0");
        Assert.Equal("clf", prediction.GetProperty("model").GetString());
        Assert.Equal(next[0], label.GetProperty("label").GetDouble());
    }

    [Theory]
    [InlineData("not json", "not a label")]
    [InlineData("""{"label": 2}""", "no \"request_id\"")]
    [InlineData("""{"request_id": "r"}""", "no \"label\"")]
    [InlineData("""{"request_id": "r", "label": "cat"}""", "not a label")]
    public async Task PostLabel_BadBody_Returns400NamingTheProblem(string body, string expected)
    {
        HttpResponseMessage response = await factory.CreateManagementClient().PostAsync("/modelkit/v1/monitoring/labels", Http.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostLabel_UnknownRequestId_Returns404SayingWhy()
    {
        HttpResponseMessage response = await factory.CreateManagementClient().PostAsync("/modelkit/v1/monitoring/labels", Http.Json("""{"request_id": "no-such-request", "label": 1}"""));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        string error = await response.ErrorAsync();
        Assert.Contains("'no-such-request'", error, StringComparison.Ordinal);
        Assert.Contains("MaxPendingLabels", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"labels": []}""", "empty")]
    [InlineData("""{}""", "no \"labels\"")]
    [InlineData("""{"labels": [{"request_id": "a", "label": 1}, {"label": 1}]}""", "Label 1 of the batch has no \"request_id\"")]
    public async Task PostLabels_BadBatch_Returns400(string body, string expected)
    {
        HttpResponseMessage response = await factory.CreateManagementClient().PostAsync("/modelkit/v1/monitoring/labels/batch", Http.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostLabels_TooManyLabels_Returns400()
    {
        string body = "{\"labels\": [" + string.Join(", ", Enumerable.Range(0, 10_001).Select(i => $$"""{"request_id": "r{{i}}", "label": 1}""")) + "]}";
        HttpResponseMessage response = await factory.CreateManagementClient().PostAsync("/modelkit/v1/monitoring/labels/batch", Http.Json(body));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("10001 labels, more than the 10000", await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/modelkit/v1/monitoring/models/Not_Valid", 400, "is not valid")]
    [InlineData("/modelkit/v1/monitoring/models/never-served", 404, "'never-served' is not monitored")]
    [InlineData("/modelkit/v1/monitoring/models/never-served/versions/7", 404, "'never-served/7' is not monitored")]
    [InlineData("/modelkit/v1/monitoring/models/clf/versions/0", 400, "not a version number from 1")]
    [InlineData("/modelkit/v1/monitoring/models/clf/versions/No!", 400, "neither a version number nor an alias")]
    [InlineData("/modelkit/v1/monitoring/models/clf/versions/no-such-alias", 404, "no-such-alias")]
    public async Task GetState_BadOrUnknownModel_ReturnsClearError(string path, int status, string expected)
    {
        await factory.SeedAsync();
        HttpResponseMessage response = await factory.CreateManagementClient().GetAsync(path);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Contains(expected, await response.ErrorAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenApiDocument_DescribesTheMonitoringEndpoints()
    {
        JsonElement document = await (await factory.CreateClient().GetAsync("/openapi/v1.json")).ReadJsonAsync();
        JsonElement paths = document.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/modelkit/v1/monitoring/models/{name}/versions/{version}", out JsonElement version));
        Assert.True(version.GetProperty("get").GetProperty("responses").TryGetProperty("404", out _));
        Assert.True(paths.GetProperty("/modelkit/v1/monitoring/labels").GetProperty("post").TryGetProperty("requestBody", out _));
        Assert.True(paths.TryGetProperty("/modelkit/v1/monitoring/labels/batch", out _));
        Assert.True(paths.TryGetProperty("/modelkit/v1/monitoring/models", out _));
    }
}

/// <summary>An authenticated caller that the management policy refuses gets 403 from every monitoring endpoint.</summary>
public sealed class MonitoringAuthorizationTests(RoleRequiredFactory factory) : IClassFixture<RoleRequiredFactory>
{
    [Theory]
    [MemberData(nameof(MonitoringEndpointsTests.EveryMonitoringEndpoint), MemberType = typeof(MonitoringEndpointsTests))]
    public async Task AuthenticatedWithoutThePolicy_Returns403(string method, string path)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = method == "GET" ? null : Http.Json("""{"request_id": "x", "label": 1}""") };
        HttpResponseMessage response = await factory.CreateManagementClient().SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}
