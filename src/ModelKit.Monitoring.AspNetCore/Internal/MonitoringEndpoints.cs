using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Monitoring.AspNetCore.Internal;

/// <summary>The monitoring endpoints under <c>/modelkit/v1/monitoring</c>.</summary>
internal static class MonitoringEndpoints
{
    /// <summary>The most labels one batch may carry.</summary>
    public const int MaxBatchLabels = 10_000;

    /// <summary>The largest label body accepted, in bytes (a full batch of long request ids fits).</summary>
    public const long MaxLabelBodyBytes = 4 * 1024 * 1024;

    public static IResult ListMonitored(ModelMonitor monitor) =>
        Results.Json(
            new MonitoredModelsBody(monitor.DroppedCount, [.. monitor.GetState().Select(Bodies.Summary)]),
            MonitoringEndpointsJsonContext.Default.MonitoredModelsBody);

    public static IResult GetModel(string name, ModelMonitor monitor)
    {
        if (!ModelName.IsValid(name))
        {
            return InvalidName(name);
        }

        MonitoredVersionBody[] versions = [.. monitor.GetState().Where(s => s.ModelName == name).Select(s => Bodies.Detail(s, monitor.GetReferenceProfile(s.ModelName, s.ModelVersion)))];
        return versions.Length == 0
            ? NotMonitored(name, null, monitor)
            : Results.Json(new MonitoredModelBody(name, versions), MonitoringEndpointsJsonContext.Default.MonitoredModelBody);
    }

    public static async Task<IResult> GetVersion(string name, string version, ModelMonitor monitor, IServiceProvider services, CancellationToken cancellationToken)
    {
        if (!ModelName.IsValid(name))
        {
            return InvalidName(name);
        }

        int number;
        if (version.Length > 0 && version.All(char.IsAsciiDigit))
        {
            if (!int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number < 1)
            {
                return Error(400, $"Version '{Shorten(version)}' is not a version number from 1 to {int.MaxValue}; give a version number or an alias.");
            }
        }
        else if (ModelName.IsValid(version))
        {
            if (services.GetService<IModelRegistry>() is not IModelRegistry registry)
            {
                return Error(400, $"'{Shorten(version)}' is not a version number, and this host has no model registry to resolve it as an alias; give a version number.");
            }

            try
            {
                number = (await registry.ResolveAsync(ModelReference.Parse($"{name}@{version}"), cancellationToken)).Version;
            }
            catch (ModelNotFoundException ex)
            {
                return Error(404, ex.Message);
            }
        }
        else
        {
            return Error(400, $"Version '{Shorten(version)}' is neither a version number nor an alias (aliases match [a-z0-9][a-z0-9._-]*).");
        }

        MonitoredModelState? state = monitor.GetState().FirstOrDefault(s => s.ModelName == name && s.ModelVersion == number);
        return state is null
            ? NotMonitored(name, number, monitor)
            : Results.Json(Bodies.Detail(state, monitor.GetReferenceProfile(name, number)), MonitoringEndpointsJsonContext.Default.MonitoredVersionBody);
    }

    public static async Task<IResult> PostLabel(HttpContext context, ModelMonitor monitor, IOptions<MonitoringOptions> options)
    {
        LabelBody? body;
        try
        {
            LimitBody(context);
            body = await JsonSerializer.DeserializeAsync(context.Request.Body, MonitoringEndpointsJsonContext.Default.LabelBody, context.RequestAborted);
        }
        catch (JsonException ex)
        {
            return Error(400, $"The body is not a label: {ex.Message} Send {{\"request_id\": \"…\", \"label\": 3}}.");
        }
        catch (BadHttpRequestException ex)
        {
            return Error(ex.StatusCode, ex.Message);
        }

        if (Validate(body, null) is IResult invalid)
        {
            return invalid;
        }

        LabelJoinResult result = await monitor.PostLabelAsync(body!.RequestId!, body.Label!.Value, context.RequestAborted);
        return result == LabelJoinResult.Joined
            ? Results.Json(new LabelResultBody(body.RequestId!, "joined"), MonitoringEndpointsJsonContext.Default.LabelResultBody)
            : Error(404, UnknownRequest(body.RequestId!, options.Value));
    }

