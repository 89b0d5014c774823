using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelKit.Registry.Internal;

namespace ModelKit.Registry.Sqlite;

/// <summary>
/// The embedded metadata store: one SQLite database (<c>registry.db</c>) in WAL mode with <c>synchronous = FULL</c>.
/// Thread-safe and safe for any number of processes on one host; not for several hosts (WAL needs shared memory, which
/// network file systems do not provide: use ModelKit.Registry.PostgreSql there).
/// </summary>
/// <remarks>
/// Why <c>synchronous = FULL</c>: in WAL mode SQLite's <c>NORMAL</c> may lose the last committed transactions on power
/// loss. The registry reports a version as registered only after its artifact is durable (file flushed, directory
/// flushed) and its metadata commit is durable (WAL flushed on every commit), so neither can be lost alone.
/// Every write runs in <c>BEGIN IMMEDIATE</c>, which takes SQLite's single write lock first: version numbers, alias
/// compare-and-set and change sequence numbers are therefore serialized across threads and processes.
/// </remarks>
internal sealed class SqliteMetadataStore : IModelMetadataStore, IDisposable
{
    /// <summary>The schema version this code writes and understands.</summary>
    public const int SchemaVersion = 3;

    /// <summary>How long a statement waits for another writer's lock before failing, in milliseconds.</summary>
    public const int BusyTimeoutMilliseconds = 30_000;

    private const string VersionColumns =
        "v.name, v.version, v.digest, v.size_bytes, v.format, v.signature_json, v.metrics_json, v.tags_json, v.lineage_json, v.description, v.created_at, v.archived";

    private readonly ILogger _logger;
    private readonly Action? _beforeFirstUse;
    private readonly TimeSpan _pollInterval;
    private readonly TimeProvider _timeProvider;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly ChangeSignal _localChanges = new();
    private volatile bool _initialized;

