using Microsoft.Extensions.Logging;

namespace ModelKit.Registry.PostgreSql.Internal;

/// <summary>Source-generated log messages of the PostgreSQL store. Event ids are stable.</summary>
internal static partial class PostgreSqlLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Applied registry schema migration {SchemaVersion} to the {Store}")]
    public static partial void Migrated(ILogger logger, string store, int schemaVersion);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "The LISTEN connection of the {Store} failed; reconnecting")]
    public static partial void ListenerFailed(ILogger logger, string store, Exception exception);
}