    public static async Task<IResult> PostLabels(HttpContext context, ModelMonitor monitor)
    {
        LabelBatchBody? body;
        try
        {
            LimitBody(context);
            body = await JsonSerializer.DeserializeAsync(context.Request.Body, MonitoringEndpointsJsonContext.Default.LabelBatchBody, context.RequestAborted);
        }
        catch (JsonException ex)
        {
            return Error(400, $"The body is not a label batch: {ex.Message} Send {{\"labels\": [{{\"request_id\": \"…\", \"label\": 3}}, …]}}.");
        }
        catch (BadHttpRequestException ex)
        {
            return Error(ex.StatusCode, ex.Message);
        }

        if (body?.Labels is not IReadOnlyList<LabelBody> labels || labels.Count == 0)
        {
            return Error(400, "The batch has no \"labels\" array, or it is empty; send {\"labels\": [{\"request_id\": \"…\", \"label\": 3}, …]}.");
        }

        if (labels.Count > MaxBatchLabels)
        {
            return Error(400, string.Create(CultureInfo.InvariantCulture, $"The batch has {labels.Count} labels, more than the {MaxBatchLabels} one request may carry; split it."));
        }

        for (int i = 0; i < labels.Count; i++)
        {
            if (Validate(labels[i], i) is IResult invalid)
            {
                return invalid;
            }
        }

        // Queued in order; the monitor joins them one after another on its processing loop.
        Task<LabelJoinResult>[] posted = [.. labels.Select(l => monitor.PostLabelAsync(l.RequestId!, l.Label!.Value, context.RequestAborted))];
        LabelJoinResult[] results = await Task.WhenAll(posted);
        var unknown = new List<string>();
        for (int i = 0; i < results.Length; i++)
        {
            if (results[i] != LabelJoinResult.Joined)
            {
                unknown.Add(labels[i].RequestId!);
            }
        }

        return Results.Json(new LabelBatchResultBody(results.Length - unknown.Count, unknown), MonitoringEndpointsJsonContext.Default.LabelBatchResultBody);
    }

    public static IResult Error(int status, string message) =>
        Results.Json(new ErrorBody(message), MonitoringEndpointsJsonContext.Default.ErrorBody, statusCode: status);

    private static IResult? Validate(LabelBody? label, int? index)
    {
        string where = index is int i ? string.Create(CultureInfo.InvariantCulture, $"Label {i} of the batch") : "The label";
        if (label is null)
        {
            return Error(400, $"{where} is null; send {{\"request_id\": \"…\", \"label\": 3}}.");
        }

        if (string.IsNullOrEmpty(label.RequestId))
        {
            return Error(400, $"{where} has no \"request_id\"; give the id the inference request was made with (its \"id\").");
        }

        if (label.RequestId.Length > 256)
        {
            return Error(400, string.Create(CultureInfo.InvariantCulture, $"{where} has a request_id of {label.RequestId.Length} characters, more than 256; request ids that long are never joined."));
        }

        if (label.Label is not double value)
        {
            return Error(400, $"{where} for request '{Shorten(label.RequestId)}' has no \"label\"; give the true class index (classifiers) or value (regression) as a number.");
        }

        return double.IsFinite(value)
            ? null
            : Error(400, $"{where} for request '{Shorten(label.RequestId)}' is {value.ToString(CultureInfo.InvariantCulture)}, not a finite number.");
    }

    private static void LimitBody(HttpContext context)
    {
        if (context.Request.ContentLength > MaxLabelBodyBytes)
        {
            throw new BadHttpRequestException(string.Create(CultureInfo.InvariantCulture, $"The label body is {context.Request.ContentLength} bytes, more than the {MaxLabelBodyBytes} this endpoint accepts; split the batch."), 413);
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = MaxLabelBodyBytes;
        }
    }

    private static string UnknownRequest(string requestId, MonitoringOptions options) => string.Create(
        CultureInfo.InvariantCulture,
        $"No prediction waits for request id '{Shorten(requestId)}': it was never served with that id, was not sampled (sampling rate {options.SamplingRate}), was already labelled, or was forgotten after {options.MaxPendingLabels} newer predictions (MonitoringOptions.MaxPendingLabels). Post labels for requests that carried an \"id\".");

    private static IResult NotMonitored(string name, int? version, ModelMonitor monitor)
    {
        string what = version is int v ? string.Create(CultureInfo.InvariantCulture, $"{name}/{v}") : name;
        string watched = string.Join(", ", monitor.GetState().Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.ModelName}/{s.ModelVersion}")));
        return Error(404, $"'{what}' is not monitored: no request to it has been observed yet (monitored now: {(watched.Length == 0 ? "none" : watched)}). GET /modelkit/v1/monitoring/models lists them.");
    }

    private static IResult InvalidName(string name) =>
        Error(400, $"Model name '{Shorten(name)}' is not valid: names match [a-z0-9][a-z0-9._-]* (at most {ModelName.MaxLength} characters).");

    private static string Shorten(string value) => value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "…");
}
