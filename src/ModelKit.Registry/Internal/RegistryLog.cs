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


    [LoggerMessage(EventId = 8, Level = LogLevel.Information,
        Message = "Removed alias {Alias} of model {ModelName} (it pointed at version {OldVersion})")]
    public static partial void AliasRemoved(ILogger logger, string modelName, string alias, int oldVersion);

    [LoggerMessage(EventId = 9, Level = LogLevel.Information,
        Message = "Deleted model {ModelName} version {ModelVersion}; its artifact {Digest} is left to garbage collection")]
    public static partial void VersionDeleted(ILogger logger, string modelName, int modelVersion, string digest);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information,
        Message = "Garbage collection examined {Examined} artifacts and deleted {Deleted} ({Bytes} bytes) and {StagingFiles} abandoned uploads from the {Store}")]
    public static partial void GarbageCollected(ILogger logger, int examined, int deleted, long bytes, int stagingFiles, string store);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning,
        Message = "The registry change feed of the {Store} failed; the resolve cache is off until it reconnects")]
    public static partial void ChangeFeedFailed(ILogger logger, string store, Exception exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information,
        Message = "Registry data directory {DataDirectory} is on {FileSystem}, allowed by ModelRegistryOptions.AllowNetworkFileSystem")]
    public static partial void NetworkFileSystemAllowed(ILogger logger, string dataDirectory, string fileSystem);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information,
        Message = "Attached {Attachment} to model {ModelName} version {ModelVersion} ({Digest}, {SizeBytes} bytes)")]
    public static partial void AttachmentAdded(ILogger logger, string modelName, int modelVersion, string attachment, string digest, long sizeBytes);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information,
        Message = "Removed attachment {Attachment} from model {ModelName} version {ModelVersion}; its bytes {Digest} are left to garbage collection")]
    public static partial void AttachmentDeleted(ILogger logger, string modelName, int modelVersion, string attachment, string digest);
}
