using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit.Diagnostics;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>Model metadata in protocol terms.</summary>
internal sealed record OipModelMetadata(string Name, IReadOnlyList<string> Versions, IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs);

/// <summary>
/// What the REST and gRPC endpoints share: version strings to references (digits name a version, anything else an
/// alias, nothing the default alias or the latest version), inference through the session pool, readiness, metadata and
/// the mapping of failures to HTTP statuses (the gRPC layer maps those on).
/// </summary>
internal sealed class InferenceEndpointHandler
{
    public const string MeterName = "ModelKit.Serving.AspNetCore";

    private readonly IInferenceSessionPool _pool;
    private readonly IModelRegistry _registry;
    private readonly InferenceEndpointsOptions _options;
    private readonly ModelReadiness _readiness;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, (ModelReference Reference, long Expires)> _defaults = new(StringComparer.Ordinal);
    private readonly Counter<long> _requests;

    public InferenceEndpointHandler(
        IInferenceSessionPool pool,
        IModelRegistry registry,
        IOptions<InferenceEndpointsOptions> options,
        ModelReadiness readiness,
        TimeProvider time,
        ILogger<InferenceEndpointHandler> logger,
        IMeterFactory? meterFactory = null)
    {
        _pool = pool;
        _registry = registry;
        _options = options.Value;
        _readiness = readiness;
        _time = time;
        _logger = logger;
        Meter meter = ModelKitTelemetryHelpers.CreateMeter(meterFactory, MeterName, out _);
        _requests = meter.CreateCounter<long>("modelkit.endpoints.requests", "{request}", "Inference requests answered by the Open Inference Protocol endpoints, by protocol and status code.");
        Limits = new OipLimits(_options.MaxElementCount, _options.MaxInputCount, _options.MaxStringBytes);
    }

    public InferenceEndpointsOptions Options => _options;

    public OipLimits Limits { get; }

    public IModelRegistry Registry => _registry;

    public IInferenceSessionPool Pool => _pool;

    public bool IsServerReady => _readiness.IsReady;

    public string ReadinessText => _readiness.Describe();

    /// <summary>Turns a model name and an optional version string into a reference.</summary>
    public async ValueTask<ModelReference> ResolveReferenceAsync(string name, string? version, CancellationToken cancellationToken)
    {
        if (!ModelName.IsValid(name))
        {
            throw new InferenceProtocolException(404, $"No model named '{Shorten(name)}': model names match [a-z0-9][a-z0-9._-]* (at most {ModelName.MaxLength} characters). List the registered models with GET /modelkit/v1/models.");
        }

        if (!string.IsNullOrEmpty(version))
        {
            if (version.All(char.IsAsciiDigit))
            {
                return int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out int number) && number >= 1
                    ? ModelReference.ForVersion(name, number)
                    : throw new InferenceProtocolException(404, $"Model '{name}' has no version '{Shorten(version)}': versions are numbered from 1.");
            }

            return ModelName.IsValid(version)
                ? ModelReference.ForAlias(name, version)
                : throw new InferenceProtocolException(404, $"Model '{name}' has no version or alias '{Shorten(version)}': a version is a number, an alias matches [a-z0-9][a-z0-9._-]*.");
        }

        long now = _time.GetTimestamp();
        if (_defaults.TryGetValue(name, out var cached) && now < cached.Expires)
        {
            return cached.Reference;
        }

