using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelKit.Registry.Internal;
using Npgsql;
using NpgsqlTypes;

namespace ModelKit.Registry.PostgreSql.Internal;

/// <summary>
/// The registry's metadata in PostgreSQL. Thread-safe; any number of processes on any number of hosts may share one database.
/// </summary>
/// <remarks>
/// Concurrency: every transaction that appends to the change sequence first takes the row lock of <c>change_counter</c>
/// (<c>UPDATE … RETURNING</c>), so changes are numbered without gaps in commit order; version numbers come from the model's
/// <c>last_version</c> row under its row lock, so they are consecutive without gaps or duplicates. Pins, version inserts and
/// garbage collection's deletion marks of one digest are serialized by a transaction-scoped advisory lock on the digest.
/// Each committed change sends <c>NOTIFY modelkit_changes</c>; one listening connection per store wakes change-feed readers.
/// </remarks>
internal sealed class PostgreSqlMetadataStore : IModelMetadataStore, IAsyncDisposable, IDisposable
{
    public const int SchemaVersion = 2;
    private const string Channel = "modelkit_changes";
    private const long MigrationLockKey = 0x4D4B_5245_4749; // "MKREGI"

    private readonly NpgsqlDataSource _dataSource;
    private readonly string _s;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private readonly ChangeSignal _signal = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _listenerLock = new();
    private Task? _listener;
    private volatile bool _initialized;

    public PostgreSqlMetadataStore(PostgreSqlRegistryOptions options, TimeProvider timeProvider, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.ConnectionString);
        _s = options.Schema;
        _timeProvider = timeProvider;
        _logger = logger ?? NullLogger.Instance;
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        Description = $"PostgreSQL database '{builder.Database}' on '{builder.Host}:{builder.Port}' schema '{_s}'";
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public string Description { get; }

