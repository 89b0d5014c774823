namespace ModelKit.Registry.Sqlite;

/// <summary>The SQLite schema, one step per schema version (<c>PRAGMA user_version</c>). Steps are never edited once released.</summary>
internal static class SqliteMigrations
{
    public static readonly (int Version, string Sql)[] All =
    [
        (1, """
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
            """),
        (2, """
            ALTER TABLE models ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
            UPDATE models SET last_version = COALESCE((SELECT MAX(v.version) FROM model_versions v WHERE v.name = models.name), 0);
            ALTER TABLE model_versions ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE model_versions ADD COLUMN parent_version INTEGER NULL;
            ALTER TABLE model_versions ADD COLUMN training_run_id TEXT NULL;
            ALTER TABLE model_versions ADD COLUMN dataset_digest TEXT NULL;
            UPDATE model_versions SET
                parent_version  = json_extract(lineage_json, '$.parentVersion'),
                training_run_id = json_extract(lineage_json, '$.trainingRunId'),
                dataset_digest  = json_extract(lineage_json, '$.datasetDigest');
            CREATE INDEX ix_model_versions_parent ON model_versions(name, parent_version);
            CREATE INDEX ix_model_versions_run ON model_versions(training_run_id);
            CREATE INDEX ix_model_versions_dataset ON model_versions(dataset_digest);
            CREATE INDEX ix_model_versions_created ON model_versions(created_at);
            CREATE TABLE changes (
                seq         INTEGER PRIMARY KEY,
                kind        INTEGER NOT NULL,
                name        TEXT    NOT NULL,
                version     INTEGER NULL,
                alias       TEXT    NULL,
                old_version INTEGER NULL,
                changed_at  TEXT    NOT NULL,
                changed_by  TEXT    NULL,
                reason      TEXT    NULL
            );
            CREATE INDEX ix_changes_name_kind ON changes(name, kind, seq);
            INSERT INTO changes (kind, name, version, alias, old_version, changed_at)
                SELECT kind, name, version, alias, old_version, at FROM (
                    SELECT 1 AS kind, name, version, NULL AS alias, NULL AS old_version, created_at AS at, 0 AS o FROM model_versions
                    UNION ALL
                    SELECT 2, name, new_version, alias, old_version, changed_at, id FROM alias_history)
                ORDER BY at, kind, o;
            DROP TABLE alias_history;
            CREATE TABLE artifact_pins (
                id         TEXT NOT NULL PRIMARY KEY,
                digest     TEXT NOT NULL,
                created_at TEXT NOT NULL
            );
            CREATE INDEX ix_artifact_pins_digest ON artifact_pins(digest);
            CREATE TABLE artifact_deletions (
                digest     TEXT NOT NULL PRIMARY KEY,
                started_at TEXT NOT NULL
            );
            """),
        (3, """
            CREATE TABLE model_attachments (
                name       TEXT    NOT NULL,
                version    INTEGER NOT NULL,
                attachment TEXT    NOT NULL,
                media_type TEXT    NOT NULL,
                digest     TEXT    NOT NULL,
                size_bytes INTEGER NOT NULL,
                created_at TEXT    NOT NULL,
                PRIMARY KEY (name, version, attachment),
                FOREIGN KEY (name, version) REFERENCES model_versions(name, version)
            );
            CREATE INDEX ix_model_attachments_digest ON model_attachments(digest);
            ALTER TABLE changes ADD COLUMN attachment TEXT NULL;
            """),
    ];
}
