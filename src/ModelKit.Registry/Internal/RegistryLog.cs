using Microsoft.Extensions.Logging;

namespace ModelKit.Registry.Internal;

/// <summary>Source-generated log messages of the registry. Event ids are stable.</summary>
internal static partial class RegistryLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "Registered model {ModelName} version {ModelVersion} ({Digest}, {SizeBytes} bytes, format {Format})")]
    public static partial void VersionRegistered(ILogger logger, string modelName, int modelVersion, string digest, long sizeBytes, string format);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information,
        Message = "Moved alias {Alias} of model {ModelName} from version {OldVersion} to version {NewVersion}")]
    public static partial void AliasMoved(ILogger logger, string modelName, string alias, int oldVersion, int newVersion);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information,
        Message = "Created alias {Alias} of model {ModelName} pointing at version {NewVersion}")]
    public static partial void AliasCreated(ILogger logger, string modelName, string alias, int newVersion);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning,
        Message = "Rejected an artifact for model {ModelName} (format {Format}); nothing was stored")]
    public static partial void RegistrationRejected(ILogger logger, string modelName, string format, Exception exception);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information,
        Message = "Migrated registry database {DatabasePath} from schema version {FromVersion} to {ToVersion}")]
    public static partial void SchemaMigrated(ILogger logger, string databasePath, long fromVersion, int toVersion);

    [LoggerMessage(EventId = 6, Level = LogLevel.Debug,
        Message = "Artifact {Digest} is already stored; the new version shares it")]
    public static partial void BlobAlreadyStored(ILogger logger, string digest);

    [LoggerMessage(EventId = 7, Level = LogLevel.Information,
        Message = "Deleted {Count} abandoned temporary files older than {MaxAgeHours} hours from {TempDirectory}")]
    public static partial void StaleTempFilesDeleted(ILogger logger, int count, double maxAgeHours, string tempDirectory);
}