    public async Task<Guid> PinArtifactAsync(string digest, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        Guid pin = Guid.NewGuid();
        while (true)
        {
            bool pinned = await WriteAsync(async (c, t) =>
            {
                await LockDigestAsync(c, t, digest, cancellationToken).ConfigureAwait(false);
                if (await ScalarLongAsync(c, t, $"SELECT COUNT(*) FROM {_s}.artifact_deletions WHERE digest = @d;", cancellationToken, ("d", digest)).ConfigureAwait(false) > 0)
                {
                    return false;
                }

                await ExecAsync(c, t, $"INSERT INTO {_s}.artifact_pins (id, digest, created_at) VALUES (@id, @d, @now);", cancellationToken,
                    ("id", pin), ("d", digest), ("now", Utc(now))).ConfigureAwait(false);
                return true;
            }, "pin an artifact", cancellationToken).ConfigureAwait(false);
            if (pinned)
            {
                return pin;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), _timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task UnpinArtifactAsync(Guid pin, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            await ExecAsync(c, t, $"DELETE FROM {_s}.artifact_pins WHERE id = @id;", cancellationToken, ("id", pin)).ConfigureAwait(false);
            return true;
        }, "release an artifact pin", cancellationToken);

    public Task<ModelVersion> AddVersionAsync(ModelVersionDraft draft, Guid pin, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            ModelRegistration r = draft.Registration;
            DateTimeOffset createdAt = Utc(draft.CreatedAt);
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            await LockDigestAsync(c, t, draft.Digest, cancellationToken).ConfigureAwait(false);
            if (r.Lineage.ParentVersion is int parent &&
                await ScalarLongAsync(c, t, $"SELECT COUNT(*) FROM {_s}.model_versions WHERE name = @n AND version = @v;", cancellationToken, ("n", r.Name), ("v", parent)).ConfigureAwait(false) == 0)
            {
                throw new ModelNotFoundException(ModelReference.ForVersion(r.Name, parent).ToString(),
                    string.Create(CultureInfo.InvariantCulture, $"The lineage parent of the new version of model '{r.Name}', version {parent}, does not exist; nothing was stored."));
            }

            await ExecAsync(c, t, $"INSERT INTO {_s}.models (name, created_at, last_version) VALUES (@n, @now, 0) ON CONFLICT (name) DO NOTHING;", cancellationToken,
                ("n", r.Name), ("now", createdAt)).ConfigureAwait(false);
            int number = checked((int)await ScalarLongAsync(c, t, $"UPDATE {_s}.models SET last_version = last_version + 1 WHERE name = @n RETURNING last_version;", cancellationToken,
                ("n", r.Name)).ConfigureAwait(false));
            var version = new ModelVersion
            {
                Name = r.Name,
                Version = number,
                Digest = draft.Digest,
                SizeBytes = draft.SizeBytes,
                Format = r.Format,
                Signature = draft.Signature,
                Metrics = new Dictionary<string, double>(r.Metrics, StringComparer.Ordinal),
                Tags = new Dictionary<string, string>(r.Tags, StringComparer.Ordinal),
                Lineage = r.Lineage with { Parameters = new Dictionary<string, string>(r.Lineage.Parameters, StringComparer.Ordinal) },
                Description = r.Description,
                CreatedAt = createdAt,
            };
            using (NpgsqlCommand insert = Command(c, t, $"""
                INSERT INTO {_s}.model_versions
                    (name, version, digest, size_bytes, format, signature_json, metrics, tags, lineage_json, description, created_at,
                     archived, parent_version, training_run_id, dataset_digest)
                VALUES (@n, @v, @digest, @size, @format, @sig, @metrics, @tags, @lineage, @desc, @now, false, @parent, @run, @dataset);
                DELETE FROM {_s}.artifact_pins WHERE id = @pin;
                """,
                ("n", r.Name), ("v", number), ("digest", draft.Digest), ("size", draft.SizeBytes), ("format", r.Format),
                ("sig", RegistryText.SerializeSignature(draft.Signature)), ("lineage", RegistryText.SerializeLineage(version.Lineage)),
                ("desc", r.Description), ("now", createdAt), ("parent", r.Lineage.ParentVersion), ("run", r.Lineage.TrainingRunId),
                ("dataset", r.Lineage.DatasetDigest), ("pin", pin)))
            {
                insert.Parameters.Add(new NpgsqlParameter("metrics", NpgsqlDbType.Jsonb) { Value = RegistryText.SerializeMetrics(r.Metrics) });
                insert.Parameters.Add(new NpgsqlParameter("tags", NpgsqlDbType.Jsonb) { Value = RegistryText.SerializeTags(r.Tags) });
                await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await AppendChangeAsync(c, t, seq, RegistryChangeKind.VersionRegistered, r.Name, number, null, null, createdAt, null, null, cancellationToken).ConfigureAwait(false);
            return version;
        }, "record a new version", cancellationToken);

    public async Task<ModelVersion?> FindVersionAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        string sql = reference.Alias is not null
            ? $"SELECT {Columns("v")} FROM {_s}.aliases a JOIN {_s}.model_versions v ON v.name = a.name AND v.version = a.version WHERE a.name = @n AND a.alias = @a;"
            : reference.Version is not null
                ? $"SELECT {Columns("v")} FROM {_s}.model_versions v WHERE v.name = @n AND v.version = @v;"
                : $"SELECT {Columns("v")} FROM {_s}.model_versions v WHERE v.name = @n AND NOT v.archived ORDER BY v.version DESC LIMIT 1;";
        NpgsqlCommand command = Command(c, null, sql, ("n", reference.Name), ("a", reference.Alias), ("v", reference.Version));
        await using var commandDisposal = command.ConfigureAwait(false);
        List<ModelVersion> found = await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    public async Task<IReadOnlyList<string>> ListModelsAsync(CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        NpgsqlCommand command = Command(c, null,
            $"SELECT name FROM {_s}.models m WHERE EXISTS (SELECT 1 FROM {_s}.model_versions v WHERE v.name = m.name) ORDER BY name COLLATE \"C\";");
        await using var commandDisposal = command.ConfigureAwait(false);
        var names = new List<string>();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    public async Task<IReadOnlyList<ModelVersion>> ListVersionsAsync(string name, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        NpgsqlCommand command = Command(c, null, $"SELECT {Columns("v")} FROM {_s}.model_versions v WHERE v.name = @n ORDER BY v.version;", ("n", name));
        await using var commandDisposal = command.ConfigureAwait(false);
        return await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyDictionary<string, int>> GetAliasesAsync(string name, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        NpgsqlCommand command = Command(c, null, $"SELECT alias, version FROM {_s}.aliases WHERE name = @n;", ("n", name));
        await using var commandDisposal = command.ConfigureAwait(false);
        var aliases = new SortedDictionary<string, int>(StringComparer.Ordinal);
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            aliases.Add(reader.GetString(0), reader.GetInt32(1));
        }

        return aliases;
    }

    public Task<AliasChange?> SetAliasAsync(
        string name, string alias, int version, bool compare, int? expectedVersion, AliasChangeInfo info, DateTimeOffset now,
        CancellationToken cancellationToken = default) =>
        WriteAsync<AliasChange?>(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            int? current = await ReadAliasAsync(c, t, name, alias, cancellationToken).ConfigureAwait(false);
            if (compare && current != expectedVersion)
            {
                throw new AliasConflictException(name, alias, expectedVersion, current);
            }

            long state = await ScalarLongAsync(c, t, $"SELECT COALESCE((SELECT CASE WHEN archived THEN 2 ELSE 1 END FROM {_s}.model_versions WHERE name = @n AND version = @v), 0);",
                cancellationToken, ("n", name), ("v", version)).ConfigureAwait(false);
            if (state == 0)
            {
                throw new ModelNotFoundException(ModelReference.ForVersion(name, version).ToString(),
                    string.Create(CultureInfo.InvariantCulture, $"Cannot point alias '{alias}' of model '{name}' at version {version}: the version does not exist."));
            }

            if (state == 2)
            {
                throw new ModelKitException(string.Create(CultureInfo.InvariantCulture,
                    $"Cannot point alias '{alias}' of model '{name}' at version {version}: the version is archived. Register a new version or pick another one."));
            }

            if (current == version)
            {
                throw new NoChangeException();
            }

            DateTimeOffset at = Utc(now);
            await ExecAsync(c, t, $"""
                INSERT INTO {_s}.aliases (name, alias, version, updated_at) VALUES (@n, @a, @v, @now)
                    ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at;
                """, cancellationToken, ("n", name), ("a", alias), ("v", version), ("now", at)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, seq, RegistryChangeKind.AliasMoved, name, version, alias, current, at, info.ChangedBy, info.Reason, cancellationToken).ConfigureAwait(false);
            return new AliasChange(seq, name, alias, current, version, at, info.ChangedBy, info.Reason);
        }, "move an alias", cancellationToken);

    public Task<AliasChange?> RemoveAliasAsync(string name, string alias, AliasChangeInfo info, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync<AliasChange?>(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            int? current = await ReadAliasAsync(c, t, name, alias, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                throw new NoChangeException();
            }

            DateTimeOffset at = Utc(now);
            await ExecAsync(c, t, $"DELETE FROM {_s}.aliases WHERE name = @n AND alias = @a;", cancellationToken, ("n", name), ("a", alias)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, seq, RegistryChangeKind.AliasRemoved, name, null, alias, current, at, info.ChangedBy, info.Reason, cancellationToken).ConfigureAwait(false);
            return new AliasChange(seq, name, alias, current, null, at, info.ChangedBy, info.Reason);
        }, "remove an alias", cancellationToken);

    public async Task<IReadOnlyList<AliasChange>> GetAliasHistoryAsync(string name, string? alias, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        NpgsqlCommand command = Command(c, null,
            $"SELECT seq, alias, old_version, version, changed_at, changed_by, reason FROM {_s}.changes " +
            "WHERE name = @n AND kind IN (2, 3) AND (@a::text IS NULL OR alias = @a::text) ORDER BY seq;", ("n", name), ("a", alias));
        await using var commandDisposal = command.ConfigureAwait(false);
        var history = new List<AliasChange>();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            history.Add(new AliasChange(
                reader.GetInt64(0), name, reader.GetString(1),
                reader.IsDBNull(2) ? null : reader.GetInt32(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3),
                reader.GetFieldValue<DateTimeOffset>(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetString(6)));
        }

        return history;
    }

    public Task<ModelVersion> UpdateVersionAsync(string name, int version, ModelVersionUpdate update, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            ModelVersion current = await ReadVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            (Dictionary<string, string> tags, Dictionary<string, double> metrics) = RegistryText.Apply(current.Tags, current.Metrics, update);
            using (NpgsqlCommand command = Command(c, t, $"UPDATE {_s}.model_versions SET tags = @tags, metrics = @metrics WHERE name = @n AND version = @v;",
                ("n", name), ("v", version)))
            {
                command.Parameters.Add(new NpgsqlParameter("metrics", NpgsqlDbType.Jsonb) { Value = RegistryText.SerializeMetrics(metrics) });
                command.Parameters.Add(new NpgsqlParameter("tags", NpgsqlDbType.Jsonb) { Value = RegistryText.SerializeTags(tags) });
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await AppendChangeAsync(c, t, seq, RegistryChangeKind.VersionUpdated, name, version, null, null, Utc(now), null, null, cancellationToken).ConfigureAwait(false);
            return current with { Tags = tags, Metrics = metrics };
        }, "update a version", cancellationToken);

    public Task<ModelVersion> ArchiveVersionAsync(string name, int version, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            ModelVersion current = await ReadVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            await ThrowIfAliasedAsync(c, t, name, version, "archive", cancellationToken).ConfigureAwait(false);
            if (current.IsArchived)
            {
                throw new NoChangeException(current);
            }

            await ExecAsync(c, t, $"UPDATE {_s}.model_versions SET archived = true WHERE name = @n AND version = @v;", cancellationToken, ("n", name), ("v", version)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, seq, RegistryChangeKind.VersionArchived, name, version, null, null, Utc(now), null, null, cancellationToken).ConfigureAwait(false);
            return current with { IsArchived = true };
        }, "archive a version", cancellationToken);