    /// <param name="databasePath">The database file.</param>
    /// <param name="pollInterval">How often <see cref="WaitForChangesAsync"/> reads <c>PRAGMA data_version</c>.</param>
    /// <param name="timeProvider">The clock for polling delays.</param>
    /// <param name="beforeFirstUse">Runs once before the database is first opened (directory creation and checks).</param>
    /// <param name="logger">The logger.</param>
    public SqliteMetadataStore(string databasePath, TimeSpan pollInterval, TimeProvider timeProvider, Action? beforeFirstUse = null, ILogger? logger = null)
    {
        DatabasePath = databasePath;
        _pollInterval = pollInterval;
        _timeProvider = timeProvider;
        _beforeFirstUse = beforeFirstUse;
        _logger = logger ?? NullLogger.Instance;
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            ForeignKeys = true,
            DefaultTimeout = BusyTimeoutMilliseconds / 1000,
        }.ToString();
    }

    public string DatabasePath { get; }

    public string ConnectionString { get; }

    public string Description => $"SQLite database '{DatabasePath}'";

    public void Dispose()
    {
        using (var connection = new SqliteConnection(ConnectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _initLock.Dispose();
    }

    public async Task<Guid> PinArtifactAsync(string digest, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        Guid pin = Guid.NewGuid();
        while (true)
        {
            bool pinned = await WriteAsync(async (c, t) =>
            {
                if (await ScalarLongAsync(c, t, "SELECT COUNT(*) FROM artifact_deletions WHERE digest = $d;", cancellationToken, ("$d", digest)).ConfigureAwait(false) > 0)
                {
                    return false;
                }

                await ExecAsync(c, t, "INSERT INTO artifact_pins (id, digest, created_at) VALUES ($id, $d, $now);", cancellationToken,
                    ("$id", pin.ToString("N")), ("$d", digest), ("$now", RegistryText.FormatTime(now))).ConfigureAwait(false);
                return true;
            }, "pin an artifact", cancellationToken).ConfigureAwait(false);
            if (pinned)
            {
                return pin;
            }

            // Garbage collection is deleting this digest right now: wait for it to finish, then upload again.
            await Task.Delay(TimeSpan.FromMilliseconds(50), _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task UnpinArtifactAsync(Guid pin, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            await ExecAsync(c, t, "DELETE FROM artifact_pins WHERE id = $id;", cancellationToken, ("$id", pin.ToString("N"))).ConfigureAwait(false);
            return true;
        }, "release an artifact pin", cancellationToken);

    public Task<ModelVersion> AddVersionAsync(ModelVersionDraft draft, Guid pin, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            ModelRegistration r = draft.Registration;
            string now = RegistryText.FormatTime(draft.CreatedAt);
            if (r.Lineage.ParentVersion is int parent &&
                await ScalarLongAsync(c, t, "SELECT COUNT(*) FROM model_versions WHERE name = $n AND version = $v;", cancellationToken, ("$n", r.Name), ("$v", parent)).ConfigureAwait(false) == 0)
            {
                throw new ModelNotFoundException(
                    ModelReference.ForVersion(r.Name, parent).ToString(),
                    string.Create(CultureInfo.InvariantCulture, $"The lineage parent of the new version of model '{r.Name}', version {parent}, does not exist; nothing was stored. Set ParentVersion to an existing version."));
            }

            await ExecAsync(c, t, "INSERT INTO models (name, created_at, last_version) VALUES ($n, $now, 0) ON CONFLICT (name) DO NOTHING;", cancellationToken,
                ("$n", r.Name), ("$now", now)).ConfigureAwait(false);
            long number = await ScalarLongAsync(c, t, "UPDATE models SET last_version = last_version + 1 WHERE name = $n RETURNING last_version;", cancellationToken,
                ("$n", r.Name)).ConfigureAwait(false);
            var version = new ModelVersion
            {
                Name = r.Name,
                Version = checked((int)number),
                Digest = draft.Digest,
                SizeBytes = draft.SizeBytes,
                Format = r.Format,
                Signature = draft.Signature,
                Metrics = new Dictionary<string, double>(r.Metrics, StringComparer.Ordinal),
                Tags = new Dictionary<string, string>(r.Tags, StringComparer.Ordinal),
                Lineage = r.Lineage with { Parameters = new Dictionary<string, string>(r.Lineage.Parameters, StringComparer.Ordinal) },
                Description = r.Description,
                CreatedAt = RegistryText.ParseTime(now),
            };
            await ExecAsync(c, t, """
                INSERT INTO model_versions
                    (name, version, digest, size_bytes, format, signature_json, metrics_json, tags_json, lineage_json, description, created_at,
                     archived, parent_version, training_run_id, dataset_digest)
                VALUES ($n, $v, $digest, $size, $format, $sig, $metrics, $tags, $lineage, $desc, $now, 0, $parent, $run, $dataset);
                DELETE FROM artifact_pins WHERE id = $pin;
                """, cancellationToken,
                ("$n", r.Name), ("$v", version.Version), ("$digest", draft.Digest), ("$size", draft.SizeBytes), ("$format", r.Format),
                ("$sig", RegistryText.SerializeSignature(draft.Signature)), ("$metrics", RegistryText.SerializeMetrics(r.Metrics)),
                ("$tags", RegistryText.SerializeTags(r.Tags)), ("$lineage", RegistryText.SerializeLineage(version.Lineage)),
                ("$desc", r.Description), ("$now", now), ("$parent", r.Lineage.ParentVersion), ("$run", r.Lineage.TrainingRunId),
                ("$dataset", r.Lineage.DatasetDigest), ("$pin", pin.ToString("N"))).ConfigureAwait(false);
            await AppendChangeAsync(c, t, RegistryChangeKind.VersionRegistered, r.Name, version.Version, null, null, now, null, null, cancellationToken).ConfigureAwait(false);
            return version;
        }, "record a new version", cancellationToken);

    public async Task<ModelVersion?> FindVersionAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.Parameters.AddWithValue("$name", reference.Name);
            if (reference.Alias is not null)
            {
                command.CommandText =
                    $"SELECT {VersionColumns} FROM aliases a JOIN model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = $name AND a.alias = $alias;";
                command.Parameters.AddWithValue("$alias", reference.Alias);
            }
            else if (reference.Version is int number)
            {
                command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name AND v.version = $version;";
                command.Parameters.AddWithValue("$version", number);
            }
            else
            {
                command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name AND v.archived = 0 ORDER BY v.version DESC LIMIT 1;";
            }

            List<ModelVersion> found = await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
            return found.Count == 0 ? null : found[0];
        }
    }

    public async Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT name FROM models m WHERE EXISTS (SELECT 1 FROM model_versions v WHERE v.name = m.name) ORDER BY name;";
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
    }

    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name ORDER BY v.version;";
            command.Parameters.AddWithValue("$name", name);
            return await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyDictionary<string, int>> GetAliasesAsync(string name, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ReadAliasesAsync(connection, null, name, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<AliasChange?> SetAliasAsync(
        string name, string alias, int version, bool compare, int? expectedVersion, AliasChangeInfo info, DateTimeOffset now,
        CancellationToken cancellationToken = default) =>
        WriteAsync<AliasChange?>(async (c, t) =>
        {
            int? current = await ReadAliasAsync(c, t, name, alias, cancellationToken).ConfigureAwait(false);
            if (compare && current != expectedVersion)
            {
                throw new AliasConflictException(name, alias, expectedVersion, current);
            }

            long archived = await ScalarLongAsync(c, t, "SELECT COALESCE((SELECT archived + 1 FROM model_versions WHERE name = $n AND version = $v), 0);", cancellationToken,
                ("$n", name), ("$v", version)).ConfigureAwait(false);
            if (archived == 0)
            {
                throw new ModelNotFoundException(ModelReference.ForVersion(name, version).ToString(),
                    string.Create(CultureInfo.InvariantCulture, $"Cannot point alias '{alias}' of model '{name}' at version {version}: the version does not exist."));
            }

            if (archived == 2)
            {
                throw ArchivedTarget(name, alias, version);
            }

            if (current == version)
            {
                return null;
            }

            string at = RegistryText.FormatTime(now);
            await ExecAsync(c, t, """
                INSERT INTO aliases (name, alias, version, updated_at) VALUES ($n, $a, $v, $now)
                    ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
                """, cancellationToken, ("$n", name), ("$a", alias), ("$v", version), ("$now", at)).ConfigureAwait(false);
            long seq = await AppendChangeAsync(c, t, RegistryChangeKind.AliasMoved, name, version, alias, current, at, info.ChangedBy, info.Reason, cancellationToken).ConfigureAwait(false);
            return new AliasChange(seq, name, alias, current, version, RegistryText.ParseTime(at), info.ChangedBy, info.Reason);
        }, "move an alias", cancellationToken);

    public Task<AliasChange?> RemoveAliasAsync(string name, string alias, AliasChangeInfo info, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync<AliasChange?>(async (c, t) =>
        {
            int? current = await ReadAliasAsync(c, t, name, alias, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            string at = RegistryText.FormatTime(now);
            await ExecAsync(c, t, "DELETE FROM aliases WHERE name = $n AND alias = $a;", cancellationToken, ("$n", name), ("$a", alias)).ConfigureAwait(false);
            long seq = await AppendChangeAsync(c, t, RegistryChangeKind.AliasRemoved, name, null, alias, current, at, info.ChangedBy, info.Reason, cancellationToken).ConfigureAwait(false);
            return new AliasChange(seq, name, alias, current, null, RegistryText.ParseTime(at), info.ChangedBy, info.Reason);
        }, "remove an alias", cancellationToken);

    public async Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string name, string? alias, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText =
                "SELECT seq, alias, old_version, version, changed_at, changed_by, reason FROM changes " +
                "WHERE name = $n AND kind IN (2, 3) AND ($a IS NULL OR alias = $a) ORDER BY seq;";
            command.Parameters.AddWithValue("$n", name);
            command.Parameters.AddWithValue("$a", (object?)alias ?? DBNull.Value);
            var history = new List<AliasChange>();
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    history.Add(new AliasChange(
                        reader.GetInt64(0), name, reader.GetString(1),
                        reader.IsDBNull(2) ? null : reader.GetInt32(2),
                        reader.IsDBNull(3) ? null : reader.GetInt32(3),
                        RegistryText.ParseTime(reader.GetString(4)),
                        reader.IsDBNull(5) ? null : reader.GetString(5),
                        reader.IsDBNull(6) ? null : reader.GetString(6)));
                }
            }

            return history;
        }
    }

    public Task<ModelVersion> UpdateVersionAsync(string name, int version, ModelVersionUpdate update, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            ModelVersion current = await ReadVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            (Dictionary<string, string> tags, Dictionary<string, double> metrics) = RegistryText.Apply(current.Tags, current.Metrics, update);
            await ExecAsync(c, t, "UPDATE model_versions SET tags_json = $tags, metrics_json = $metrics WHERE name = $n AND version = $v;", cancellationToken,
                ("$tags", RegistryText.SerializeTags(tags)), ("$metrics", RegistryText.SerializeMetrics(metrics)), ("$n", name), ("$v", version)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, RegistryChangeKind.VersionUpdated, name, version, null, null, RegistryText.FormatTime(now), null, null, cancellationToken).ConfigureAwait(false);
            return current with { Tags = tags, Metrics = metrics };
        }, "update a version", cancellationToken);

    public Task<ModelVersion> ArchiveVersionAsync(string name, int version, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            ModelVersion current = await ReadVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            await ThrowIfAliasedAsync(c, t, name, version, "archive", cancellationToken).ConfigureAwait(false);
            if (current.IsArchived)
            {
                return current;
            }

            await ExecAsync(c, t, "UPDATE model_versions SET archived = 1 WHERE name = $n AND version = $v;", cancellationToken, ("$n", name), ("$v", version)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, RegistryChangeKind.VersionArchived, name, version, null, null, RegistryText.FormatTime(now), null, null, cancellationToken).ConfigureAwait(false);
            return current with { IsArchived = true };
        }, "archive a version", cancellationToken);

    public Task<ModelVersion> DeleteVersionAsync(string name, int version, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            ModelVersion current = await ReadVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            await ThrowIfAliasedAsync(c, t, name, version, "delete", cancellationToken).ConfigureAwait(false);
            await ExecAsync(c, t, """
                DELETE FROM model_attachments WHERE name = $n AND version = $v;
                DELETE FROM model_versions WHERE name = $n AND version = $v;
                """, cancellationToken, ("$n", name), ("$v", version)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, RegistryChangeKind.VersionDeleted, name, version, null, null, RegistryText.FormatTime(now), null, null, cancellationToken).ConfigureAwait(false);
            return current;
        }, "delete a version", cancellationToken);

    public Task<ModelAttachment> PutAttachmentAsync(ModelAttachment attachment, Guid pin, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            if (!await VersionExistsAsync(c, t, attachment.Model, attachment.Version, cancellationToken).ConfigureAwait(false))
            {
                throw VersionNotFound(attachment.Model, attachment.Version);
            }

            string at = RegistryText.FormatTime(attachment.CreatedAt);
            await ExecAsync(c, t, """
                INSERT INTO model_attachments (name, version, attachment, media_type, digest, size_bytes, created_at)
                VALUES ($n, $v, $att, $media, $d, $size, $at)
                ON CONFLICT (name, version, attachment) DO UPDATE SET
                    media_type = excluded.media_type, digest = excluded.digest, size_bytes = excluded.size_bytes, created_at = excluded.created_at;
                DELETE FROM artifact_pins WHERE id = $pin;
                """, cancellationToken,
                ("$n", attachment.Model), ("$v", attachment.Version), ("$att", attachment.Name), ("$media", attachment.MediaType), ("$d", attachment.Digest),
                ("$size", attachment.SizeBytes), ("$at", at), ("$pin", pin.ToString("N"))).ConfigureAwait(false);
            await AppendChangeAsync(c, t, RegistryChangeKind.AttachmentAdded, attachment.Model, attachment.Version, null, null, at, null, null, cancellationToken,
                attachment.Name).ConfigureAwait(false);
            return attachment with { CreatedAt = RegistryText.ParseTime(at) };
        }, "record an attachment", cancellationToken);

    public async Task<ModelAttachment?> FindAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await FindAttachmentAsync(connection, null, name, version, attachmentName, cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<ModelAttachment>?> ListAttachmentsAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // One read transaction: the version check and the list see the same snapshot.
            using SqliteTransaction transaction = connection.BeginTransaction(deferred: true);
            if (!await VersionExistsAsync(connection, transaction, name, version, cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            using SqliteCommand command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"SELECT {AttachmentColumns} FROM model_attachments WHERE name = $n AND version = $v ORDER BY attachment;";
            command.Parameters.AddWithValue("$n", name);
            command.Parameters.AddWithValue("$v", version);
            return await ReadAttachmentsAsync(command, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task<ModelAttachment?> DeleteAttachmentAsync(string name, int version, string attachmentName, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync<ModelAttachment?>(async (c, t) =>
        {
            if (!await VersionExistsAsync(c, t, name, version, cancellationToken).ConfigureAwait(false))
            {
                throw VersionNotFound(name, version);
            }

            ModelAttachment? current = await FindAttachmentAsync(c, t, name, version, attachmentName, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            await ExecAsync(c, t, "DELETE FROM model_attachments WHERE name = $n AND version = $v AND attachment = $att;", cancellationToken,
                ("$n", name), ("$v", version), ("$att", attachmentName)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, RegistryChangeKind.AttachmentDeleted, name, version, null, null, RegistryText.FormatTime(now), null, null, cancellationToken,
                attachmentName).ConfigureAwait(false);
            return current;
        }, "delete an attachment", cancellationToken);

    public async Task<ModelSearchResult> SearchAsync(ModelSearchQuery query, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            var sql = new StringBuilder($"SELECT {VersionColumns} FROM model_versions v WHERE 1 = 1");
            if (!string.IsNullOrEmpty(query.NamePrefix))
            {
                sql.Append(" AND substr(v.name, 1, $plen) = $prefix");
                command.Parameters.AddWithValue("$plen", query.NamePrefix.Length);
                command.Parameters.AddWithValue("$prefix", query.NamePrefix);
            }

            if (!query.IncludeArchived)
            {
                sql.Append(" AND v.archived = 0");
            }

            if (query.TrainingRunId is not null)
            {
                sql.Append(" AND v.training_run_id = $run");
                command.Parameters.AddWithValue("$run", query.TrainingRunId);
            }

            if (query.DatasetDigest is not null)
            {
                sql.Append(" AND v.dataset_digest = $dataset");
                command.Parameters.AddWithValue("$dataset", query.DatasetDigest);
            }

            int i = 0;
            foreach (KeyValuePair<string, string> tag in query.Tags)
            {
                sql.Append(CultureInfo.InvariantCulture, $" AND json_extract(v.tags_json, $tk{i}) = $tv{i}");
                command.Parameters.AddWithValue($"$tk{i}", RegistryText.JsonPath(tag.Key));
                command.Parameters.AddWithValue($"$tv{i}", tag.Value);
                i++;
            }

            i = 0;
            foreach (MetricFilter metric in query.Metrics)
            {
                sql.Append(CultureInfo.InvariantCulture, $" AND json_extract(v.metrics_json, $mk{i}) {(metric.AtMost ? "<=" : ">=")} $mv{i}");
                command.Parameters.AddWithValue($"$mk{i}", RegistryText.JsonPath(metric.Key));
                command.Parameters.AddWithValue($"$mv{i}", metric.Threshold);
                i++;
            }

            switch (query.OrderBy)
            {
                case ModelSearchOrder.MetricAscending or ModelSearchOrder.MetricDescending:
                    command.Parameters.AddWithValue("$ok", RegistryText.JsonPath(query.OrderByMetric!));
                    sql.Append(" ORDER BY json_extract(v.metrics_json, $ok) IS NULL, json_extract(v.metrics_json, $ok) ")
                        .Append(query.OrderBy == ModelSearchOrder.MetricAscending ? "ASC" : "DESC")
                        .Append(", v.created_at DESC, v.name, v.version");
                    break;
                case ModelSearchOrder.CreatedAscending:
                    sql.Append(" ORDER BY v.created_at ASC, v.name, v.version");
                    break;
                default:
                    sql.Append(" ORDER BY v.created_at DESC, v.name, v.version DESC");
                    break;
            }

            sql.Append(" LIMIT $take OFFSET $skip;");
            command.Parameters.AddWithValue("$take", query.Take + 1);
            command.Parameters.AddWithValue("$skip", query.Skip);
            command.CommandText = sql.ToString();
            List<ModelVersion> rows = await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
            bool more = rows.Count > query.Take;
            if (more)
            {
                rows.RemoveAt(rows.Count - 1);
            }

            return new ModelSearchResult(rows, more);
        }
    }

    public Task<ArtifactDeletionCheck> TryBeginArtifactDeletionAsync(string digest, DateTimeOffset abandonPinsBefore, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            if (await ScalarLongAsync(c, t,
                    "SELECT EXISTS (SELECT 1 FROM model_versions WHERE digest = $d) OR EXISTS (SELECT 1 FROM model_attachments WHERE digest = $d);",
                    cancellationToken, ("$d", digest)).ConfigureAwait(false) != 0)
            {
                return ArtifactDeletionCheck.Referenced;
            }

            await ExecAsync(c, t, "DELETE FROM artifact_pins WHERE digest = $d AND created_at < $before;", cancellationToken,
                ("$d", digest), ("$before", RegistryText.FormatTime(abandonPinsBefore))).ConfigureAwait(false);
            if (await ScalarLongAsync(c, t, "SELECT COUNT(*) FROM artifact_pins WHERE digest = $d;", cancellationToken, ("$d", digest)).ConfigureAwait(false) > 0)
            {
                return ArtifactDeletionCheck.Pinned;
            }

            await ExecAsync(c, t, "INSERT INTO artifact_deletions (digest, started_at) VALUES ($d, $now) ON CONFLICT (digest) DO NOTHING;", cancellationToken,
                ("$d", digest), ("$now", RegistryText.FormatTime(_timeProvider.GetUtcNow()))).ConfigureAwait(false);
            return ArtifactDeletionCheck.MayDelete;
        }, "check an artifact for deletion", cancellationToken);

    public Task EndArtifactDeletionAsync(string digest, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            await ExecAsync(c, t, "DELETE FROM artifact_deletions WHERE digest = $d;", cancellationToken, ("$d", digest)).ConfigureAwait(false);
            return true;
        }, "end an artifact deletion", cancellationToken);

    public async Task<long> GetLatestChangeSequenceAsync(CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            return await ScalarLongAsync(connection, null, "SELECT COALESCE(MAX(seq), 0) FROM changes;", cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<IReadOnlyList<RegistryChange>> ReadChangesAsync(long afterSequence, int maxCount, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT seq, kind, name, version, alias, old_version, changed_at, attachment FROM changes WHERE seq > $after ORDER BY seq LIMIT $max;";
            command.Parameters.AddWithValue("$after", afterSequence);
            command.Parameters.AddWithValue("$max", maxCount);
            var changes = new List<RegistryChange>();
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    changes.Add(new RegistryChange(
                        reader.GetInt64(0), (RegistryChangeKind)reader.GetInt32(1), reader.GetString(2),
                        reader.IsDBNull(3) ? null : reader.GetInt32(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        reader.IsDBNull(5) ? null : reader.GetInt32(5),
                        RegistryText.ParseTime(reader.GetString(6)))
                    {
                        Attachment = reader.IsDBNull(7) ? null : reader.GetString(7),
                    });
                }
            }

            return changes;
        }
    }

    public async Task WaitForChangesAsync(long afterSequence, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        Task local = _localChanges.WaitAsync();
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            // PRAGMA data_version changes on this connection whenever another connection (any thread or process) commits.
            long dataVersion = await ScalarLongAsync(connection, null, "PRAGMA data_version;", cancellationToken).ConfigureAwait(false);
            if (await ScalarLongAsync(connection, null, "SELECT COALESCE(MAX(seq), 0) FROM changes;", cancellationToken).ConfigureAwait(false) > afterSequence)
            {
                return;
            }

            long deadline = _timeProvider.GetTimestamp();
            while (_timeProvider.GetElapsedTime(deadline) < timeout)
            {
                Task delay = Task.Delay(_pollInterval, _timeProvider, cancellationToken);
                if (await Task.WhenAny(local, delay).ConfigureAwait(false) == local)
                {
                    return;
                }

                await delay.ConfigureAwait(false);
                if (await ScalarLongAsync(connection, null, "PRAGMA data_version;", cancellationToken).ConfigureAwait(false) != dataVersion)
                {
                    return;
                }
            }
        }
    }

    private static ModelKitException ArchivedTarget(string name, string alias, int version) =>
        new(string.Create(CultureInfo.InvariantCulture,
            $"Cannot point alias '{alias}' of model '{name}' at version {version}: the version is archived. Register a new version or pick another one."));

    private static async Task ThrowIfAliasedAsync(SqliteConnection c, SqliteTransaction t, string name, int version, string operation, CancellationToken cancellationToken)
    {
        using SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = "SELECT alias FROM aliases WHERE name = $n AND version = $v ORDER BY alias;";
        command.Parameters.AddWithValue("$n", name);
        command.Parameters.AddWithValue("$v", version);
        var aliases = new List<string>();
        SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                aliases.Add(reader.GetString(0));
            }
        }

        if (aliases.Count > 0)
        {
            throw new ModelVersionInUseException(name, version, aliases, operation);
        }
    }

    private async Task<ModelVersion> ReadVersionOrThrowAsync(SqliteConnection c, SqliteTransaction t, string name, int version, CancellationToken cancellationToken)
    {
        using SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = $"SELECT {VersionColumns} FROM model_versions v WHERE v.name = $name AND v.version = $version;";
        command.Parameters.AddWithValue("$name", name);
        command.Parameters.AddWithValue("$version", version);
        List<ModelVersion> found = await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
        return found.Count == 1
            ? found[0]
            : throw new ModelNotFoundException(ModelReference.ForVersion(name, version).ToString(),
                string.Create(CultureInfo.InvariantCulture, $"Model '{name}' has no version {version}."));
    }

    private static async Task<int?> ReadAliasAsync(SqliteConnection c, SqliteTransaction t, string name, string alias, CancellationToken cancellationToken)
    {
        using SqliteCommand read = c.CreateCommand();
        read.Transaction = t;
        read.CommandText = "SELECT version FROM aliases WHERE name = $n AND alias = $a;";
        read.Parameters.AddWithValue("$n", name);
        read.Parameters.AddWithValue("$a", alias);
        object? value = await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? null : Convert.ToInt32(value, CultureInfo.InvariantCulture);
    }

    private static async Task<long> AppendChangeAsync(
        SqliteConnection c, SqliteTransaction t, RegistryChangeKind kind, string name, int? version, string? alias, int? oldVersion, string at,
        string? changedBy, string? reason, CancellationToken cancellationToken, string? attachment = null) =>
        // INTEGER PRIMARY KEY = MAX(seq) + 1 inside the write lock: gap-free and in commit order.
        await ScalarLongAsync(c, t, """
            INSERT INTO changes (kind, name, version, alias, old_version, changed_at, changed_by, reason, attachment)
            VALUES ($kind, $n, $v, $a, $old, $at, $by, $reason, $att) RETURNING seq;
            """, cancellationToken,
            ("$kind", (int)kind), ("$n", name), ("$v", version), ("$a", alias), ("$old", oldVersion), ("$at", at), ("$by", changedBy), ("$reason", reason),
            ("$att", attachment)).ConfigureAwait(false);

    private const string AttachmentColumns = "name, version, attachment, media_type, digest, size_bytes, created_at";

    private static ModelAttachment ReadAttachment(SqliteDataReader reader) =>
        new(reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt64(5),
            RegistryText.ParseTime(reader.GetString(6)));

    private static async Task<List<ModelAttachment>> ReadAttachmentsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var attachments = new List<ModelAttachment>();
        SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                attachments.Add(ReadAttachment(reader));
            }
        }

        return attachments;
    }

    private static async Task<ModelAttachment?> FindAttachmentAsync(
        SqliteConnection c, SqliteTransaction? t, string name, int version, string attachmentName, CancellationToken cancellationToken)
    {
        using SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = $"SELECT {AttachmentColumns} FROM model_attachments WHERE name = $n AND version = $v AND attachment = $att;";
        command.Parameters.AddWithValue("$n", name);
        command.Parameters.AddWithValue("$v", version);
        command.Parameters.AddWithValue("$att", attachmentName);
        List<ModelAttachment> found = await ReadAttachmentsAsync(command, cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    private static async Task<bool> VersionExistsAsync(SqliteConnection c, SqliteTransaction? t, string name, int version, CancellationToken cancellationToken) =>
        await ScalarLongAsync(c, t, "SELECT COUNT(*) FROM model_versions WHERE name = $n AND version = $v;", cancellationToken, ("$n", name), ("$v", version)).ConfigureAwait(false) > 0;

    private static ModelNotFoundException VersionNotFound(string name, int version) =>
        new(ModelReference.ForVersion(name, version).ToString(), string.Create(CultureInfo.InvariantCulture, $"Model '{name}' has no version {version}."));

    private static async Task<IReadOnlyDictionary<string, int>> ReadAliasesAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string name, CancellationToken cancellationToken)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT alias, version FROM aliases WHERE name = $name ORDER BY alias;";
        command.Parameters.AddWithValue("$name", name);
        var aliases = new SortedDictionary<string, int>(StringComparer.Ordinal);
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

    private async Task<List<ModelVersion>> ReadVersionsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
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

    private ModelVersion ReadVersion(SqliteDataReader reader) =>
        RegistryText.ReadVersion(reader, static (r, i) => RegistryText.ParseTime(r.GetString(i)), $"'{DatabasePath}'");

    /// <summary>Runs <paramref name="work"/> in a <c>BEGIN IMMEDIATE</c> transaction and commits it.</summary>
    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, string what, CancellationToken cancellationToken)
    {
        SqliteConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            try
            {
                using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
                T result = await work(connection, transaction).ConfigureAwait(false);
                transaction.Commit();
                _localChanges.Pulse();
                return result;
            }
            catch (SqliteException ex)
            {
                throw new ModelKitException(
                    $"Could not {what} in '{DatabasePath}': {ex.Message} (SQLite error {ex.SqliteErrorCode}). Nothing was changed; retry, and check the disk and the file's permissions.", ex);
            }
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_initialized)
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        return await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using SqliteCommand command = connection.CreateCommand();
            // synchronous = FULL: see the class remarks. Both settings are per connection.
            command.CommandText = "PRAGMA busy_timeout = " + BusyTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture) + "; PRAGMA synchronous = FULL;";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return connection;
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw new ModelKitException(
                $"Could not open the registry database '{DatabasePath}': {ex.Message} (SQLite error {ex.SqliteErrorCode}). " +
                "Check that ModelKitOptions.DataDirectory is writable and the file is a ModelKit registry database.", ex);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_initialized)
            {
                return;
            }

            _beforeFirstUse?.Invoke();
            SqliteConnection connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    using (SqliteCommand wal = connection.CreateCommand())
                    {
                        wal.CommandText = "PRAGMA journal_mode = WAL;";
                        await wal.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }

                    await MigrateAsync(connection, cancellationToken).ConfigureAwait(false);
                }
                catch (SqliteException ex)
                {
                    throw new ModelKitException(
                        $"Could not prepare the registry database '{DatabasePath}': {ex.Message} (SQLite error {ex.SqliteErrorCode}). " +
                        "Check that the file is a ModelKit registry database and that the directory is writable.", ex);
                }
            }

            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    private async Task MigrateAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        // BEGIN IMMEDIATE: two processes opening a new directory at once migrate it exactly once.
        using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        long current = await ScalarLongAsync(connection, transaction, "PRAGMA user_version;", cancellationToken).ConfigureAwait(false);
        if (current > SchemaVersion)
        {
            throw new ModelKitException(
                $"The registry database '{DatabasePath}' has schema version {current}, newer than this ModelKit.Registry " +
                $"understands ({SchemaVersion}). Upgrade the ModelKit.Registry package, or point ModelKitOptions.DataDirectory at another directory.");
        }

        if (current == SchemaVersion)
        {
            return;
        }

        foreach ((int target, string sql) in SqliteMigrations.All)
        {
            if (current < target)
            {
                await ExecAsync(connection, transaction, sql, cancellationToken).ConfigureAwait(false);
            }
        }

        await ExecAsync(connection, transaction, "PRAGMA user_version = " + SchemaVersion.ToString(CultureInfo.InvariantCulture) + ";", cancellationToken).ConfigureAwait(false);
        transaction.Commit();
        RegistryLog.SchemaMigrated(_logger, DatabasePath, current, SchemaVersion);
    }

    private static async Task ExecAsync(SqliteConnection c, SqliteTransaction? t, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        using SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = sql;
        foreach ((string name, object? value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> ScalarLongAsync(SqliteConnection c, SqliteTransaction? t, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        using SqliteCommand command = c.CreateCommand();
        command.Transaction = t;
        command.CommandText = sql;
        foreach ((string name, object? value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        object? result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return Convert.ToInt64(result, CultureInfo.InvariantCulture);
    }
}
