using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>ModelKit's own management endpoints under <c>/modelkit/v1</c>: registry and pool operations.</summary>
internal static class ManagementEndpoints
{
    public static async Task<IResult> ListModels(IModelRegistry registry, CancellationToken cancellationToken) =>
        Results.Json(new ModelListBody(await registry.ListModelsAsync(cancellationToken)), EndpointsJsonContext.Default.ModelListBody);

    public static Task<IResult> GetModel(string name, IModelRegistry registry, CancellationToken cancellationToken) =>
        Guard("show", name, async () =>
        {
            IReadOnlyList<ModelVersion> versions = await registry.ListVersionsAsync(ValidName(name), cancellationToken);
            if (versions.Count == 0)
            {
                throw new InferenceProtocolException(404, $"No model named '{name}' is registered; GET /modelkit/v1/models lists the registered models.");
            }
            IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(name, cancellationToken);
            return Results.Json(
                new ModelSummaryBody(name, [.. versions.Select(v => new VersionSummaryBody(v.Version, v.Digest, v.SizeBytes, v.CreatedAt, v.Description))], aliases),
                EndpointsJsonContext.Default.ModelSummaryBody);
        });

    public static Task<IResult> GetVersion(string name, string version, InferenceEndpointHandler handler, CancellationToken cancellationToken) =>
        Guard("show", name, async () =>
        {
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, cancellationToken);
            ModelVersion resolved = await handler.Registry.ResolveAsync(reference, cancellationToken);
            IReadOnlyDictionary<string, int> aliases = await handler.Registry.GetAliasesAsync(name, cancellationToken);
            return Results.Json(VersionBody.From(resolved, aliases), EndpointsJsonContext.Default.VersionBody);
        });

    public static Task<IResult> Register(HttpContext context, string name, InferenceEndpointHandler handler, ILoggerFactory loggers) =>
        Guard("register", name, async () =>
        {
            ValidName(name);
            IQueryCollection query = context.Request.Query;
            string? alias = query["alias"];
            if (alias is not null && !ModelName.IsValid(alias))
            {
                throw InferenceProtocolException.BadRequest($"Alias '{InferenceEndpointHandler.Shorten(alias)}' is not valid: aliases match [a-z0-9][a-z0-9._-]*.");
            }

            long max = handler.Options.MaxUploadBytes;
            if (context.Request.ContentLength > max)
            {
                throw new InferenceProtocolException(413, string.Create(CultureInfo.InvariantCulture, $"The model file is {context.Request.ContentLength} bytes, more than the {max} this server accepts (InferenceEndpointsOptions.MaxUploadBytes)."));
            }

            IHttpMaxRequestBodySizeFeature? sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (sizeFeature is { IsReadOnly: false })
            {
                sizeFeature.MaxRequestBodySize = max;
            }

            var registration = new ModelRegistration(name)
            {
                Tags = ParsePairs(query["tag"], "tag", s => s),
                Metrics = ParsePairs(query["metric"], "metric", s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                    ? d
                    : throw InferenceProtocolException.BadRequest($"Metric value '{InferenceEndpointHandler.Shorten(s)}' is not a finite number; write it like 0.91.")),
                Description = query["description"],
            };
            using var limited = new LimitedReadStream(context.Request.Body, max);
            ModelVersion version = await handler.Registry.RegisterAsync(registration, limited, context.RequestAborted);
            if (alias is not null)
            {
                await handler.Registry.SetAliasAsync(name, alias, version.Version, context.RequestAborted);
            }

            LogAction(loggers, context, "register", () => $"{name}/{version.Version}");
            IReadOnlyDictionary<string, int> aliases = await handler.Registry.GetAliasesAsync(name, context.RequestAborted);
            return Results.Json(VersionBody.From(version, aliases), EndpointsJsonContext.Default.VersionBody, statusCode: 201);
        });

    public static Task<IResult> SetAlias(HttpContext context, string name, string alias, IModelRegistry registry, ILoggerFactory loggers) =>
        Guard("alias", name, async () =>
        {
            SetAliasBody? body;
            try
            {
                body = await JsonSerializer.DeserializeAsync(context.Request.Body, EndpointsJsonContext.Default.SetAliasBody, context.RequestAborted);
            }
            catch (JsonException ex)
            {
                throw InferenceProtocolException.BadRequest($"The body must be {{\"version\": N}}, optionally with \"expected_version\": M: {ex.Message}");
            }

            ValidName(name);
            if (!ModelName.IsValid(alias))
            {
                throw InferenceProtocolException.BadRequest($"Alias '{InferenceEndpointHandler.Shorten(alias)}' is not valid: aliases match [a-z0-9][a-z0-9._-]*.");
            }

            if (body is null || body.Version < 1)
            {
                throw InferenceProtocolException.BadRequest("The body must be {\"version\": N} with N ≥ 1, optionally with \"expected_version\": M to move the alias only when it points at M now.");
            }

            AliasSetOutcome outcome = await AliasCompareAndSetSeam.SetAliasAsync(registry, name, alias, body.Version, body.ExpectedVersion, context.RequestAborted);
            if (outcome.Conflict)
            {
                string now = outcome.CurrentVersion is int c ? string.Create(CultureInfo.InvariantCulture, $"version {c}") : "no version (the alias does not exist)";
                return Results.Json(
                    new AliasConflictBody($"Alias '{alias}' of model '{name}' points at {now}, not at the expected version {body.ExpectedVersion}; read it again and retry.", name, alias, outcome.CurrentVersion, body.ExpectedVersion),
                    EndpointsJsonContext.Default.AliasConflictBody,
                    statusCode: 409);
            }

            LogAction(loggers, context, "alias", () => $"{name}@{alias} -> {body.Version}");
            return Results.Json(new AliasBody(name, alias, body.Version, outcome.CurrentVersion), EndpointsJsonContext.Default.AliasBody);
        });

    public static Task<IResult> AliasHistory(string name, string alias, IModelRegistry registry, CancellationToken cancellationToken) =>
        Guard("alias history", name, async () =>
        {
            ValidName(name);
            IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(name, cancellationToken);
            if (!aliases.ContainsKey(alias))
            {
                throw new InferenceProtocolException(404, $"Model '{name}' has no alias '{InferenceEndpointHandler.Shorten(alias)}'; its aliases are: {(aliases.Count == 0 ? "none" : string.Join(", ", aliases.Keys))}.");
            }

            IReadOnlyList<AliasHistoryEntry>? history = await AliasCompareAndSetSeam.GetHistoryAsync(registry, name, alias, cancellationToken);
            if (history is null)
            {
                throw new InferenceProtocolException(501, $"The registry in use ({registry.GetType().Name}) does not expose alias history yet.");
            }

            return Results.Json(
                new AliasHistoryBody(name, alias, [.. history.Select(h => new AliasHistoryEntryBody(h.OldVersion, h.NewVersion, h.ChangedAt, h.ChangedBy, h.Reason))]),
                EndpointsJsonContext.Default.AliasHistoryBody);
        });

    public static IResult Loaded(IInferenceSessionPool pool) =>
        Results.Json(new LoadedModelsBody([.. pool.GetLoadedModels().Select(ToBody)]), EndpointsJsonContext.Default.LoadedModelsBody);

    public static Task<IResult> Load(HttpContext context, string name, string? version, InferenceEndpointHandler handler, ILoggerFactory loggers) =>
        Guard("load", name, async () =>
        {
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, context.RequestAborted);
            using IInferenceSessionLease lease = await handler.Pool.AcquireAsync(reference, context.RequestAborted);
            LogAction(loggers, context, "load", () => reference.ToString());
            return Results.Json(new LoadedModelBody(reference.ToString(), lease.Version.Name, lease.Version.Version, lease.ExecutionProvider, lease.Version.SizeBytes, DateTimeOffset.UtcNow), EndpointsJsonContext.Default.LoadedModelBody);
        });

    public static Task<IResult> Unload(HttpContext context, string name, string? version, InferenceEndpointHandler handler, ILoggerFactory loggers) =>
        Guard("unload", name, async () =>
        {
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, context.RequestAborted);
            if (handler.Pool is not OnnxRuntimeSessionPool pool)
            {
                throw new InferenceProtocolException(501, $"The session pool in use ({handler.Pool.GetType().Name}) cannot unload models on request.");
            }

            if (!pool.Unload(reference))
            {
                throw new InferenceProtocolException(404, $"'{reference}' is not loaded; GET /modelkit/v1/loaded lists what is.");
            }

            LogAction(loggers, context, "unload", () => reference.ToString());
            return Results.NoContent();
        });

    public static Task<IResult> Reload(HttpContext context, string name, string? version, InferenceEndpointHandler handler, ILoggerFactory loggers) =>
        Guard("reload", name, async () =>
        {
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, context.RequestAborted);
            ModelVersion serving = await handler.Pool.ReloadAsync(reference, context.RequestAborted);
            LogAction(loggers, context, "reload", () => reference.ToString());
            return Results.Json(new LoadedModelBody(reference.ToString(), serving.Name, serving.Version, "", serving.SizeBytes, DateTimeOffset.UtcNow), EndpointsJsonContext.Default.LoadedModelBody);
        });

    private static LoadedModelBody ToBody(LoadedModel m) => new(m.Reference, m.Version.Name, m.Version.Version, m.ExecutionProvider, m.SizeBytes, m.LastUsed);

    private static string ValidName(string name) =>
        ModelName.IsValid(name) ? name : throw InferenceProtocolException.BadRequest($"Model name '{InferenceEndpointHandler.Shorten(name)}' is not valid: names match [a-z0-9][a-z0-9._-]* (at most {ModelName.MaxLength} characters).");

    private static void LogAction(ILoggerFactory loggers, HttpContext context, string action, Func<string> target)
    {
        ILogger logger = loggers.CreateLogger(typeof(ManagementEndpoints));
        if (logger.IsEnabled(LogLevel.Information))
        {
            string what = target();
            string who = User(context);
            EndpointsLog.ManagementAction(logger, action, what, who);
        }
    }

    private static string User(HttpContext context) => context.User.Identity?.Name ?? (context.User.Identity?.IsAuthenticated == true ? "an authenticated caller" : "an anonymous caller");

    private static Dictionary<string, T> ParsePairs<T>(Microsoft.Extensions.Primitives.StringValues values, string what, Func<string, T> parse)
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (string? pair in values)
        {
            int eq = pair?.IndexOf('=', StringComparison.Ordinal) ?? -1;
            if (pair is null || eq <= 0)
            {
                throw InferenceProtocolException.BadRequest($"The {what} '{InferenceEndpointHandler.Shorten(pair ?? "")}' is not key=value.");
            }

            result[pair[..eq]] = parse(pair[(eq + 1)..]);
        }

        return result;
    }

    private static async Task<IResult> Guard(string action, string name, Func<Task<IResult>> body)
    {
        try
        {
            return await body();
        }
        catch (InferenceProtocolException ex)
        {
            return OipRestEndpoints.Error(ex.StatusCode, ex.Message);
        }
        catch (ModelNotFoundException ex)
        {
            return OipRestEndpoints.Error(404, ex.Message);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidModelException or InvalidDataException)
        {
            return OipRestEndpoints.Error(400, ex.Message);
        }
        catch (UploadTooLargeException ex)
        {
            return OipRestEndpoints.Error(413, ex.Message);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex)
        {
            return OipRestEndpoints.Error(ex.StatusCode, ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            return OipRestEndpoints.Error(409, ex.Message);
        }
        catch (ModelKitException ex)
        {
            return OipRestEndpoints.Error(422, $"{action} {name} failed: {ex.Message}");
        }
    }

    /// <summary>Thrown by <see cref="LimitedReadStream"/> when the upload passes the limit; nothing is stored.</summary>
    private sealed class UploadTooLargeException(long limit)
        : Exception(string.Create(CultureInfo.InvariantCulture, $"The model file is larger than the {limit} bytes this server accepts (InferenceEndpointsOptions.MaxUploadBytes); nothing was stored."));

    /// <summary>A forward-only view of the request body that fails once more than the limit is read.</summary>
    private sealed class LimitedReadStream(Stream inner, long limit) : Stream
    {
        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override void Flush() { }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int Count(int n)
        {
            _read += n;
            return _read > limit ? throw new UploadTooLargeException(limit) : n;
        }
    }
}
