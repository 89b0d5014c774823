using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelKit.Registry.Internal;

/// <summary>One recorded alias move.</summary>
/// <param name="Alias">The alias.</param>
/// <param name="OldVersion">The version it pointed at before, or <see langword="null"/> when it was created.</param>
/// <param name="NewVersion">The version it points at after the move.</param>
/// <param name="ChangedAt">When it moved (UTC).</param>
internal sealed record AliasChange(string Alias, int? OldVersion, int NewVersion, DateTimeOffset ChangedAt);

/// <summary>
/// The embedded default <see cref="IModelRegistry"/>: metadata in SQLite (<c>registry.db</c>, WAL) and artifacts
/// in a content-addressed file store (<c>blobs/sha256/ab/abcdef…</c>), both under
/// <see cref="ModelKitOptions.DataDirectory"/>. Thread-safe, and safe to share one data directory between
/// processes: version numbers are assigned inside <c>BEGIN IMMEDIATE</c> transactions.
/// </summary>
internal sealed class SqliteModelRegistry : IModelRegistry, IDisposable
{
    private const string DatabaseFileName = "registry.db";
    private const string BlobsDirectoryName = "blobs";
    private const int MaxNamesInMessages = 20;
    private static readonly TimeSpan StaleTempFileAge = TimeSpan.FromHours(24);

    private const string VersionColumns =
        "v.name, v.version, v.digest, v.size_bytes, v.format, v.signature_json, v.metrics_json, v.tags_json, v.lineage_json, v.description, v.created_at";

    private readonly IReadOnlyDictionary<string, IModelFormatInspector> _inspectors;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly RegistryTelemetry _telemetry;
    private readonly RegistryDatabase _database;
    private readonly BlobStore _blobs;

    public SqliteModelRegistry(
        IOptions<ModelKitOptions> options,
        IEnumerable<IModelFormatInspector> inspectors,
        TimeProvider timeProvider,
        ILogger<SqliteModelRegistry>? logger = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inspectors);
        ArgumentNullException.ThrowIfNull(timeProvider);

        string dataDirectory = options.Value.DataDirectory;
        if (string.IsNullOrWhiteSpace(dataDirectory))
        {
            throw new ArgumentException(
                "ModelKitOptions.DataDirectory is empty; set it to a writable directory such as './modelkit-data'.", nameof(options));
        }

        var byFormat = new Dictionary<string, IModelFormatInspector>(StringComparer.Ordinal);
        foreach (IModelFormatInspector inspector in inspectors)
        {
            byFormat[inspector.Format] = inspector;
        }

        _inspectors = byFormat;
        _timeProvider = timeProvider;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _telemetry = new RegistryTelemetry(meterFactory);

