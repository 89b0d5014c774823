using Microsoft.Extensions.Logging;

namespace ModelKit.Serving.Internal;

/// <summary>Source-generated log messages of ModelKit.Serving; event ids are stable.</summary>
internal static partial class ServingLog
{
    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "The CUDA execution provider (device {DeviceId}) could not be added: {Reason} Running {Model} on the CPU execution provider because OnnxRuntimeOptions.AllowCpuFallback is true.")]
    public static partial void CudaFallback(ILogger logger, int deviceId, string model, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Loaded {Model} on the {Provider} execution provider: {InputCount} inputs, {OutputCount} outputs.")]
    public static partial void SessionLoaded(ILogger logger, string model, string provider, int inputCount, int outputCount);

    [LoggerMessage(EventId = 4, Message = "ONNX Runtime [{Category}] {OrtMessage}")]
    public static partial void OrtMessage(ILogger logger, LogLevel level, string category, string ortMessage);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Serving {Reference} from {Model} version {Version} (generation loaded in {Seconds:F3} s).")]
    public static partial void GenerationServing(ILogger logger, string reference, string model, int version, double seconds);

    [LoggerMessage(EventId = 11, Level = LogLevel.Error, Message = "Loading {Reference} failed; the previous generation (if any) keeps serving.")]
    public static partial void LoadFailed(ILogger logger, Exception exception, string reference);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Hot reload of {Reference}: version {OldVersion} -> {NewVersion}.")]
    public static partial void Reloaded(ILogger logger, string reference, int oldVersion, int newVersion);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Unloaded {Reference} (version {Version}): {Reason}.")]
    public static partial void Unloaded(ILogger logger, string reference, int version, string reason);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Checking the registry for changes to {Reference} failed; will retry at the next poll.")]
    public static partial void ChangeCheckFailed(ILogger logger, Exception exception, string reference);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "An inference observer threw; the request's result is unaffected.")]
    public static partial void ObserverFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 17, Level = LogLevel.Warning, Message = "The warm-up request (zeros, dynamic dimensions 1) failed on the first load of {Reference}; it serves anyway because nothing else serves it. Set ModelServingOptions.WarmUp = false for this model to skip the warm-up.")]
    public static partial void WarmUpFailed(ILogger logger, Exception exception, string reference);

    [LoggerMessage(EventId = 18, Level = LogLevel.Warning, Message = "Following the registry's change notifications failed; retrying in {RetrySeconds:F0} s (polling continues meanwhile).")]
    public static partial void ChangeFeedFailed(ILogger logger, Exception exception, double retrySeconds);

    [LoggerMessage(EventId = 16, Level = LogLevel.Information, Message = "Rolled back {Reference} to version {Version}; pinned until the next explicit reload.")]
    public static partial void RolledBack(ILogger logger, string reference, int version);
}
