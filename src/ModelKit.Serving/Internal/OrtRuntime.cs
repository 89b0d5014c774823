using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using ModelKit.Serving.Interop;

namespace ModelKit.Serving.Internal;

/// <summary>
/// One ONNX Runtime environment: the loaded library, an <c>OrtEnv</c> whose log messages go to an
/// <see cref="ILogger"/>, and the CPU <c>OrtMemoryInfo</c> that input tensors over managed memory are described with.
/// Creates sessions, session options and tensors. Thread-safe. Disposing it releases the environment once the last
/// session created from it is released (sessions hold a reference).
/// </summary>
/// <remarks>
/// This is also the raw entry point for benchmarks that call the C API directly: <see cref="Api"/> is the function
/// table, <see cref="Library"/>.<see cref="OrtLibrary.ThrowIfFailed"/> checks statuses, <see cref="CreateSession(ReadOnlySpan{byte}, OnnxRuntimeOptions, out ExecutionProvider)"/>
/// and <see cref="CreateTensor"/> create the objects a <c>Run</c> needs.
/// </remarks>
internal sealed unsafe class OrtRuntime : IDisposable
{
    // ONNX Runtime keeps one OrtEnv per process (reference-counted), and its logger is the one given when it was first
    // created. The callback therefore forwards to whichever runtime was created last rather than to a per-env target.
    private static ILogger s_ortLogSink = NullLogger.Instance;

    private readonly ILogger _logger;
    private int _disposed;

    private OrtRuntime(OrtLibrary library, OrtHandleCounter handles, OrtEnvHandle env, OrtMemoryInfoHandle cpuMemoryInfo, ILogger logger)
    {
        Library = library;
        Handles = handles;
        Env = env;
        CpuMemoryInfo = cpuMemoryInfo;
        _logger = logger;
    }

    /// <summary>Gets the loaded library.</summary>
    public OrtLibrary Library { get; }

    /// <summary>Gets the C API function table.</summary>
    public OrtApi* Api => Library.Api;

    /// <summary>Gets the counter of this runtime's live native objects (environment, memory info, sessions, values, ...).</summary>
    public OrtHandleCounter Handles { get; }

    /// <summary>Gets the environment.</summary>
    public OrtEnvHandle Env { get; }

    /// <summary>Gets the CPU memory description (<c>CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault)</c>) used for every input tensor.</summary>
    public OrtMemoryInfoHandle CpuMemoryInfo { get; }

