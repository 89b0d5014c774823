using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace ModelKit.Registry.Internal;

/// <summary>
/// The SQLite metadata database (<c>registry.db</c>, WAL journal). Opens one pooled connection per operation
/// and brings the schema up to date once per instance, using <c>PRAGMA user_version</c> as the schema version.
/// Thread-safe.
/// </summary>
internal sealed class RegistryDatabase : IDisposable
{
    /// <summary>The schema version this code writes and understands.</summary>
    public const int SchemaVersion = 1;

    /// <summary>How long a statement waits for another writer's lock before failing, in milliseconds.</summary>
    public const int BusyTimeoutMilliseconds = 30_000;

    private readonly ILogger _logger;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private volatile bool _initialized;

    public RegistryDatabase(string databasePath, ILogger logger)
    {
        DatabasePath = databasePath;
        _logger = logger;
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

    /// <summary>Opens a connection; the first call creates or migrates the schema. The caller disposes the connection.</summary>
    public async Task<SqliteConnection> OpenAsync(Func<CancellationToken, Task>? beforeFirstUse, CancellationToken cancellationToken)
    {
        if (!_initialized)
        {
            await InitializeAsync(beforeFirstUse, cancellationToken).ConfigureAwait(false);
        }

        return await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose()
    {
        using (var connection = new SqliteConnection(ConnectionString))
        {
            SqliteConnection.ClearPool(connection);
        }

        _initLock.Dispose();
    }

    private async Task<SqliteConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = " + BusyTimeoutMilliseconds.ToString(CultureInfo.InvariantCulture) + ";";
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

    private async Task InitializeAsync(Func<CancellationToken, Task>? beforeFirstUse, CancellationToken cancellationToken)
    {
        await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_initialized)
            {
                return;
            }

            if (beforeFirstUse is not null)
            {
                await beforeFirstUse(cancellationToken).ConfigureAwait(false);
            }

            SqliteConnection connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken).ConfigureAwait(false);
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
        long current;
        using (SqliteCommand read = connection.CreateCommand())
        {
            read.Transaction = transaction;
            read.CommandText = "PRAGMA user_version;";
            current = (long)(await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }

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

        if (current < 1)
        {
            await ExecuteAsync(connection, transaction, """
                CREATE TABLE models (
                    name       TEXT NOT NULL PRIMARY KEY,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE model_versions (
                    name           TEXT    NOT NULL REFERENCES models(name),
                    version        INTEGER NOT NULL,
                    digest         TEXT    NOT NULL,
                    size_bytes     INTEGER NOT NULL,
                    format         TEXT    NOT NULL,
                    signature_json TEXT    NOT NULL,
                    metrics_json   TEXT    NOT NULL,
                    tags_json      TEXT    NOT NULL,
                    lineage_json   TEXT    NOT NULL,
                    description    TEXT    NULL,
                    created_at     TEXT    NOT NULL,
                    PRIMARY KEY (name, version)
                );
                CREATE INDEX ix_model_versions_digest ON model_versions(digest);
                CREATE TABLE aliases (
                    name       TEXT    NOT NULL,
                    alias      TEXT    NOT NULL,
                    version    INTEGER NOT NULL,
                    updated_at TEXT    NOT NULL,
                    PRIMARY KEY (name, alias),
                    FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
                );
                CREATE TABLE alias_history (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    name        TEXT    NOT NULL,
                    alias       TEXT    NOT NULL,
                    old_version INTEGER NULL,
                    new_version INTEGER NOT NULL,
                    changed_at  TEXT    NOT NULL
                );
                CREATE INDEX ix_alias_history_name_alias ON alias_history(name, alias, id);
                """, cancellationToken).ConfigureAwait(false);
        }

        // Later schema versions add their steps here: if (current < 2) { ... }
        await ExecuteAsync(connection, transaction,
            "PRAGMA user_version = " + SchemaVersion.ToString(CultureInfo.InvariantCulture) + ";", cancellationToken).ConfigureAwait(false);
        transaction.Commit();
        RegistryLog.SchemaMigrated(_logger, DatabasePath, current, SchemaVersion);
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
