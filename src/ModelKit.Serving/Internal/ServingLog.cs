using Microsoft.Extensions.Logging;

namespace ModelKit.Serving.Internal;

/// <summary>Source-generated log messages of ModelKit.Serving; event ids are stable.</summary>
internal static partial class ServingLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded ONNX Runtime {Version} from '{LibraryPath}' (C API version {ApiVersion}).")]
    public static partial void RuntimeLoaded(ILogger logger, string version, string libraryPath, uint apiVersion);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
        Message = "The CUDA execution provider (device {DeviceId}) could not be added from ONNX Runtime at '{LibraryPath}': {Reason} Running on the CPU execution provider because OnnxRuntimeOptions.AllowCpuFallback is true.")]
    public static partial void CudaFallback(ILogger logger, int deviceId, string libraryPath, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Loaded {Model} on the {Provider} execution provider: {InputCount} inputs, {OutputCount} outputs.")]
    public static partial void SessionLoaded(ILogger logger, string model, ExecutionProvider provider, int inputCount, int outputCount);

    [LoggerMessage(EventId = 4, Message = "ONNX Runtime [{Category}] {OrtMessage}")]
    public static partial void OrtMessage(ILogger logger, LogLevel level, string category, string ortMessage);
}