    /// <summary>Loads the library and creates the environment.</summary>
    /// <param name="libraryPath">The configured library path, or <see langword="null"/> for the default search.</param>
    /// <param name="logger">Receives ONNX Runtime's own warnings and errors, and ModelKit's messages.</param>
    /// <returns>The runtime; the caller disposes it.</returns>
    /// <exception cref="NativeEngineException">The library cannot be loaded or the environment cannot be created.</exception>
    public static OrtRuntime Create(string? libraryPath, ILogger logger)
    {
        OrtLibrary library = OrtLibrary.Load(libraryPath);
        OrtApi* api = library.Api;
        var handles = new OrtHandleCounter();
        Volatile.Write(ref s_ortLogSink, logger);

        OrtEnv* env = null;
        fixed (byte* logId = "ModelKit"u8)
        {
            library.ThrowIfFailed(api->CreateEnvWithCustomLogger(&OnOrtLog, null, OrtLoggingLevel.Warning, logId, &env), "CreateEnvWithCustomLogger");
        }

        var envHandle = new OrtEnvHandle(api, handles, env);
        try
        {
            OrtMemoryInfo* memoryInfo = null;
            library.ThrowIfFailed(api->CreateCpuMemoryInfo(OrtAllocatorType.Arena, OrtMemType.Default, &memoryInfo), "CreateCpuMemoryInfo");
            var runtime = new OrtRuntime(library, handles, envHandle, new OrtMemoryInfoHandle(api, handles, memoryInfo), logger);
            ServingLog.RuntimeLoaded(logger, library.Version, library.Path, OrtApi.RequestedVersion);
            return runtime;
        }
        catch
        {
            envHandle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates session options from <paramref name="options"/>: optimization level, thread counts and the execution
    /// provider, applying the CUDA fallback rule.
    /// </summary>
    /// <param name="options">The options.</param>
    /// <param name="provider">The provider the session will actually run on.</param>
    /// <returns>The session options; the caller disposes them.</returns>
    /// <exception cref="NativeEngineException">ONNX Runtime failed, or CUDA was requested, cannot be added and fallback is off.</exception>
    public OrtSessionOptionsHandle CreateSessionOptions(OnnxRuntimeOptions options, out ExecutionProvider provider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfDisposed();
        OrtSessionOptions* raw = null;
        Library.ThrowIfFailed(Api->CreateSessionOptions(&raw), "CreateSessionOptions");
        var sessionOptions = new OrtSessionOptionsHandle(Api, Handles, raw);
        try
        {
            int level = options.GraphOptimizationLevel switch
            {
                GraphOptimizationLevel.Disabled => OrtGraphOptimizationLevel.DisableAll,
                GraphOptimizationLevel.Basic => OrtGraphOptimizationLevel.EnableBasic,
                GraphOptimizationLevel.Extended => OrtGraphOptimizationLevel.EnableExtended,
                _ => OrtGraphOptimizationLevel.EnableAll,
            };
            Library.ThrowIfFailed(Api->SetSessionGraphOptimizationLevel(raw, level), "SetSessionGraphOptimizationLevel");
            if (options.IntraOpThreadCount > 0)
            {
                Library.ThrowIfFailed(Api->SetIntraOpNumThreads(raw, options.IntraOpThreadCount), "SetIntraOpNumThreads");
            }

            if (options.InterOpThreadCount > 0)
            {
                Library.ThrowIfFailed(Api->SetInterOpNumThreads(raw, options.InterOpThreadCount), "SetInterOpNumThreads");
            }

            provider = ExecutionProvider.Cpu;
            if (options.ExecutionProvider == ExecutionProvider.Cuda)
            {
                (string Operation, string Reason)? failure = TryAppendCuda(raw, options);
                if (failure is null)
                {
                    provider = ExecutionProvider.Cuda;
                }
                else if (options.AllowCpuFallback)
                {
                    ServingLog.CudaFallback(_logger, options.CudaDeviceId, Library.Path, failure.Value.Reason);
                }
                else
                {
                    throw new NativeEngineException(
                        OrtLibrary.EngineName,
                        failure.Value.Operation,
                        0,
                        string.Create(
                            CultureInfo.InvariantCulture,
                            $"The ONNX Runtime library at '{Library.Path}' (version {Library.Version}) has no usable CUDA execution provider for device {options.CudaDeviceId}: {failure.Value.Reason} " +
                            $"Point OnnxRuntimeOptions.LibraryPath at a GPU build of ONNX Runtime (with libonnxruntime_providers_cuda.so, CUDA and cuDNN installed) on a machine with an NVIDIA GPU, " +
                            $"set ExecutionProvider = Cpu, or set AllowCpuFallback = true to run on CPU with a logged warning."));
                }
            }

            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>Creates a session from a serialized model (<c>CreateSessionFromArray</c>; ONNX Runtime copies the bytes).</summary>
    /// <param name="model">The serialized <c>ModelProto</c>.</param>
    /// <param name="sessionOptions">The session options.</param>
    /// <returns>The session; the caller disposes it.</returns>
    /// <exception cref="InvalidModelException">ONNX Runtime rejected the model.</exception>
    /// <exception cref="NativeEngineException">ONNX Runtime failed otherwise.</exception>
    public OrtSessionHandle CreateSession(ReadOnlySpan<byte> model, OrtSessionOptionsHandle sessionOptions)
    {
        ArgumentNullException.ThrowIfNull(sessionOptions);
        ThrowIfDisposed();
        OrtSession* session = null;
        bool added = false;
        Env.DangerousAddRef(ref added);
        try
        {
            fixed (byte* data = model)
            {
                Library.ThrowIfFailed(
                    Api->CreateSessionFromArray(Env.Pointer, data, (nuint)model.Length, sessionOptions.Pointer, &session),
                    "CreateSessionFromArray",
                    loadingModel: true);
            }
        }
        finally
        {
            Env.DangerousRelease();
        }

        return new OrtSessionHandle(Api, Handles, session, Env, CpuMemoryInfo);
    }

    /// <summary>Creates a session from a model file (<c>CreateSession</c>; external data is resolved next to the file).</summary>
    /// <param name="path">The full path of the model file.</param>
    /// <param name="sessionOptions">The session options.</param>
    /// <returns>The session; the caller disposes it.</returns>
    /// <exception cref="InvalidModelException">ONNX Runtime rejected the model.</exception>
    /// <exception cref="NativeEngineException">ONNX Runtime failed otherwise.</exception>
    public OrtSessionHandle CreateSession(string path, OrtSessionOptionsHandle sessionOptions)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(sessionOptions);
        ThrowIfDisposed();
        OrtSession* session = null;
        bool added = false;
        Env.DangerousAddRef(ref added);

        // ORTCHAR_T is wchar_t on Windows and char (UTF-8) elsewhere.
        nint nativePath = OperatingSystem.IsWindows() ? Marshal.StringToHGlobalUni(path) : Marshal.StringToCoTaskMemUTF8(path);
        try
        {
            Library.ThrowIfFailed(
                Api->CreateSession(Env.Pointer, (void*)nativePath, sessionOptions.Pointer, &session),
                "CreateSession",
                loadingModel: true);
        }
        finally
        {
            if (OperatingSystem.IsWindows())
            {
                Marshal.FreeHGlobal(nativePath);
            }
            else
            {
                Marshal.FreeCoTaskMem(nativePath);
            }

            Env.DangerousRelease();
        }

        return new OrtSessionHandle(Api, Handles, session, Env, CpuMemoryInfo);
    }

    /// <summary>Creates a session from a serialized model with <paramref name="options"/>; convenience for benchmarks and tests.</summary>
    /// <param name="model">The serialized <c>ModelProto</c>.</param>
    /// <param name="options">The options.</param>
    /// <param name="provider">The provider the session runs on.</param>
    /// <returns>The session; the caller disposes it.</returns>
    public OrtSessionHandle CreateSession(ReadOnlySpan<byte> model, OnnxRuntimeOptions options, out ExecutionProvider provider)
    {
        using OrtSessionOptionsHandle sessionOptions = CreateSessionOptions(options, out provider);
        return CreateSession(model, sessionOptions);
    }

    /// <summary>
    /// Creates a tensor value over caller memory (<c>CreateTensorWithDataAsOrtValue</c>, CPU). The value does not own
    /// or copy <paramref name="data"/>: the caller keeps it pinned and unchanged until the returned handle is released.
    /// </summary>
    /// <param name="data">The elements, pinned by the caller.</param>
    /// <param name="byteLength">The size of <paramref name="data"/> in bytes.</param>
    /// <param name="shape">The dimensions (copied by ONNX Runtime).</param>
    /// <param name="elementType">The element type.</param>
    /// <returns>The value; the caller disposes it.</returns>
    /// <exception cref="NativeEngineException">ONNX Runtime rejected the tensor (for example a size that does not match the shape).</exception>
    public OrtValueHandle CreateTensor(void* data, nuint byteLength, ReadOnlySpan<long> shape, TensorElementType elementType)
    {
        OrtValue* value = null;
        fixed (long* dims = shape)
        {
            Library.ThrowIfFailed(
                Api->CreateTensorWithDataAsOrtValue(CpuMemoryInfo.Pointer, data, byteLength, dims, (nuint)shape.Length, elementType, &value),
                "CreateTensorWithDataAsOrtValue");
        }

        return new OrtValueHandle(Api, Handles, value);
    }

    /// <summary>Releases this runtime's references on the environment and memory info.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        CpuMemoryInfo.Dispose();
        Env.Dispose();
    }

    private (string Operation, string Reason)? TryAppendCuda(OrtSessionOptions* sessionOptions, OnnxRuntimeOptions options)
    {
        OrtCUDAProviderOptionsV2* cuda = null;
        OrtStatus* status = Api->CreateCUDAProviderOptions(&cuda);
        if (status != null)
        {
            return Describe(status, "CreateCUDAProviderOptions");
        }

        using var cudaHandle = new OrtCudaProviderOptionsHandle(Api, Handles, cuda);
        string deviceId = options.CudaDeviceId.ToString(CultureInfo.InvariantCulture);
        string memoryLimit = options.CudaMemoryLimitBytes.ToString(CultureInfo.InvariantCulture);
        int count = options.CudaMemoryLimitBytes > 0 ? 2 : 1;
        nint deviceIdKey = Marshal.StringToCoTaskMemUTF8("device_id");
        nint deviceIdValue = Marshal.StringToCoTaskMemUTF8(deviceId);
        nint limitKey = Marshal.StringToCoTaskMemUTF8("gpu_mem_limit");
        nint limitValue = Marshal.StringToCoTaskMemUTF8(memoryLimit);
        try
        {
            byte** keys = stackalloc byte*[2] { (byte*)deviceIdKey, (byte*)limitKey };
            byte** values = stackalloc byte*[2] { (byte*)deviceIdValue, (byte*)limitValue };
            status = Api->UpdateCUDAProviderOptions(cuda, keys, values, (nuint)count);
            if (status != null)
            {
                return Describe(status, "UpdateCUDAProviderOptions");
            }

            status = Api->SessionOptionsAppendExecutionProvider_CUDA_V2(sessionOptions, cuda);
            return status != null ? Describe(status, "SessionOptionsAppendExecutionProvider_CUDA_V2") : null;
        }
        finally
        {
            Marshal.FreeCoTaskMem(deviceIdKey);
            Marshal.FreeCoTaskMem(deviceIdValue);
            Marshal.FreeCoTaskMem(limitKey);
            Marshal.FreeCoTaskMem(limitValue);
        }
    }

    private (string Operation, string Reason) Describe(OrtStatus* status, string operation)
    {
        (OrtErrorCode code, string message) = Library.ReadAndRelease(status);
        return (operation, $"{operation} failed ({OrtLibrary.CodeName(code)}): {message.TrimEnd()}");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnOrtLog(void* param, OrtLoggingLevel severity, byte* category, byte* logId, byte* codeLocation, byte* message)
    {
        try
        {
            ILogger logger = Volatile.Read(ref s_ortLogSink);
            LogLevel level = severity switch
            {
                OrtLoggingLevel.Verbose => LogLevel.Trace,
                OrtLoggingLevel.Info => LogLevel.Debug,
                OrtLoggingLevel.Warning => LogLevel.Warning,
                OrtLoggingLevel.Error => LogLevel.Error,
                _ => LogLevel.Critical,
            };
            if (logger.IsEnabled(level))
            {
                string categoryText = Marshal.PtrToStringUTF8((nint)category) ?? string.Empty;
                string messageText = Marshal.PtrToStringUTF8((nint)message) ?? string.Empty;
                ServingLog.OrtMessage(logger, level, categoryText, messageText);
            }
        }
#pragma warning disable CA1031 // An exception must never unwind into ONNX Runtime's native frames.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