        IReadOnlyDictionary<string, int> aliases = await _registry.GetAliasesAsync(name, cancellationToken).ConfigureAwait(false);
        ModelReference reference = aliases.ContainsKey(_options.DefaultAlias) ? ModelReference.ForAlias(name, _options.DefaultAlias) : ModelReference.Latest(name);
        _defaults[name] = (reference, now + (long)(_options.DefaultAliasCacheDuration.TotalSeconds * _time.TimestampFrequency));
        return reference;
    }

    public async Task<InferenceResult> InferAsync(ModelReference reference, OipInferenceRequest request, DateTimeOffset? callDeadline, CancellationToken cancellationToken)
    {
        if (!_options.LoadOnDemand && !await IsLoadedAsync(reference, cancellationToken).ConfigureAwait(false))
        {
            throw new InferenceProtocolException(503, $"Model '{reference}' is not loaded and this server loads models only at start or through the management 'load' endpoint; load it, or retry once it is ready.");
        }

        DateTimeOffset? deadline = callDeadline;
        if (request.TimeoutMicroseconds is long micros)
        {
            DateTimeOffset fromTimeout = _time.GetUtcNow() + TimeSpan.FromMicroseconds(Math.Min(micros, (long)TimeSpan.FromDays(1).TotalMicroseconds));
            deadline = deadline is null || fromTimeout < deadline ? fromTimeout : deadline;
        }
        else if (deadline is null && _options.DefaultRequestTimeout is TimeSpan timeout)
        {
            deadline = _time.GetUtcNow() + timeout;
        }

        var runOptions = deadline is null && request.Priority == InferencePriority.Normal ? null : new InferenceRequestOptions { Deadline = deadline, Priority = request.Priority };
        return await _pool.RunAsync(reference, request.Inputs, runOptions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the version <paramref name="reference"/> names now is loaded in the pool.</summary>
    public async Task<bool> IsLoadedAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        ModelVersion version = await _registry.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        foreach (LoadedModel loaded in _pool.GetLoadedModels())
        {
            if (loaded.Version.Name == version.Name && loaded.Version.Version == version.Version)
            {
                return true;
            }
        }

        return false;
    }

    public async Task<OipModelMetadata> GetMetadataAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        ModelVersion version = await _registry.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<ModelVersion> versions = await _registry.ListVersionsAsync(reference.Name, cancellationToken).ConfigureAwait(false);
        var names = new string[versions.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = versions[i].Version.ToString(CultureInfo.InvariantCulture);
        }

        return new OipModelMetadata(version.Name, names, version.Signature.Inputs, version.Signature.Outputs);
    }

    /// <summary>Picks the outputs to return (all, in signature order, or the requested ones) and whether each goes back binary.</summary>
    public static (List<NamedTensor> Outputs, bool[] Binary) SelectOutputs(string model, InferenceResult result, OipInferenceRequest request)
    {
        if (request.Outputs is null || request.Outputs.Count == 0)
        {
            var all = new List<NamedTensor>(result.Outputs);
            var binary = new bool[all.Count];
            Array.Fill(binary, request.BinaryDataOutput);
            return (all, binary);
        }

        var selected = new List<NamedTensor>(request.Outputs.Count);
        var flags = new bool[request.Outputs.Count];
        for (int i = 0; i < request.Outputs.Count; i++)
        {
            OipRequestedOutput wanted = request.Outputs[i];
            NamedTensor? match = null;
            foreach (NamedTensor output in result.Outputs)
            {
                if (output.Name == wanted.Name)
                {
                    match = output;
                    break;
                }
            }

            selected.Add(match ?? throw InferenceProtocolException.BadRequest(
                $"Model '{model}' has no output '{Shorten(wanted.Name)}'; its outputs are: {string.Join(", ", result.Outputs.Select(o => o.Name))}."));
            flags[i] = wanted.Binary || request.BinaryDataOutput;
        }

        return (selected, flags);
    }

    /// <summary>Maps a failure to an HTTP status and the message to send; logs server-side failures.</summary>
    public (int Status, string Message) Classify(Exception exception, string protocol, string model)
    {
        (int status, string message) = exception switch
        {
            InferenceProtocolException p => (p.StatusCode, p.Message),
            InferenceInputException e => (400, e.Message),
            ArgumentException e => (400, e.Message),
            FormatException e => (400, e.Message),
            ModelNotFoundException e => (404, e.Message),
            InferenceQueueFullException e => (429, e.Message),
            InferenceTimeoutException e => (504, e.Message),
            OperationCanceledException => (499, "The request was cancelled."),
            ObjectDisposedException => (503, "The server is shutting down; retry on another replica."),
            _ => (500, $"The server failed to run the request ({exception.GetType().Name}); the error is in the server's log."),
        };

        if (status >= 500 && status != 503 && status != 504)
        {
            EndpointsLog.InferenceFailed(_logger, exception, protocol, model);
        }

        return (status, message);
    }

    public void CountRequest(string protocol, int status)
    {
        if (_requests.Enabled)
        {
            _requests.Add(1, new KeyValuePair<string, object?>("rpc.system", protocol), new KeyValuePair<string, object?>("http.response.status_code", status));
        }
    }

    public static string Shorten(string text) => text.Length > 64 ? text[..64] + "…" : text;
}