    public Task<ModelVersion> DeleteVersionAsync(string name, int version, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            ModelVersion current = await ReadVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            await ThrowIfAliasedAsync(c, t, name, version, "delete", cancellationToken).ConfigureAwait(false);
            await ExecAsync(c, t, $"""
                DELETE FROM {_s}.model_attachments WHERE name = @n AND version = @v;
                DELETE FROM {_s}.model_versions WHERE name = @n AND version = @v;
                """, cancellationToken, ("n", name), ("v", version)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, seq, RegistryChangeKind.VersionDeleted, name, version, null, null, Utc(now), null, null, cancellationToken).ConfigureAwait(false);
            return current;
        }, "delete a version", cancellationToken);

    public Task<ModelAttachment> PutAttachmentAsync(ModelAttachment attachment, Guid pin, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            // The digest lock orders this commit against garbage collection's reference check of the same digest.
            await LockDigestAsync(c, t, attachment.Digest, cancellationToken).ConfigureAwait(false);
            await LockVersionOrThrowAsync(c, t, attachment.Model, attachment.Version, cancellationToken).ConfigureAwait(false);
            DateTimeOffset at = Utc(attachment.CreatedAt);
            await ExecAsync(c, t, $"""
                INSERT INTO {_s}.model_attachments (name, version, attachment, media_type, digest, size_bytes, created_at)
                VALUES (@n, @v, @att, @media, @d, @size, @at)
                ON CONFLICT (name, version, attachment) DO UPDATE SET
                    media_type = excluded.media_type, digest = excluded.digest, size_bytes = excluded.size_bytes, created_at = excluded.created_at;
                DELETE FROM {_s}.artifact_pins WHERE id = @pin;
                """, cancellationToken,
                ("n", attachment.Model), ("v", attachment.Version), ("att", attachment.Name), ("media", attachment.MediaType), ("d", attachment.Digest),
                ("size", attachment.SizeBytes), ("at", at), ("pin", pin)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, seq, RegistryChangeKind.AttachmentAdded, attachment.Model, attachment.Version, null, null, at, null, null, cancellationToken,
                attachment.Name).ConfigureAwait(false);
            return attachment with { CreatedAt = at };
        }, "record an attachment", cancellationToken);

    public async Task<ModelAttachment?> FindAttachmentAsync(string name, int version, string attachmentName, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        return await FindAttachmentAsync(c, null, name, version, attachmentName, forUpdate: false, cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<ModelAttachment>?> ListAttachmentsAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        // One statement, one snapshot: the version row (present or not) and its attachments.
        NpgsqlCommand command = Command(c, null, $"""
            SELECT a.name, a.version, a.attachment, a.media_type, a.digest, a.size_bytes, a.created_at
            FROM {_s}.model_versions v LEFT JOIN {_s}.model_attachments a ON a.name = v.name AND a.version = v.version
            WHERE v.name = @n AND v.version = @v
            ORDER BY a.attachment COLLATE "C";
            """, ("n", name), ("v", version));
        await using var commandDisposal = command.ConfigureAwait(false);
        var attachments = new List<ModelAttachment>();
        bool versionExists = false;
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            versionExists = true;
            if (!reader.IsDBNull(2))
            {
                attachments.Add(new ModelAttachment(
                    reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt64(5),
                    reader.GetFieldValue<DateTimeOffset>(6)));
            }
        }

        return versionExists ? attachments : null;
    }

    public Task<ModelAttachment?> DeleteAttachmentAsync(string name, int version, string attachmentName, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        WriteAsync<ModelAttachment?>(async (c, t) =>
        {
            long seq = await NextSequenceAsync(c, t, cancellationToken).ConfigureAwait(false);
            await LockVersionOrThrowAsync(c, t, name, version, cancellationToken).ConfigureAwait(false);
            ModelAttachment? current = await FindAttachmentAsync(c, t, name, version, attachmentName, forUpdate: true, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                throw new NoChangeException();
            }

            await ExecAsync(c, t, $"DELETE FROM {_s}.model_attachments WHERE name = @n AND version = @v AND attachment = @att;", cancellationToken,
                ("n", name), ("v", version), ("att", attachmentName)).ConfigureAwait(false);
            await AppendChangeAsync(c, t, seq, RegistryChangeKind.AttachmentDeleted, name, version, null, null, Utc(now), null, null, cancellationToken,
                attachmentName).ConfigureAwait(false);
            return current;
        }, "delete an attachment", cancellationToken);

    public async Task<ModelSearchResult> SearchAsync(ModelSearchQuery query, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        NpgsqlCommand command = c.CreateCommand();
        await using var commandDisposal = command.ConfigureAwait(false);
        var sql = new StringBuilder($"SELECT {Columns("v")} FROM {_s}.model_versions v WHERE true");
        if (!string.IsNullOrEmpty(query.NamePrefix))
        {
            sql.Append(" AND left(v.name, @plen) = @prefix");
            command.Parameters.AddWithValue("plen", query.NamePrefix.Length);
            command.Parameters.AddWithValue("prefix", query.NamePrefix);
        }

        if (!query.IncludeArchived)
        {
            sql.Append(" AND NOT v.archived");
        }

        if (query.TrainingRunId is not null)
        {
            sql.Append(" AND v.training_run_id = @run");
            command.Parameters.AddWithValue("run", query.TrainingRunId);
        }

        if (query.DatasetDigest is not null)
        {
            sql.Append(" AND v.dataset_digest = @dataset");
            command.Parameters.AddWithValue("dataset", query.DatasetDigest);
        }

        int i = 0;
        foreach (KeyValuePair<string, string> tag in query.Tags)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND v.tags ->> @tk{i} = @tv{i}");
            command.Parameters.AddWithValue($"tk{i}", tag.Key);
            command.Parameters.AddWithValue($"tv{i}", tag.Value);
            i++;
        }

        i = 0;
        foreach (MetricFilter metric in query.Metrics)
        {
            sql.Append(CultureInfo.InvariantCulture, $" AND (v.metrics ->> @mk{i})::float8 {(metric.AtMost ? "<=" : ">=")} @mv{i}");
            command.Parameters.AddWithValue($"mk{i}", metric.Key);
            command.Parameters.AddWithValue($"mv{i}", metric.Threshold);
            i++;
        }

        switch (query.OrderBy)
        {
            case ModelSearchOrder.MetricAscending or ModelSearchOrder.MetricDescending:
                command.Parameters.AddWithValue("ok", query.OrderByMetric!);
                sql.Append(" ORDER BY (v.metrics ->> @ok)::float8 ")
                    .Append(query.OrderBy == ModelSearchOrder.MetricAscending ? "ASC" : "DESC")
                    .Append(" NULLS LAST, v.created_at DESC, v.name COLLATE \"C\", v.version");
                break;
            case ModelSearchOrder.CreatedAscending:
                sql.Append(" ORDER BY v.created_at ASC, v.name COLLATE \"C\", v.version");
                break;
            default:
                sql.Append(" ORDER BY v.created_at DESC, v.name COLLATE \"C\", v.version DESC");
                break;
        }

        sql.Append(" LIMIT @take OFFSET @skip;");
        command.Parameters.AddWithValue("take", query.Take + 1);
        command.Parameters.AddWithValue("skip", query.Skip);
        command.CommandText = sql.ToString();
        List<ModelVersion> rows = await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
        bool more = rows.Count > query.Take;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        return new ModelSearchResult(rows, more);
    }

    public Task<ArtifactDeletionCheck> TryBeginArtifactDeletionAsync(string digest, DateTimeOffset abandonPinsBefore, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            await LockDigestAsync(c, t, digest, cancellationToken).ConfigureAwait(false);
            if (await ScalarLongAsync(c, t,
                    $"SELECT (EXISTS (SELECT 1 FROM {_s}.model_versions WHERE digest = @d) OR EXISTS (SELECT 1 FROM {_s}.model_attachments WHERE digest = @d))::int;",
                    cancellationToken, ("d", digest)).ConfigureAwait(false) != 0)
            {
                return ArtifactDeletionCheck.Referenced;
            }

            await ExecAsync(c, t, $"DELETE FROM {_s}.artifact_pins WHERE digest = @d AND created_at < @before;", cancellationToken,
                ("d", digest), ("before", Utc(abandonPinsBefore))).ConfigureAwait(false);
            if (await ScalarLongAsync(c, t, $"SELECT COUNT(*) FROM {_s}.artifact_pins WHERE digest = @d;", cancellationToken, ("d", digest)).ConfigureAwait(false) > 0)
            {
                return ArtifactDeletionCheck.Pinned;
            }

            await ExecAsync(c, t, $"INSERT INTO {_s}.artifact_deletions (digest, started_at) VALUES (@d, now()) ON CONFLICT (digest) DO NOTHING;", cancellationToken,
                ("d", digest)).ConfigureAwait(false);
            return ArtifactDeletionCheck.MayDelete;
        }, "check an artifact for deletion", cancellationToken);

    public Task EndArtifactDeletionAsync(string digest, CancellationToken cancellationToken = default) =>
        WriteAsync(async (c, t) =>
        {
            await ExecAsync(c, t, $"DELETE FROM {_s}.artifact_deletions WHERE digest = @d;", cancellationToken, ("d", digest)).ConfigureAwait(false);
            return true;
        }, "end an artifact deletion", cancellationToken);

    public async Task<long> GetLatestChangeSequenceAsync(CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        return await ScalarLongAsync(c, null, $"SELECT last_seq FROM {_s}.change_counter WHERE id = 1;", cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<RegistryChange>> ReadChangesAsync(long afterSequence, int maxCount, CancellationToken cancellationToken = default)
    {
        NpgsqlConnection c = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cDisposal = c.ConfigureAwait(false);
        NpgsqlCommand command = Command(c, null,
            $"SELECT seq, kind, name, version, alias, old_version, changed_at, attachment FROM {_s}.changes WHERE seq > @after ORDER BY seq LIMIT @max;",
            ("after", afterSequence), ("max", maxCount));
        await using var commandDisposal = command.ConfigureAwait(false);
        var changes = new List<RegistryChange>();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            changes.Add(new RegistryChange(
                reader.GetInt64(0), (RegistryChangeKind)reader.GetInt32(1), reader.GetString(2),
                reader.IsDBNull(3) ? null : reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetInt32(5),
                reader.GetFieldValue<DateTimeOffset>(6))
            {
                Attachment = reader.IsDBNull(7) ? null : reader.GetString(7),
            });
        }

        return changes;
    }

    public async Task WaitForChangesAsync(long afterSequence, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        EnsureListener();
        Task wake = _signal.WaitAsync();
        if (await GetLatestChangeSequenceAsync(cancellationToken).ConfigureAwait(false) > afterSequence)
        {
            return;
        }

        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task delay = Task.Delay(timeout, _timeProvider, timeoutCts.Token);
        await Task.WhenAny(wake, delay).ConfigureAwait(false);
        await timeoutCts.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        Task? listener;
        lock (_listenerLock)
        {
            listener = _listener;
        }

        if (listener is not null)
        {
            await listener.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await _dataSource.DisposeAsync().ConfigureAwait(false);
    }

    private void EnsureListener()
    {
        if (_listener is null)
        {
            lock (_listenerLock)
            {
                if (!_stop.IsCancellationRequested)
                {
                    _listener ??= Task.Run(ListenAsync);
                }
            }
        }
    }

    private async Task ListenAsync()
    {
        CancellationToken stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                NpgsqlConnection connection = await OpenAsync(stop).ConfigureAwait(false);
                await using var connectionDisposal = connection.ConfigureAwait(false);
                connection.Notification += (_, _) => _signal.Pulse();
                using (NpgsqlCommand listen = Command(connection, null, $"LISTEN {Channel};"))
                {
                    await listen.ExecuteNonQueryAsync(stop).ConfigureAwait(false);
                }

                // Anything committed while no listener ran must be read: wake the readers once now.
                _signal.Pulse();
                while (!stop.IsCancellationRequested)
                {
                    await connection.WaitAsync(stop).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or ModelKitException or IOException or TimeoutException)
            {
                PostgreSqlLog.ListenerFailed(_logger, Description, ex);
                _signal.Pulse();
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), _timeProvider, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private static DateTimeOffset Utc(DateTimeOffset time)
    {
        // PostgreSQL keeps microseconds: truncate so that what is returned equals what is read back later.
        long ticks = time.UtcTicks;
        return new DateTimeOffset(ticks - (ticks % 10), TimeSpan.Zero);
    }

    private static string Columns(string v) =>
        $"{v}.name, {v}.version, {v}.digest, {v}.size_bytes, {v}.format, {v}.signature_json, {v}.metrics::text, {v}.tags::text, {v}.lineage_json, {v}.description, {v}.created_at, {v}.archived";

    private async Task<long> NextSequenceAsync(NpgsqlConnection c, NpgsqlTransaction t, CancellationToken cancellationToken) =>
        // The row lock is held until commit: every writer that appends a change is serialized here, so sequence numbers
        // are gap-free and in commit order.
        await ScalarLongAsync(c, t, $"UPDATE {_s}.change_counter SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq;", cancellationToken).ConfigureAwait(false);

    private async Task AppendChangeAsync(
        NpgsqlConnection c, NpgsqlTransaction t, long seq, RegistryChangeKind kind, string name, int? version, string? alias, int? oldVersion,
        DateTimeOffset at, string? changedBy, string? reason, CancellationToken cancellationToken, string? attachment = null) =>
        await ExecAsync(c, t, $"""
            INSERT INTO {_s}.changes (seq, kind, name, version, alias, old_version, changed_at, changed_by, reason, attachment)
            VALUES (@seq, @kind, @n, @v, @a, @old, @at, @by, @reason, @att);
            SELECT pg_notify('{Channel}', @seq::text);
            """, cancellationToken,
            ("seq", seq), ("kind", (int)kind), ("n", name), ("v", version), ("a", alias), ("old", oldVersion), ("at", at), ("by", changedBy), ("reason", reason),
            ("att", attachment)).ConfigureAwait(false);

    private string AttachmentColumns => $"name, version, attachment, media_type, digest, size_bytes, created_at FROM {_s}.model_attachments";

    private static async Task<List<ModelAttachment>> ReadAttachmentsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var attachments = new List<ModelAttachment>();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            attachments.Add(new ModelAttachment(
                reader.GetString(0), reader.GetInt32(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetInt64(5),
                reader.GetFieldValue<DateTimeOffset>(6)));
        }

        return attachments;
    }

    private async Task<ModelAttachment?> FindAttachmentAsync(
        NpgsqlConnection c, NpgsqlTransaction? t, string name, int version, string attachmentName, bool forUpdate, CancellationToken cancellationToken)
    {
        NpgsqlCommand command = Command(c, t,
            $"SELECT {AttachmentColumns} WHERE name = @n AND version = @v AND attachment = @att{(forUpdate ? " FOR UPDATE" : "")};",
            ("n", name), ("v", version), ("att", attachmentName));
        await using var commandDisposal = command.ConfigureAwait(false);
        List<ModelAttachment> found = await ReadAttachmentsAsync(command, cancellationToken).ConfigureAwait(false);
        return found.Count == 0 ? null : found[0];
    }

    /// <summary>Locks the version's row until commit (so that it cannot be deleted meanwhile); throws when it does not exist.</summary>
    private async Task LockVersionOrThrowAsync(NpgsqlConnection c, NpgsqlTransaction t, string name, int version, CancellationToken cancellationToken)
    {
        if (await ScalarLongAsync(c, t, $"SELECT COUNT(*) FROM (SELECT 1 FROM {_s}.model_versions WHERE name = @n AND version = @v FOR SHARE) x;", cancellationToken,
                ("n", name), ("v", version)).ConfigureAwait(false) == 0)
        {
            throw new ModelNotFoundException(ModelReference.ForVersion(name, version).ToString(),
                string.Create(CultureInfo.InvariantCulture, $"Model '{name}' has no version {version}."));
        }
    }

    private static async Task LockDigestAsync(NpgsqlConnection c, NpgsqlTransaction t, string digest, CancellationToken cancellationToken)
    {
        NpgsqlCommand command = Command(c, t, "SELECT pg_advisory_xact_lock(hashtextextended(@d, 0));", ("d", digest));
        await using var commandDisposal = command.ConfigureAwait(false);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<int?> ReadAliasAsync(NpgsqlConnection c, NpgsqlTransaction t, string name, string alias, CancellationToken cancellationToken)
    {
        NpgsqlCommand command = Command(c, t, $"SELECT version FROM {_s}.aliases WHERE name = @n AND alias = @a;", ("n", name), ("a", alias));
        await using var commandDisposal = command.ConfigureAwait(false);
        object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return value is null or DBNull ? null : Convert.ToInt32(value, CultureInfo.InvariantCulture);
    }

    private async Task ThrowIfAliasedAsync(NpgsqlConnection c, NpgsqlTransaction t, string name, int version, string operation, CancellationToken cancellationToken)
    {
        NpgsqlCommand command = Command(c, t, $"SELECT alias FROM {_s}.aliases WHERE name = @n AND version = @v ORDER BY alias COLLATE \"C\";", ("n", name), ("v", version));
        await using var commandDisposal = command.ConfigureAwait(false);
        var aliases = new List<string>();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
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

    private async Task<ModelVersion> ReadVersionOrThrowAsync(NpgsqlConnection c, NpgsqlTransaction t, string name, int version, CancellationToken cancellationToken)
    {
        NpgsqlCommand command = Command(c, t, $"SELECT {Columns("v")} FROM {_s}.model_versions v WHERE v.name = @n AND v.version = @v FOR UPDATE;", ("n", name), ("v", version));
        await using var commandDisposal = command.ConfigureAwait(false);
        List<ModelVersion> found = await ReadVersionsAsync(command, cancellationToken).ConfigureAwait(false);
        return found.Count == 1
            ? found[0]
            : throw new ModelNotFoundException(ModelReference.ForVersion(name, version).ToString(),
                string.Create(CultureInfo.InvariantCulture, $"Model '{name}' has no version {version}."));
    }

    private async Task<List<ModelVersion>> ReadVersionsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var versions = new List<ModelVersion>();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using var readerDisposal = reader.ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            versions.Add(RegistryText.ReadVersion(reader, static (r, i) => r.GetFieldValue<DateTimeOffset>(i), $"the {Description}"));
        }

        return versions;
    }

    /// <summary>Runs <paramref name="work"/> in a READ COMMITTED transaction and commits it. <see cref="NoChangeException"/> rolls back and returns its value.</summary>
    private async Task<T> WriteAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, string what, CancellationToken cancellationToken)
    {
        NpgsqlConnection connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var connectionDisposal = connection.ConfigureAwait(false);
        try
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using var transactionDisposal = transaction.ConfigureAwait(false);
            T result;
            try
            {
                result = await work(connection, transaction).ConfigureAwait(false);
            }
            catch (NoChangeException none)
            {
                await transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                return (T)none.Result!;
            }

            await transaction.CommitAsync(CancellationToken.None).ConfigureAwait(false);
            return result;
        }
        catch (NpgsqlException ex) when (ex is not PostgresException { SqlState: "57014" } || !cancellationToken.IsCancellationRequested)
        {
            throw new ModelKitException(
                $"Could not {what} in the {Description}: {ex.Message}. Nothing was changed; retry, and check the database server and the connection string.", ex);
        }
    }

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (!_initialized)
        {
            await InitializeAsync(cancellationToken).ConfigureAwait(false);
        }

        return await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (NpgsqlException ex)
        {
            throw new ModelKitException($"Could not connect to the {Description}: {ex.Message}. Check that the server runs and the connection string is right.", ex);
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

            NpgsqlConnection c = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);

            await using var cDisposal = c.ConfigureAwait(false);
            try
            {
                NpgsqlTransaction t = await c.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                await using var tDisposal = t.ConfigureAwait(false);
                // One migrating process at a time, across hosts.
                await ExecAsync(c, t, "SELECT pg_advisory_xact_lock(@k);", cancellationToken, ("k", MigrationLockKey)).ConfigureAwait(false);
                await ExecAsync(c, t, $"""
                    CREATE SCHEMA IF NOT EXISTS {_s};
                    CREATE TABLE IF NOT EXISTS {_s}.schema_migrations (version integer NOT NULL PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
                    """, cancellationToken).ConfigureAwait(false);
                long current = await ScalarLongAsync(c, t, $"SELECT COALESCE(MAX(version), 0) FROM {_s}.schema_migrations;", cancellationToken).ConfigureAwait(false);
                if (current > SchemaVersion)
                {
                    throw new ModelKitException(
                        $"The {Description} has registry schema version {current}, newer than this ModelKit.Registry.PostgreSql understands ({SchemaVersion}). " +
                        "Upgrade the ModelKit.Registry.PostgreSql package, or use another schema.");
                }

                foreach ((int version, string sql) in PostgreSqlMigrations.All)
                {
                    if (version > current)
                    {
                        await ExecAsync(c, t, sql.Replace("{s}", _s, StringComparison.Ordinal), cancellationToken).ConfigureAwait(false);
                        await ExecAsync(c, t, $"INSERT INTO {_s}.schema_migrations (version) VALUES (@v);", cancellationToken, ("v", version)).ConfigureAwait(false);
                        PostgreSqlLog.Migrated(_logger, Description, version);
                    }
                }

                await t.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (NpgsqlException ex)
            {
                throw new ModelKitException($"Could not create or migrate the registry schema in the {Description}: {ex.Message}. Check the user's rights (CREATE on the database).", ex);
            }

            _initialized = true;
        }
        finally
        {
            _initLock.Release();
        }
    }

    private static NpgsqlCommand Command(NpgsqlConnection c, NpgsqlTransaction? t, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, c, t);
        foreach ((string name, object? value) in parameters)
        {
            // A null goes out untyped, so PostgreSQL infers the column's type.
            command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
        }

        return command;
    }

    private static async Task ExecAsync(NpgsqlConnection c, NpgsqlTransaction? t, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        NpgsqlCommand command = Command(c, t, sql, parameters);
        await using var commandDisposal = command.ConfigureAwait(false);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> ScalarLongAsync(NpgsqlConnection c, NpgsqlTransaction? t, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        NpgsqlCommand command = Command(c, t, sql, parameters);
        await using var commandDisposal = command.ConfigureAwait(false);
        object? result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        return Convert.ToInt64(result, CultureInfo.InvariantCulture);
    }

    /// <summary>Ends a write transaction without a change: it is rolled back and <see cref="Result"/> is returned.</summary>
    private sealed class NoChangeException(object? result = null) : Exception
    {
        public object? Result { get; } = result;
    }
}