        // Path.GetFullPath only computes a string: it does no I/O. The directory itself is created on first use.
        DataDirectory = Path.GetFullPath(dataDirectory);
        _database = new RegistryDatabase(Path.Combine(DataDirectory, DatabaseFileName), _logger);
        _blobs = new BlobStore(Path.Combine(DataDirectory, BlobsDirectoryName));
    }

    /// <summary>Gets the absolute data directory.</summary>
    public string DataDirectory { get; }

    /// <summary>Gets the content-addressed store, for tests that inspect or damage files.</summary>
    internal BlobStore Blobs => _blobs;

    public async Task<ModelVersion> RegisterAsync(ModelRegistration registration, Stream content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(registration);
        ArgumentNullException.ThrowIfNull(content);
        ModelName.ThrowIfInvalid(registration.Name, nameof(registration));
        ValidateRegistration(registration);
        if (!content.CanRead)
        {
            throw new ArgumentException($"The content stream for model '{registration.Name}' is not readable; pass a stream opened for reading.", nameof(content));
        }

        IModelFormatInspector inspector = GetInspector(registration.Format);
        cancellationToken.ThrowIfCancellationRequested();

        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.register", registration.Name);
        try
        {
            SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                if (registration.Lineage.ParentVersion is int parent)
                {
                    // Versions are never deleted, so a parent that exists now still exists at commit.
                    await ThrowIfVersionMissingAsync(connection, registration.Name, parent, "lineage parent", cancellationToken).ConfigureAwait(false);
                }

                StagedBlob staged = await _blobs.StageAsync(content, cancellationToken).ConfigureAwait(false);
                ModelArtifactInfo info;
                try
                {
                    info = Inspect(inspector, staged.TempPath, registration);
                    cancellationToken.ThrowIfCancellationRequested();
                }
                catch (Exception ex)
                {
                    BlobStore.TryDelete(staged.TempPath);
                    if (ex is InvalidModelException)
                    {
                        RegistryLog.RegistrationRejected(_logger, registration.Name, registration.Format, ex);
                    }

                    throw;
                }

                // From here on the registration completes: cancelling between the blob move and the commit would leave an unreferenced blob.
                ModelVersion version = Store(connection, registration, staged, info.Signature);
                activity?.SetTag(RegistryTelemetry.ModelVersionTag, version.Version);
                _telemetry.Registrations.Add(1, new KeyValuePair<string, object?>(RegistryTelemetry.ModelNameTag, version.Name));
                RegistryLog.VersionRegistered(_logger, version.Name, version.Version, version.Digest, version.SizeBytes, version.Format);
                return version;
            }
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    public async Task<ModelVersion> ResolveAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.resolve", reference.Name);
        try
        {
            SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                using SqliteCommand command = connection.CreateCommand();
                command.Parameters.AddWithValue("$name", reference.Name);
                if (reference.Alias is not null)
                {
                    command.CommandText =
                        $"SELECT {VersionColumns} FROM aliases a JOIN model_versions v ON v.name = a.name AND v.version = a.version " +
                        "WHERE a.name = $name AND a.alias = $alias;";
                    command.Parameters.AddWithValue("$alias", reference.Alias);
                }
                else if (reference.Version is int number)
                {
                    command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name AND v.version = $version;";
                    command.Parameters.AddWithValue("$version", number);
                }
                else
                {
                    command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name ORDER BY v.version DESC LIMIT 1;";
                }

                ModelVersion? found = await ReadSingleVersionAsync(command, cancellationToken).ConfigureAwait(false);
                if (found is null)
                {
                    throw await NotFoundAsync(connection, reference, cancellationToken).ConfigureAwait(false);
                }

                activity?.SetTag(RegistryTelemetry.ModelVersionTag, found.Version);
                return found;
            }
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    public async Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ReadModelNamesAsync(connection, int.MaxValue, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name ORDER BY v.version;";
            command.Parameters.AddWithValue("$name", name);
            var versions = new List<ModelVersion>();
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    versions.Add(ReadVersion(reader));
                }
            }

            return versions;
        }
    }

    public async Task<IReadOnlyDictionary<string, int>> GetAliasesAsync(string name, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ReadAliasesAsync(connection, null, name, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ModelName.ThrowIfInvalidAlias(alias);
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);

        using Activity? activity = RegistryTelemetry.StartActivity("modelkit.registry.set_alias", name);
        activity?.SetTag(RegistryTelemetry.ModelVersionTag, version);
        try
        {
            SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
                await ThrowIfVersionMissingAsync(connection, name, version, "alias target", cancellationToken, transaction).ConfigureAwait(false);

                int? oldVersion;
                using (SqliteCommand read = connection.CreateCommand())
                {
                    read.Transaction = transaction;
                    read.CommandText = "SELECT version FROM aliases WHERE name = $name AND alias = $alias;";
                    read.Parameters.AddWithValue("$name", name);
                    read.Parameters.AddWithValue("$alias", alias);
                    object? value = await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
                    oldVersion = value is null ? null : Convert.ToInt32(value, CultureInfo.InvariantCulture);
                }

                if (oldVersion == version)
                {
                    return;
                }

                string now = FormatTime(_timeProvider.GetUtcNow());
                using (SqliteCommand write = connection.CreateCommand())
                {
                    write.Transaction = transaction;
                    write.CommandText = """
                        INSERT INTO aliases (name, alias, version, updated_at) VALUES ($name, $alias, $version, $now)
                            ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
                        INSERT INTO alias_history (name, alias, old_version, new_version, changed_at) VALUES ($name, $alias, $old, $version, $now);
                        """;
                    write.Parameters.AddWithValue("$name", name);
                    write.Parameters.AddWithValue("$alias", alias);
                    write.Parameters.AddWithValue("$version", version);
                    write.Parameters.AddWithValue("$old", oldVersion is int old ? old : DBNull.Value);
                    write.Parameters.AddWithValue("$now", now);
                    await write.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                transaction.Commit();
                if (oldVersion is int previous)
                {
                    RegistryLog.AliasMoved(_logger, name, alias, previous, version);
                }
                else
                {
                    RegistryLog.AliasCreated(_logger, name, alias, version);
                }
            }
        }
        catch (Exception ex)
        {
            RegistryTelemetry.RecordError(activity, ex);
            throw;
        }
    }

    public async Task<Stream> OpenArtifactAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ModelVersion stored = await ResolveAsync(ModelReference.ForVersion(version.Name, version.Version), cancellationToken).ConfigureAwait(false);
        if (!BlobStore.TryParseDigest(stored.Digest, out string hex))
        {
            throw new ModelKitException(
                $"Model '{stored.Name}' version {stored.Version} has a malformed digest '{stored.Digest}' in '{_database.DatabasePath}'; " +
                "expected 'sha256:' and 64 lowercase hex digits. The database was edited outside ModelKit; restore it from a backup.");
        }

        string path = _blobs.GetPath(hex);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ModelNotFoundException(
                stored.Reference.ToString(),
                $"The artifact of model '{stored.Name}' version {stored.Version} ({stored.Digest}) is missing from the store: expected the file '{path}'. " +
                "Restore it from a backup, or register the model again.");
        }

        return new VerifyingReadStream(
            file,
            hex,
            stored.SizeBytes,
            string.Create(CultureInfo.InvariantCulture, $"model '{stored.Name}' version {stored.Version}"),
            path);
    }

    /// <summary>Lists the recorded moves of an alias, oldest first.</summary>
    internal async Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string name, string alias, CancellationToken cancellationToken = default)
    {
        ModelName.ThrowIfInvalid(name);
        ModelName.ThrowIfInvalidAlias(alias);
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT alias, old_version, new_version, changed_at FROM alias_history WHERE name = $name AND alias = $alias ORDER BY id;";
            command.Parameters.AddWithValue("$name", name);
            command.Parameters.AddWithValue("$alias", alias);
            var changes = new List<AliasChange>();
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    changes.Add(new AliasChange(
                        reader.GetString(0),
                        reader.IsDBNull(1) ? null : reader.GetInt32(1),
                        reader.GetInt32(2),
                        ParseTime(reader.GetString(3))));
                }
            }

            return changes;
        }
    }

    public void Dispose()
    {
        _database.Dispose();
        _telemetry.Dispose();
    }

    private Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken) =>
        _database.OpenAsync(PrepareDirectoriesAsync, cancellationToken);

    private Task PrepareDirectoriesAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        _blobs.EnsureDirectories();
        int deleted = _blobs.DeleteStaleTempFiles(StaleTempFileAge, _timeProvider.GetUtcNow());
        if (deleted > 0)
        {
            RegistryLog.StaleTempFilesDeleted(_logger, deleted, StaleTempFileAge.TotalHours, _blobs.TempDirectory);
        }

        return Task.CompletedTask;
    }

    private IModelFormatInspector GetInspector(string format)
    {
        if (_inspectors.TryGetValue(format, out IModelFormatInspector? inspector))
        {
            return inspector;
        }

        string registered = _inspectors.Count == 0 ? "(none)" : string.Join(", ", _inspectors.Keys.Order(StringComparer.Ordinal));
        throw new ModelKitException(
            $"No inspector is registered for format '{format}'; call AddOnnx() (package ModelKit.Onnx) on the ModelKit builder, " +
            $"for example services.AddModelKit().AddModelRegistry().AddOnnx(), or register an IModelFormatInspector for '{format}'. " +
            $"Registered formats: {registered}.");
    }

    private static ModelArtifactInfo Inspect(IModelFormatInspector inspector, string path, ModelRegistration registration)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 81920, FileOptions.SequentialScan);
        ModelArtifactInfo? info = inspector.Inspect(file);
        if (info?.Signature is null)
        {
            throw new ModelKitException(
                $"The '{registration.Format}' inspector {inspector.GetType().FullName} returned no signature for model '{registration.Name}'. " +
                "This is a bug in the inspector; report it to its authors.");
        }

        return info;
    }

    private ModelVersion Store(SqliteConnection connection, ModelRegistration registration, StagedBlob staged, ModelSignature signature)
    {
        DateTimeOffset createdAt = _timeProvider.GetUtcNow();
        string now = FormatTime(createdAt);
        var metrics = new Dictionary<string, double>(registration.Metrics, StringComparer.Ordinal);
        var tags = new Dictionary<string, string>(registration.Tags, StringComparer.Ordinal);
        ModelLineage lineage = registration.Lineage with
        {
            Parameters = new Dictionary<string, string>(registration.Lineage.Parameters, StringComparer.Ordinal),
        };

        bool createdBlob = false;
        try
        {
            // BEGIN IMMEDIATE takes the write lock now, so concurrent writers (threads or processes) get distinct versions.
            using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            createdBlob = _blobs.Commit(staged);
            if (!createdBlob)
            {
                RegistryLog.BlobAlreadyStored(_logger, staged.Digest);
            }

            int number;
            using (SqliteCommand next = connection.CreateCommand())
            {
                next.Transaction = transaction;
                next.CommandText = """
                    INSERT INTO models (name, created_at) VALUES ($name, $now) ON CONFLICT (name) DO NOTHING;
                    SELECT COALESCE(MAX(version), 0) + 1 FROM model_versions WHERE name = $name;
                    """;
                next.Parameters.AddWithValue("$name", registration.Name);
                next.Parameters.AddWithValue("$now", now);
                number = Convert.ToInt32(next.ExecuteScalar(), CultureInfo.InvariantCulture);
            }

            using (SqliteCommand insert = connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = """
                    INSERT INTO model_versions
                        (name, version, digest, size_bytes, format, signature_json, metrics_json, tags_json, lineage_json, description, created_at)
                    VALUES ($name, $version, $digest, $size, $format, $signature, $metrics, $tags, $lineage, $description, $now);
                    """;
                insert.Parameters.AddWithValue("$name", registration.Name);
                insert.Parameters.AddWithValue("$version", number);
                insert.Parameters.AddWithValue("$digest", staged.Digest);
                insert.Parameters.AddWithValue("$size", staged.SizeBytes);
                insert.Parameters.AddWithValue("$format", registration.Format);
                insert.Parameters.AddWithValue("$signature", JsonSerializer.Serialize(signature, RegistryJsonContext.Default.ModelSignature));
                insert.Parameters.AddWithValue("$metrics", JsonSerializer.Serialize(metrics, RegistryJsonContext.Default.DictionaryStringDouble));
                insert.Parameters.AddWithValue("$tags", JsonSerializer.Serialize(tags, RegistryJsonContext.Default.DictionaryStringString));
                insert.Parameters.AddWithValue("$lineage", JsonSerializer.Serialize(lineage, RegistryJsonContext.Default.ModelLineage));
                insert.Parameters.AddWithValue("$description", (object?)registration.Description ?? DBNull.Value);
                insert.Parameters.AddWithValue("$now", now);
                insert.ExecuteNonQuery();
            }

            transaction.Commit();
            return new ModelVersion
            {
                Name = registration.Name,
                Version = number,
                Digest = staged.Digest,
                SizeBytes = staged.SizeBytes,
                Format = registration.Format,
                Signature = signature,
                Metrics = metrics,
                Tags = tags,
                Lineage = lineage,
                Description = registration.Description,
                CreatedAt = ParseTime(now),
            };
        }
        catch (Exception ex)
        {
            // Still under no other writer's feet: nothing committed references a blob this call created.
            BlobStore.TryDelete(staged.TempPath);
            if (createdBlob)
            {
                BlobStore.TryDelete(_blobs.GetPath(staged.Sha256Hex));
            }

            if (ex is SqliteException sqlite)
            {
                throw new ModelKitException(
                    $"Could not record model '{registration.Name}' ({staged.Digest}) in '{_database.DatabasePath}': {sqlite.Message} " +
                    $"(SQLite error {sqlite.SqliteErrorCode}). Nothing was stored; retry, and check the disk and the file's permissions.", sqlite);
            }

            throw;
        }
    }

    private static void ValidateRegistration(ModelRegistration registration)
    {
        const string Param = nameof(registration);
        if (string.IsNullOrWhiteSpace(registration.Format))
        {
            throw new ArgumentException($"The format of model '{registration.Name}' is empty; set ModelRegistration.Format, for example to '{ModelFormats.Onnx}'.", Param);
        }

        ArgumentNullException.ThrowIfNull(registration.Metrics, "registration.Metrics");
        ArgumentNullException.ThrowIfNull(registration.Tags, "registration.Tags");
        ArgumentNullException.ThrowIfNull(registration.Lineage, "registration.Lineage");
        ArgumentNullException.ThrowIfNull(registration.Lineage.Parameters, "registration.Lineage.Parameters");

        foreach (KeyValuePair<string, double> metric in registration.Metrics)
        {
            ThrowIfBadKey(metric.Key, "Metric", registration.Name);
            if (!double.IsFinite(metric.Value))
            {
                throw new ArgumentException(
                    $"Metric '{metric.Key}' of model '{registration.Name}' has the value {metric.Value.ToString(CultureInfo.InvariantCulture)}; " +
                    "metrics must be finite numbers. Remove the metric or record a finite value.", Param);
            }
        }

        foreach (KeyValuePair<string, string> tag in registration.Tags)
        {
            ThrowIfBadKey(tag.Key, "Tag", registration.Name);
            if (tag.Value is null)
            {
                throw new ArgumentException($"Tag '{tag.Key}' of model '{registration.Name}' has a null value; use an empty string or remove the tag.", Param);
            }
        }

        foreach (KeyValuePair<string, string> parameter in registration.Lineage.Parameters)
        {
            ThrowIfBadKey(parameter.Key, "Lineage parameter", registration.Name);
            if (parameter.Value is null)
            {
                throw new ArgumentException($"Lineage parameter '{parameter.Key}' of model '{registration.Name}' has a null value; use an empty string or remove it.", Param);
            }
        }

        if (registration.Lineage.ParentVersion is < 1)
        {
            throw new ArgumentException(
                $"Lineage parent version {registration.Lineage.ParentVersion} of model '{registration.Name}' is invalid; versions start at 1. " +
                "Set ParentVersion to an existing version or leave it null.", Param);
        }

        static void ThrowIfBadKey(string key, string what, string model)
        {
            if (string.IsNullOrWhiteSpace(key))
            {
                throw new ArgumentException(
                    $"{what} names of model '{model}' must not be empty or whitespace, but '{key}' was given. Give every {what.ToLowerInvariant()} a name.",
                    nameof(registration));
            }
        }
    }

    private async Task ThrowIfVersionMissingAsync(
        SqliteConnection connection, string name, int version, string role, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT EXISTS (SELECT 1 FROM model_versions WHERE name = $name AND version = $version);";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$version", version);
        if ((long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))! == 0)
        {
            ModelNotFoundException notFound = await NotFoundAsync(connection, ModelReference.ForVersion(name, version), cancellationToken, transaction).ConfigureAwait(false);
            throw new ModelNotFoundException(notFound.Reference, $"The {role} does not exist. {notFound.Message}");
        }
    }

    private async Task<ModelNotFoundException> NotFoundAsync(
        SqliteConnection connection, ModelReference reference, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        string text = reference.ToString();
        int? latest;
        using (SqliteCommand command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT MAX(version) FROM model_versions WHERE name = $name;";
            command.Parameters.AddWithValue("$name", reference.Name);
            object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            latest = value is null or DBNull ? null : Convert.ToInt32(value, CultureInfo.InvariantCulture);
        }

        if (latest is null)
        {
            IReadOnlyList<string> names = await ReadModelNamesAsync(connection, MaxNamesInMessages + 1, cancellationToken, transaction).ConfigureAwait(false);
            string known = names.Count == 0
                ? $"the registry at '{DataDirectory}' holds no models yet. Register one with RegisterAsync."
                : $"registered models: {JoinLimited(names)}. Check the name.";
            return new ModelNotFoundException(text, $"No model named '{reference.Name}' is registered; {known}");
        }

        if (reference.Alias is not null)
        {
            IReadOnlyDictionary<string, int> aliases = await ReadAliasesAsync(connection, transaction, reference.Name, cancellationToken).ConfigureAwait(false);
            string known = aliases.Count == 0 ? "(none)" : JoinLimited(aliases.Keys.ToList());
            return new ModelNotFoundException(
                text,
                $"Model '{reference.Name}' has no alias '{reference.Alias}'; its aliases are: {known}. Set one with SetAliasAsync.");
        }

        return new ModelNotFoundException(
            text,
            string.Create(CultureInfo.InvariantCulture, $"Model '{reference.Name}' has no version {reference.Version}; the latest is {latest}."));
    }

    private static string JoinLimited(IReadOnlyList<string> names)
    {
        if (names.Count <= MaxNamesInMessages)
        {
            return string.Join(", ", names);
        }

        var sb = new StringBuilder();
        sb.AppendJoin(", ", names.Take(MaxNamesInMessages));
        return sb.Append(", …").ToString();
    }

    private static async Task<IReadOnlyList<string>> ReadModelNamesAsync(
        SqliteConnection connection, int limit, CancellationToken cancellationToken, SqliteTransaction? transaction = null)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT name FROM models ORDER BY name LIMIT $limit;";
        command.Parameters.AddWithValue("$limit", limit);
        var names = new List<string>();
        SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                names.Add(reader.GetString(0));
            }
        }

        return names;
    }

    private static async Task<IReadOnlyDictionary<string, int>> ReadAliasesAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string name, CancellationToken cancellationToken)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT alias, version FROM aliases WHERE name = $name ORDER BY alias;";
        command.Parameters.AddWithValue("$name", name);
        var aliases = new Dictionary<string, int>(StringComparer.Ordinal);
        SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                aliases.Add(reader.GetString(0), reader.GetInt32(1));
            }
        }

        return aliases;
    }

    private async Task<ModelVersion?> ReadSingleVersionAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadVersion(reader) : null;
        }
    }

    private ModelVersion ReadVersion(SqliteDataReader reader)
    {
        string name = reader.GetString(0);
        int version = reader.GetInt32(1);
        try
        {
            return new ModelVersion
            {
                Name = name,
                Version = version,
                Digest = reader.GetString(2),
                SizeBytes = reader.GetInt64(3),
                Format = reader.GetString(4),
                Signature = Deserialize(reader.GetString(5), RegistryJsonContext.Default.ModelSignature),
                Metrics = Deserialize(reader.GetString(6), RegistryJsonContext.Default.DictionaryStringDouble),
                Tags = Deserialize(reader.GetString(7), RegistryJsonContext.Default.DictionaryStringString),
                Lineage = Deserialize(reader.GetString(8), RegistryJsonContext.Default.ModelLineage),
                Description = reader.IsDBNull(9) ? null : reader.GetString(9),
                CreatedAt = ParseTime(reader.GetString(10)),
            };
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidCastException)
        {
            throw new ModelKitException(
                $"The metadata of model '{name}' version {version} in '{_database.DatabasePath}' cannot be read: {ex.Message} " +
                "The database was edited outside ModelKit or written by an incompatible version; restore it from a backup.", ex);
        }
    }

    private static T Deserialize<T>(string json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(json, typeInfo) ?? throw new FormatException($"The JSON column holds null where a {typeof(T).Name} was expected.");

    private static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
