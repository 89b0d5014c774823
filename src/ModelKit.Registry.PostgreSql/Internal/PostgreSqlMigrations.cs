namespace ModelKit.Registry.PostgreSql.Internal;

/// <summary>The PostgreSQL schema, one step per version, applied in order and recorded in <c>schema_migrations</c>. Steps are never edited once released. <c>{s}</c> is the schema name.</summary>
internal static class PostgreSqlMigrations
{
    public static readonly (int Version, string Sql)[] All =
    [
        (1, """
            CREATE TABLE {s}.models (
                name         text        NOT NULL PRIMARY KEY,
                created_at   timestamptz NOT NULL,
                last_version integer     NOT NULL DEFAULT 0
            );
            CREATE TABLE {s}.model_versions (
                name            text        NOT NULL REFERENCES {s}.models(name),
                version         integer     NOT NULL,
                digest          text        NOT NULL,
                size_bytes      bigint      NOT NULL,
                format          text        NOT NULL,
                signature_json  text        NOT NULL,
                metrics         jsonb       NOT NULL,
                tags            jsonb       NOT NULL,
                lineage_json    text        NOT NULL,
                description     text        NULL,
                created_at      timestamptz NOT NULL,
                archived        boolean     NOT NULL DEFAULT false,
                parent_version  integer     NULL,
                training_run_id text        NULL,
                dataset_digest  text        NULL,
                PRIMARY KEY (name, version)
            );
            CREATE INDEX ix_model_versions_digest ON {s}.model_versions(digest);
            CREATE INDEX ix_model_versions_run ON {s}.model_versions(training_run_id);
            CREATE INDEX ix_model_versions_dataset ON {s}.model_versions(dataset_digest);
            CREATE INDEX ix_model_versions_created ON {s}.model_versions(created_at);
            CREATE TABLE {s}.aliases (
                name       text        NOT NULL,
                alias      text        NOT NULL,
                version    integer     NOT NULL,
                updated_at timestamptz NOT NULL,
                PRIMARY KEY (name, alias),
                FOREIGN KEY (name, version) REFERENCES {s}.model_versions(name, version)
            );
            CREATE TABLE {s}.change_counter (
                id       integer NOT NULL PRIMARY KEY CHECK (id = 1),
                last_seq bigint  NOT NULL
            );
            INSERT INTO {s}.change_counter (id, last_seq) VALUES (1, 0);
            CREATE TABLE {s}.changes (
                seq         bigint      NOT NULL PRIMARY KEY,
                kind        integer     NOT NULL,
                name        text        NOT NULL,
                version     integer     NULL,
                alias       text        NULL,
                old_version integer     NULL,
                changed_at  timestamptz NOT NULL,
                changed_by  text        NULL,
                reason      text        NULL
            );
            CREATE INDEX ix_changes_name_kind ON {s}.changes(name, kind, seq);
            CREATE TABLE {s}.artifact_pins (
                id         uuid        NOT NULL PRIMARY KEY,
                digest     text        NOT NULL,
                created_at timestamptz NOT NULL
            );
            CREATE INDEX ix_artifact_pins_digest ON {s}.artifact_pins(digest);
            CREATE TABLE {s}.artifact_deletions (
                digest     text        NOT NULL PRIMARY KEY,
                started_at timestamptz NOT NULL
            );
            """),
        (2, """
            CREATE TABLE {s}.model_attachments (
                name       text        NOT NULL,
                version    integer     NOT NULL,
                attachment text        NOT NULL,
                media_type text        NOT NULL,
                digest     text        NOT NULL,
                size_bytes bigint      NOT NULL,
                created_at timestamptz NOT NULL,
                PRIMARY KEY (name, version, attachment),
                FOREIGN KEY (name, version) REFERENCES {s}.model_versions(name, version)
            );
            CREATE INDEX ix_model_attachments_digest ON {s}.model_attachments(digest);
            ALTER TABLE {s}.changes ADD COLUMN attachment text NULL;
            """),
    ];
}
