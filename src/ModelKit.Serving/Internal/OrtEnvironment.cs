using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace ModelKit.Serving.Internal;

/// <summary>
/// ONNX Runtime's process-wide environment (<c>OrtEnv</c>, one per process by ONNX Runtime's design) and the routing of
/// its log messages. The environment's logging callback is fixed when it is created, so it cannot belong to one factory:
/// it forwards each message to every logger currently registered (one per live <see cref="OnnxRuntimeSessionFactory"/>
/// with a logger) and to none once they are all unregistered. Nothing is tied to the first factory, and nothing
/// dereferences a disposed factory. Thread-safe.
/// </summary>
internal static class OrtEnvironment
{
    private static readonly Lock Gate = new();

    // Kept in a static field so the delegate handed to native code is never collected.
    private static readonly DOrtLoggingFunction LogCallback = OnLog;
    private static ILogger[] s_sinks = [];
    private static OrtEnv? s_env;

    /// <summary>Gets the environment, creating it on first use (with ModelKit's log routing unless something else created it first).</summary>
    /// <returns>The process-wide environment.</returns>
    /// <exception cref="NativeEngineException">The native ONNX Runtime library cannot be loaded: no native package is referenced.</exception>
    public static OrtEnv Get()
    {
        OrtEnv? env = Volatile.Read(ref s_env);
        if (env is not null)
        {
            return env;
        }

        lock (Gate)
        {
            if (s_env is null)
            {
                try
                {
                    var options = new EnvironmentCreationOptions
                    {
                        logId = "ModelKit",
                        logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING,
                        loggingFunction = LogCallback,
                    };
                    s_env = OrtEnv.IsCreated ? OrtEnv.Instance() : OrtEnv.CreateInstanceWithOptions(ref options);
                }
                catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
                {
                    throw new NativeEngineException(
                        OnnxRuntimeErrors.EngineName,
                        "CreateEnv",
                        0,
                        "The native ONNX Runtime library could not be loaded: " + ex.Message + " ModelKit.Serving references only Microsoft.ML.OnnxRuntime.Managed; " +
                        "the application must reference a native package at the same version (1.31.0): Microsoft.ML.OnnxRuntime for CPU, or Microsoft.ML.OnnxRuntime.Gpu for CUDA.",
                        ex);
                }
            }

            return s_env;
        }
    }

    /// <summary>Starts forwarding ONNX Runtime's messages to <paramref name="logger"/>.</summary>
    /// <param name="logger">The logger.</param>
    public static void AddSink(ILogger logger)
    {
        lock (Gate)
        {
            s_sinks = [.. s_sinks, logger];
        }
    }

    /// <summary>Stops forwarding to <paramref name="logger"/>; safe to call for a logger never added.</summary>
    /// <param name="logger">The logger.</param>
    public static void RemoveSink(ILogger logger)
    {
        lock (Gate)
        {
            s_sinks = Array.FindAll(s_sinks, s => !ReferenceEquals(s, logger));
        }
    }

    /// <summary>Gets the names of the execution providers the loaded native library was built with, for example <c>CPUExecutionProvider</c>.</summary>
    /// <returns>The provider names.</returns>
    public static IReadOnlyList<string> GetAvailableProviders() => Get().GetAvailableProviders();

    private static void OnLog(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        ILogger[] sinks = Volatile.Read(ref s_sinks);
        if (sinks.Length == 0)
        {
            return;
        }

        LogLevel level = severity switch
        {
            OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE => LogLevel.Trace,
            OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO => LogLevel.Information,
            OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING => LogLevel.Warning,
            OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR => LogLevel.Error,
            _ => LogLevel.Critical,
        };
        foreach (ILogger sink in sinks)
        {
            try
            {
                ServingLog.OrtMessage(sink, level, category, message);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A failing logging provider must not throw into native code.
            }
        }
    }
}

/// <summary>Translation of ONNX Runtime's exceptions into ModelKit's.</summary>
internal static class OnnxRuntimeErrors
{
    public const string EngineName = "ONNX Runtime";

    public static NativeEngineException Wrap(OnnxRuntimeException ex, string operation, string what) =>
        new(EngineName, operation, 0, $"ONNX Runtime failed to {operation} {what}: {ex.Message}", ex);
}
