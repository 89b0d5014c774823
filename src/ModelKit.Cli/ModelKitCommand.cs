using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Serving.AspNetCore;

namespace ModelKit.Cli;

/// <summary>Exit codes of the modelkit command.</summary>
internal static class ExitCodes
{
    public const int Success = 0;
    public const int Usage = 1;
    public const int NotFound = 2;
    public const int Conflict = 3;
}

/// <summary>A failure with its exit code; the message is printed as one line on stderr.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// The <c>modelkit</c> command: register, list, show, alias set/history, serve, predict. The data directory comes from
/// <c>--data-dir</c>, else <c>MODELKIT_DATA_DIR</c>, else <c>./modelkit-data</c>. Exit codes: 0 success, 1 usage error,
/// 2 not found, 3 conflict, each failure with one line on stderr.
/// </summary>
internal static class ModelKitCommand
{
    public static async Task<int> InvokeAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "The ModelKit data directory (registry.db and blobs). Default: $MODELKIT_DATA_DIR, else ./modelkit-data.", Recursive = true };
        var registryPostgres = new Option<string?>("--registry-postgres") { Description = "Keep metadata in PostgreSQL (an Npgsql connection string) instead of registry.db. Default: $MODELKIT_REGISTRY_POSTGRES.", Recursive = true };
        var s3Bucket = new Option<string?>("--artifacts-s3-bucket") { Description = "Keep artifacts in this S3 bucket (path-style; credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the SDK's default chain). Default: $MODELKIT_ARTIFACTS_S3_BUCKET.", Recursive = true };
        var s3ServiceUrl = new Option<string?>("--artifacts-s3-service-url") { Description = "The S3-compatible server, for example http://127.0.0.1:9000; without it, AWS in $AWS_REGION (else us-east-1). Default: $MODELKIT_ARTIFACTS_S3_SERVICE_URL.", Recursive = true };
        var s3Prefix = new Option<string?>("--artifacts-s3-prefix") { Description = "The key prefix in the bucket, ending with /. Default: $MODELKIT_ARTIFACTS_S3_PREFIX, else modelkit/.", Recursive = true };
        var azureConnection = new Option<string?>("--artifacts-azure-connection-string") { Description = "Keep artifacts in Azure Blob Storage (or Azurite) with this connection string. Default: $MODELKIT_ARTIFACTS_AZURE_CONNECTION_STRING.", Recursive = true };
        var azureContainer = new Option<string?>("--artifacts-azure-container") { Description = "The blob container. Default: $MODELKIT_ARTIFACTS_AZURE_CONTAINER, else models.", Recursive = true };
        var root = new RootCommand("modelkit: register, version, alias, search, serve and query ONNX models.") { dataDir, registryPostgres, s3Bucket, s3ServiceUrl, s3Prefix, azureConnection, azureContainer };
        RegistrySettings Settings(ParseResult parse) => RegistrySettings.From(
            parse.GetValue(dataDir), parse.GetValue(registryPostgres), parse.GetValue(s3Bucket), parse.GetValue(s3ServiceUrl), parse.GetValue(s3Prefix), parse.GetValue(azureConnection), parse.GetValue(azureContainer));

        var registerName = new Argument<string>("NAME") { Description = "The model name, for example fashion-mnist." };
        var registerFile = new Argument<FileInfo>("FILE") { Description = "The ONNX model file." };
        var registerAlias = new Option<string?>("--alias") { Description = "Point this alias at the new version." };
        var registerTags = new Option<string[]>("--tag") { Description = "A tag, key=value; repeat for more.", AllowMultipleArgumentsPerToken = false };
        var registerMetrics = new Option<string[]>("--metric") { Description = "A metric, key=number; repeat for more." };
        var registerDescription = new Option<string?>("--description") { Description = "A description of the version." };
        var registerParent = new Option<int?>("--parent") { Description = "Lineage: the version of NAME this one was derived from (fine-tuned, compressed)." };
        var registerRun = new Option<string?>("--run-id") { Description = "Lineage: the training run that produced it." };
        var registerDataset = new Option<string?>("--dataset-digest") { Description = "Lineage: the digest of the data set it was trained on (sha256:…)." };
        var registerRecipe = new Option<string?>("--compression-recipe") { Description = "Lineage: the compression recipe applied, for example int8-dynamic." };
        var register = new Command("register", "Register FILE as the next version of NAME.") { registerName, registerFile, registerAlias, registerTags, registerMetrics, registerDescription, registerParent, registerRun, registerDataset, registerRecipe };
        register.SetAction((parse, ct) => Run(stderr, async () =>
        {
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            FileInfo file = parse.GetValue(registerFile)!;
            if (!file.Exists)
            {
                throw new CliException(ExitCodes.NotFound, $"File '{file.FullName}' does not exist.");
            }

            var registration = new ModelRegistration(parse.GetValue(registerName)!)
            {
                Tags = Pairs(parse.GetValue(registerTags), "--tag", s => s),
                Metrics = Pairs(parse.GetValue(registerMetrics), "--metric", s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                    ? d
                    : throw new CliException(ExitCodes.Usage, $"--metric value '{s}' is not a number; write it like accuracy=0.91.")),
                Description = parse.GetValue(registerDescription),
                Lineage = new ModelLineage
                {
                    ParentVersion = parse.GetValue(registerParent),
                    TrainingRunId = parse.GetValue(registerRun),
                    DatasetDigest = parse.GetValue(registerDataset),
                    CompressionRecipe = parse.GetValue(registerRecipe),
                },
            };
            await using FileStream content = file.OpenRead();
            ModelVersion version = await registry.RegisterAsync(registration, content, ct);
            string? alias = parse.GetValue(registerAlias);
            if (alias is not null)
            {
                await registry.SetAliasAsync(version.Name, alias, version.Version, ct);
            }

            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"registered {version.Name}/{version.Version} {version.Digest} {version.SizeBytes} bytes{(alias is null ? "" : $" alias {alias}")}"));
        }));

        var listName = new Argument<string?>("NAME") { Description = "List this model's versions; without it, list the models.", Arity = ArgumentArity.ZeroOrOne };
        var list = new Command("list", "List the registered models, or one model's versions and aliases.") { listName };
        list.SetAction((parse, ct) => Run(stderr, async () =>
        {
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            string? name = parse.GetValue(listName);
            if (name is null)
            {
                foreach (string model in await registry.ListModelsAsync(ct))
                {
                    IReadOnlyList<ModelVersion> versions = await registry.ListVersionsAsync(model, ct);
                    IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(model, ct);
                    await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{model}\t{versions.Count} versions\t{FormatAliases(aliases)}"));
                }

                return;
            }

            IReadOnlyList<ModelVersion> all = await registry.ListVersionsAsync(name, ct);
            if (all.Count == 0)
            {
                throw new CliException(ExitCodes.NotFound, $"No model named '{name}' is registered; 'modelkit list' lists the models.");
            }

            IReadOnlyDictionary<string, int> byAlias = await registry.GetAliasesAsync(name, ct);
            foreach (ModelVersion v in all)
            {
                string aliases = string.Join(",", byAlias.Where(a => a.Value == v.Version).Select(a => a.Key).Order(StringComparer.Ordinal));
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{v.Name}/{v.Version}\t{v.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}\t{v.Digest[..19]}…\t{v.SizeBytes} bytes\t{aliases}"));
            }
        }));

        var showRef = new Argument<string>("REF") { Description = "A model reference: name, name/3, name@production." };
        var show = new Command("show", "Show a version: signature, metrics, tags, lineage and aliases, as JSON.") { showRef };
        show.SetAction((parse, ct) => Run(stderr, async () =>
        {
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            ModelVersion version = await registry.ResolveAsync(ParseReference(parse.GetValue(showRef)!), ct);
            IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(version.Name, ct);
            string json = ManagementJson.SerializeVersion(version, aliases, writeIndented: true);
            await stdout.WriteLineAsync(json);
        }));

        var aliasName = new Argument<string>("NAME") { Description = "The model name." };
        var aliasAlias = new Argument<string>("ALIAS") { Description = "The alias, for example production." };
        var aliasVersion = new Argument<int>("VERSION") { Description = "The version the alias should point at." };
        var aliasExpect = new Option<int?>("--expect") { Description = "Move the alias only if it points at this version now (exit code 3 otherwise)." };
        var aliasSet = new Command("set", "Point ALIAS of NAME at VERSION.") { aliasName, aliasAlias, aliasVersion, aliasExpect };
        aliasSet.SetAction((parse, ct) => Run(stderr, async () =>
        {
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            string name = parse.GetValue(aliasName)!;
            string alias = parse.GetValue(aliasAlias)!;
            int version = parse.GetValue(aliasVersion);
            int? expected = parse.GetValue(aliasExpect);
            int? previous;
            if (expected is null)
            {
                // No expectation: an unconditional move, still recorded in the registry's alias ledger.
                IReadOnlyDictionary<string, int> before = await registry.GetAliasesAsync(name, ct);
                previous = before.TryGetValue(alias, out int v) ? v : null;
                await registry.SetAliasAsync(name, alias, version, ct);
            }
            else
            {
                try
                {
                    // Atomic: of several writers expecting the same version, in any number of processes, exactly one wins.
                    await registry.CompareAndSetAliasAsync(name, alias, expected, version, null, ct);
                    previous = expected;
                }
                catch (AliasConflictException ex)
                {
                    string now = ex.ActualVersion is int c ? string.Create(CultureInfo.InvariantCulture, $"version {c}") : "no version (it does not exist)";
                    throw new CliException(ExitCodes.Conflict, string.Create(CultureInfo.InvariantCulture, $"Alias '{alias}' of '{name}' points at {now}, not at the expected version {expected}; nothing changed."));
                }
            }

            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{name}@{alias} -> {version}{(previous is int p ? $" (was {p})" : " (new)")}"));
        }));

        var historyName = new Argument<string>("NAME") { Description = "The model name." };
        var historyAlias = new Argument<string?>("ALIAS") { Description = "One alias; without it, every alias of the model.", Arity = ArgumentArity.ZeroOrOne };
        var aliasHistory = new Command("history", "List every recorded move of the model's aliases, oldest first.") { historyName, historyAlias };
        aliasHistory.SetAction((parse, ct) => Run(stderr, async () =>
        {
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            string name = parse.GetValue(historyName)!;
            if ((await registry.ListVersionsAsync(name, ct)).Count == 0)
            {
                throw new CliException(ExitCodes.NotFound, $"No model named '{name}' is registered.");
            }

            IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(name, ct);
            string? only = parse.GetValue(historyAlias);
            if (only is not null && !aliases.ContainsKey(only))
            {
                throw new CliException(ExitCodes.NotFound, $"Model '{name}' has no alias '{only}'; its aliases are: {FormatAliases(aliases)}.");
            }

            foreach (string alias in only is null ? [.. aliases.Keys.Order(StringComparer.Ordinal)] : new[] { only })
            {
                IReadOnlyList<AliasChange> history;
                try
                {
                    history = await registry.GetAliasHistoryAsync(name, alias, ct);
                }
                catch (NotSupportedException)
                {
                    throw new CliException(ExitCodes.Usage, $"The registry in use ({registry.GetType().Name}) does not expose alias history.");
                }

                foreach (AliasChange h in history)
                {
                    await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{h.ChangedAt:yyyy-MM-ddTHH:mm:ss.fffZ}\t{name}@{h.Alias}\t{(h.OldVersion is int o ? o.ToString(CultureInfo.InvariantCulture) : "-")} -> {(h.NewVersion is int n ? n.ToString(CultureInfo.InvariantCulture) : "(removed)")}{(h.Reason is null ? "" : "\t" + h.Reason)}"));
                }
            }
        }));
        var alias = new Command("alias", "Move aliases and read their history.") { aliasSet, aliasHistory };

        var urls = new Option<string[]>("--urls") { Description = "Endpoints for REST and gRPC on one port each: HTTP/1.1 and cleartext HTTP/2 (prior knowledge). Default: http://127.0.0.1:8080.", DefaultValueFactory = _ => ["http://127.0.0.1:8080"] };
        var grpcUrls = new Option<string[]>("--grpc-urls") { Description = "Extra HTTP/2-only endpoints (not needed: --urls serves gRPC too). Default: none.", DefaultValueFactory = _ => [] };
        var models = new Option<string[]>("--model") { Description = "A model reference to load at start; the server is ready once all are loaded. Repeat for more." };
        var maxBatch = new Option<int?>("--max-batch-size") { Description = "The dynamic batcher's largest batch (rows). Default: 64." };
        var maxDelay = new Option<int?>("--max-queue-delay-us") { Description = "How long a request may wait for others to batch with, in microseconds. Default: 2000." };
        var noBatching = new Option<bool>("--no-batching") { Description = "Run every request alone." };
        var serve = new Command("serve", "Serve the registry over the Open Inference Protocol v2: REST and gRPC.") { urls, grpcUrls, models, maxBatch, maxDelay, noBatching };
        serve.SetAction((parse, ct) => Run(stderr, async () =>
        {
            string directory = DataDirectory(parse.GetValue(dataDir));
            Directory.CreateDirectory(directory);
            WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = directory });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var publicEndpoints = new List<ListenOptions>();
            builder.WebHost.ConfigureKestrel(k =>
            {
                foreach (string url in parse.GetValue(urls) ?? [])
                {
                    publicEndpoints.Add(k.ListenHttp1AndHttp2Cleartext(EndPoint(url)));
                }

                // Flow-control windows for many concurrent large requests (batches of images) on one HTTP/2 connection.
                k.Limits.Http2.InitialConnectionWindowSize = 16 * 1024 * 1024;
                k.Limits.Http2.InitialStreamWindowSize = 1024 * 1024;

                foreach (string url in parse.GetValue(grpcUrls) ?? [])
                {
                    Listen(k, url, HttpProtocols.Http2);
                }
            });
            int? batch = parse.GetValue(maxBatch);
            int? delay = parse.GetValue(maxDelay);
            bool off = parse.GetValue(noBatching);
            string[] preload = parse.GetValue(models) ?? [];
            foreach (string reference in preload)
            {
                ParseReference(reference);
            }

            RegistrySettings settings = Settings(parse);
            builder.Services.AddModelKit(o => o.DataDirectory = directory).AddOnnx().AddModelRegistry(settings.Configure).AddOnnxRuntimeServing()
                .ConfigureSessionPool(o =>
                {
                    o.Batching.Enabled = !off;
                    if (batch is int b)
                    {
                        o.Batching.MaxBatchSize = b;
                    }

                    if (delay is int d)
                    {
                        o.Batching.MaxQueueDelay = TimeSpan.FromMicroseconds(d);
                    }
                })
                .AddInferenceEndpoints(o =>
                {
                    foreach (string reference in preload)
                    {
                        o.Models.Add(reference);
                    }
                });
            await using WebApplication app = builder.Build();
            app.MapModelKitInference();
            app.MapModelKitGrpc();
            await app.StartAsync(ct);
            string[] addresses = [.. publicEndpoints.Select(e => $"http://{e.IPEndPoint}")];
            await stdout.WriteLineAsync($"modelkit serving {directory} on {string.Join(" ", addresses)} (HTTP/1.1 and HTTP/2 on each port; REST: GET /v2, POST /v2/models/NAME/infer; gRPC: inference.GRPCInferenceService). Ctrl+C stops.");
            await stdout.FlushAsync(ct);
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }

            await app.StopAsync(CancellationToken.None);
        }));

        var predictRef = new Argument<string>("REF") { Description = "A model reference: name, name/3, name@production." };
        var predictInput = new Option<FileInfo>("--input") { Description = "An Open Inference Protocol v2 JSON request (inputs with name, shape, datatype, data).", Required = true };
        var predict = new Command("predict", "Run one Open Inference Protocol v2 JSON request in-process and print the JSON response.") { predictRef, predictInput };
        predict.SetAction((parse, ct) => Run(stderr, async () =>
        {
            ModelReference reference = ParseReference(parse.GetValue(predictRef)!);
            FileInfo input = parse.GetValue(predictInput)!;
            if (!input.Exists)
            {
                throw new CliException(ExitCodes.NotFound, $"File '{input.FullName}' does not exist.");
            }

            byte[] body = await File.ReadAllBytesAsync(input.FullName, ct);
            await using ServiceProvider services = BuildServices(Settings(parse), withEndpoints: true);
            byte[] response = await services.GetRequiredService<OipJsonInference>().InferAsync(reference, body, ct);
            await stdout.WriteLineAsync(System.Text.Encoding.UTF8.GetString(response));
        }));

        var searchPrefix = new Option<string?>("--name-prefix") { Description = "Only models whose name starts with this." };
        var searchTags = new Option<string[]>("--tag") { Description = "A tag the version must carry, key=value; repeat for more." };
        var searchMin = new Option<string[]>("--metric-min") { Description = "A metric lower bound, key=number (inclusive); repeat for more." };
        var searchMax = new Option<string[]>("--metric-max") { Description = "A metric upper bound, key=number (inclusive); repeat for more." };
        var searchRun = new Option<string?>("--run-id") { Description = "Only versions from this training run." };
        var searchDataset = new Option<string?>("--dataset-digest") { Description = "Only versions trained on this data set digest." };
        var searchArchived = new Option<bool>("--include-archived") { Description = "Include archived versions." };
        var searchOrder = new Option<string?>("--order-by") { Description = "created (newest first, the default), created-asc, metric:NAME (highest first) or metric-asc:NAME." };
        var searchPageSize = new Option<int?>("--page-size") { Description = "Versions per page, 1 to 1000. Default: 50." };
        var searchPageToken = new Option<string?>("--page-token") { Description = "The token printed after the previous page (next-page-token)." };
        var search = new Command("search", "Search versions by name prefix, tags, metric bounds and lineage; one line per version.")
        {
            searchPrefix, searchTags, searchMin, searchMax, searchRun, searchDataset, searchArchived, searchOrder, searchPageSize, searchPageToken,
        };
        search.SetAction((parse, ct) => Run(stderr, async () =>
        {
            ModelSearchQuery query = SearchQuery(
                parse.GetValue(searchPrefix), parse.GetValue(searchTags), parse.GetValue(searchMin), parse.GetValue(searchMax), parse.GetValue(searchOrder), parse.GetValue(searchPageSize), parse.GetValue(searchPageToken)) with
            {
                TrainingRunId = parse.GetValue(searchRun),
                DatasetDigest = parse.GetValue(searchDataset),
                IncludeArchived = parse.GetValue(searchArchived),
            };
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            ModelSearchResult result = await registry.SearchAsync(query, ct);
            foreach (ModelVersion v in result.Versions)
            {
                string metrics = string.Join(",", v.Metrics.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key}={m.Value:R}")));
                string tags = string.Join(",", v.Tags.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{v.Name}/{v.Version}\t{v.CreatedAt:yyyy-MM-ddTHH:mm:ssZ}\t{v.Digest[..19]}…\t{v.SizeBytes} bytes\t{(metrics.Length == 0 ? "-" : metrics)}\t{(tags.Length == 0 ? "-" : tags)}{(v.IsArchived ? "\tarchived" : "")}"));
            }

            if (result.HasMore)
            {
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"next-page-token\t{query.Skip + query.Take}"));
            }
        }));

        var lineageRef = new Argument<string>("REF") { Description = "A model reference: name, name/3, name@production." };
        var lineage = new Command("lineage", "Show a version's ancestors and descendants (parent, run id, data set digest, compression recipe) and the versions sharing its run or data set.") { lineageRef };
        lineage.SetAction((parse, ct) => Run(stderr, async () =>
        {
            ModelReference reference = ParseReference(parse.GetValue(lineageRef)!);
            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            ModelLineageGraph graph = await registry.GetLineageAsync(reference, ct);
            await stdout.WriteLineAsync(LineageLine("version", graph.Version));
            foreach (ModelVersion v in graph.Ancestors)
            {
                await stdout.WriteLineAsync(LineageLine("ancestor", v));
            }

            foreach (ModelVersion v in graph.Descendants)
            {
                await stdout.WriteLineAsync(LineageLine("descendant", v));
            }

            foreach (ModelVersion v in graph.SameTrainingRun)
            {
                await stdout.WriteLineAsync(LineageLine("same-run", v));
            }

            foreach (ModelVersion v in graph.SameDataset)
            {
                await stdout.WriteLineAsync(LineageLine("same-dataset", v));
            }
        }));

        var gcGrace = new Option<double?>("--grace-period") { Description = "Keep unreferenced artifacts younger than this many seconds. Default: the registry's configured period (ModelRegistryOptions.GarbageCollectionGracePeriod)." };
        var gc = new Command("gc", "Delete artifacts no version references (older than the grace period); print what was deleted and kept.") { gcGrace };
        gc.SetAction((parse, ct) => Run(stderr, async () =>
        {
            double? seconds = parse.GetValue(gcGrace);
            if (seconds is double g && (!double.IsFinite(g) || g < 0 || g > TimeSpan.MaxValue.TotalSeconds))
            {
                throw new CliException(ExitCodes.Usage, string.Create(CultureInfo.InvariantCulture, $"--grace-period {g} is not a number of seconds of 0 or more."));
            }

            await using ServiceProvider services = BuildServices(Settings(parse));
            IModelRegistry registry = services.GetRequiredService<IModelRegistry>();
            ArtifactCollectionResult result = await registry.CollectGarbageAsync(seconds is double s ? TimeSpan.FromSeconds(s) : null, ct);
            foreach (string digest in result.Deleted)
            {
                await stdout.WriteLineAsync($"deleted\t{digest}");
            }

            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"examined {result.Examined}, deleted {result.Deleted.Count} ({result.BytesDeleted} bytes), kept {result.KeptReferenced} referenced, {result.KeptYoung} younger than the grace period, {result.KeptInUpload} in upload"));
        }));

        root.Add(register);
        root.Add(list);
        root.Add(show);
        root.Add(alias);
        root.Add(serve);
        root.Add(predict);
        root.Add(search);
        root.Add(lineage);
        root.Add(gc);
        root.Add(GrpcCommand.Create(stdout, Console.In, Run, stderr));

        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            await stderr.WriteLineAsync($"modelkit: {parsed.Errors[0].Message} (modelkit --help shows the commands)");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancellationToken);
    }

    private static async Task<int> Run(TextWriter stderr, Func<Task> body)
    {
        try
        {
            await body();
            return ExitCodes.Success;
        }
        catch (Exception ex) when (Classify(ex) is int code)
        {
            string message = (ex is AggregateException { InnerExceptions.Count: > 0 } retried
                ? string.Create(CultureInfo.InvariantCulture, $"{retried.InnerExceptions[0].Message} (after {retried.InnerExceptions.Count} tries)")
                : ex.Message).ReplaceLineEndings(" ");
            await stderr.WriteLineAsync($"modelkit: {message}");
            return code;
        }
    }

    private static int? Classify(Exception ex) => ex switch
    {
        CliException c => c.ExitCode,
        AggregateException { InnerExceptions.Count: > 0 } a => Classify(a.InnerExceptions[0]),
        ModelNotFoundException or FileNotFoundException or DirectoryNotFoundException => ExitCodes.NotFound,
        OipRequestException { StatusCode: 404 } => ExitCodes.NotFound,
        OipRequestException { StatusCode: 409 } => ExitCodes.Conflict,
        OipRequestException or InferenceInputException or ArgumentException or FormatException or InvalidModelException or InvalidDataException => ExitCodes.Usage,
        ModelKitException or IOException or InvalidOperationException or UnauthorizedAccessException or OptionsValidationException => ExitCodes.Usage,
        System.Data.Common.DbException or HttpRequestException or TimeoutException or Amazon.Runtime.AmazonClientException or Azure.RequestFailedException => ExitCodes.Usage,
        _ => null,
    };

    internal static string DataDirectory(string? option)
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable("MODELKIT_DATA_DIR");
        return Path.GetFullPath(option ?? (string.IsNullOrEmpty(fromEnvironment) ? "./modelkit-data" : fromEnvironment));
    }

    private static ServiceProvider BuildServices(RegistrySettings settings, bool withEndpoints = false)
    {
        var services = new ServiceCollection();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning));
        IModelKitBuilder builder = services.AddModelKit(o => o.DataDirectory = settings.DataDirectory).AddOnnx().AddModelRegistry(settings.Configure);
        if (withEndpoints)
        {
            builder.AddOnnxRuntimeServing().AddInferenceEndpoints();
        }

        return services.BuildServiceProvider();
    }

    internal static ModelSearchQuery SearchQuery(string? namePrefix, string[]? tags, string[]? metricMin, string[]? metricMax, string? orderBy, int? pageSize, string? pageToken)
    {
        static double Number(string option, string s) =>
            double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                ? d
                : throw new CliException(ExitCodes.Usage, $"{option} value '{s}' is not a number; write it like accuracy=0.9.");

        List<MetricFilter> metrics =
        [
            .. Pairs(metricMin, "--metric-min", s => Number("--metric-min", s)).Select(p => new MetricFilter(p.Key, p.Value)),
            .. Pairs(metricMax, "--metric-max", s => Number("--metric-max", s)).Select(p => new MetricFilter(p.Key, p.Value, AtMost: true)),
        ];
        (ModelSearchOrder order, string? metric) = (orderBy ?? "created") switch
        {
            "created" => (ModelSearchOrder.CreatedDescending, (string?)null),
            "created-asc" => (ModelSearchOrder.CreatedAscending, null),
            string m when m.StartsWith("metric:", StringComparison.Ordinal) && m.Length > "metric:".Length => (ModelSearchOrder.MetricDescending, m["metric:".Length..]),
            string m when m.StartsWith("metric-asc:", StringComparison.Ordinal) && m.Length > "metric-asc:".Length => (ModelSearchOrder.MetricAscending, m["metric-asc:".Length..]),
            string other => throw new CliException(ExitCodes.Usage, $"--order-by '{other}' is not created, created-asc, metric:NAME or metric-asc:NAME."),
        };
        int take = pageSize ?? 50;
        if (take is < 1 or > ModelSearchQuery.MaxTake)
        {
            throw new CliException(ExitCodes.Usage, string.Create(CultureInfo.InvariantCulture, $"--page-size {take} is out of range; use 1 to {ModelSearchQuery.MaxTake}."));
        }

        int skip = 0;
        if (pageToken is not null && (!int.TryParse(pageToken, NumberStyles.None, CultureInfo.InvariantCulture, out skip) || skip < 0))
        {
            throw new CliException(ExitCodes.Usage, $"--page-token '{pageToken}' is not a token printed by modelkit search (next-page-token).");
        }

        return new ModelSearchQuery
        {
            NamePrefix = namePrefix,
            Tags = Pairs(tags, "--tag", s => s),
            Metrics = metrics,
            OrderBy = order,
            OrderByMetric = metric,
            Take = take,
            Skip = skip,
        };
    }

    private static string LineageLine(string role, ModelVersion v) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{role}\t{v.Name}/{v.Version}\tparent={(v.Lineage.ParentVersion is int p ? $"{v.Name}/{p}" : "-")}\trun={v.Lineage.TrainingRunId ?? "-"}\tdataset={v.Lineage.DatasetDigest ?? "-"}\trecipe={v.Lineage.CompressionRecipe ?? "-"}");

    private static ModelReference ParseReference(string text) =>
        ModelReference.TryParse(text, out ModelReference? reference)
            ? reference
            : throw new CliException(ExitCodes.Usage, $"'{text}' is not a model reference: use name, name/3 or name@alias (names match [a-z0-9][a-z0-9._-]*).");

    private static void Listen(KestrelServerOptions kestrel, string url, HttpProtocols protocols) =>
        kestrel.Listen(EndPoint(url), o => o.Protocols = protocols);

    private static IPEndPoint EndPoint(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? uri) || uri.Scheme != "http")
        {
            throw new CliException(ExitCodes.Usage, $"'{url}' is not an http:// URL with a host and port, for example http://127.0.0.1:8080.");
        }

        IPAddress address = uri.Host switch
        {
            "localhost" => IPAddress.Loopback,
            "0.0.0.0" or "*" or "+" => IPAddress.Any,
            _ => IPAddress.TryParse(uri.Host.Trim('[', ']'), out IPAddress? ip) ? ip : throw new CliException(ExitCodes.Usage, $"'{uri.Host}' in '{url}' is not an IP address or localhost."),
        };
        return new IPEndPoint(address, uri.Port);
    }

    private static Dictionary<string, T> Pairs<T>(string[]? values, string option, Func<string, T> parse)
    {
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (string pair in values ?? [])
        {
            int eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new CliException(ExitCodes.Usage, $"{option} '{pair}' is not key=value.");
            }

            result[pair[..eq]] = parse(pair[(eq + 1)..]);
        }

        return result;
    }

    private static string FormatAliases(IReadOnlyDictionary<string, int> aliases) =>
        aliases.Count == 0 ? "no aliases" : string.Join(", ", aliases.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.Key}->{a.Value}")));
}
