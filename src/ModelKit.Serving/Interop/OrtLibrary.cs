using System.Globalization;
using System.Runtime.InteropServices;

namespace ModelKit.Serving.Interop;

/// <summary>
/// One loaded ONNX Runtime shared library and its <see cref="OrtApi"/> table. The library is loaded explicitly
/// (never from a static constructor) and is never unloaded: ONNX Runtime keeps process-wide state (the
/// <c>OrtEnv</c> singleton, thread pools) that must not outlive its code. Thread-safe: the table is read-only.
/// </summary>
internal sealed unsafe class OrtLibrary
{
    /// <summary>The engine name used in <see cref="NativeEngineException"/>s.</summary>
    public const string EngineName = "ONNX Runtime";

    private OrtLibrary(string path, OrtApi* api, string version)
    {
        Path = path;
        Api = api;
        Version = version;
    }

    /// <summary>Gets the path the library was loaded from (or the bare file name when the system loader found it).</summary>
    public string Path { get; }

    /// <summary>Gets the function table; owned by the library, valid for the life of the process.</summary>
    public OrtApi* Api { get; }

    /// <summary>Gets the library's own version string, for example <c>1.30.0</c>.</summary>
    public string Version { get; }

    /// <summary>Gets the platform's file name of ONNX Runtime: <c>libonnxruntime.so.1</c> on Linux.</summary>
    public static string DefaultFileName =>
        OperatingSystem.IsWindows() ? "onnxruntime.dll" :
        OperatingSystem.IsMacOS() ? "libonnxruntime.dylib" :
        "libonnxruntime.so.1";

    /// <summary>
    /// Loads ONNX Runtime from <paramref name="configuredPath"/>, or, when it is <see langword="null"/>, from
    /// <see cref="DefaultFileName"/> in <see cref="AppContext.BaseDirectory"/> and then the system loader's search path.
    /// </summary>
    /// <param name="configuredPath">The configured <see cref="OnnxRuntimeOptions.LibraryPath"/>, or <see langword="null"/>.</param>
    /// <returns>The loaded library.</returns>
    /// <exception cref="NativeEngineException">The library cannot be loaded, is not ONNX Runtime, or is too old; the message names the path.</exception>
    public static OrtLibrary Load(string? configuredPath)
    {
        string path;
        nint module;
        if (configuredPath is not null)
        {
            path = System.IO.Path.GetFullPath(configuredPath);
            if (!File.Exists(path))
            {
                throw LoadFailure(
                    $"ONNX Runtime library '{path}' (OnnxRuntimeOptions.LibraryPath) does not exist. Point LibraryPath at " +
                    $"{DefaultFileName} of ONNX Runtime 1.13 or later, or leave it null to use the copy next to the application.",
                    null);
            }

            try
            {
                module = NativeLibrary.Load(path);
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
            {
                throw LoadFailure(
                    $"ONNX Runtime library '{path}' (OnnxRuntimeOptions.LibraryPath) could not be loaded: {ex.Message} " +
                    $"Point LibraryPath at {DefaultFileName} of ONNX Runtime 1.13 or later built for {RuntimeInformation.RuntimeIdentifier}.",
                    ex);
            }
        }
        else
        {
            string local = System.IO.Path.Combine(AppContext.BaseDirectory, DefaultFileName);
            path = File.Exists(local) ? local : DefaultFileName;
            try
            {
                module = NativeLibrary.Load(path);
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
            {
                throw LoadFailure(
                    $"ONNX Runtime could not be loaded: '{local}' does not exist or failed to load, and the system loader could not load " +
                    $"'{DefaultFileName}' ({ex.Message}). Install ONNX Runtime 1.13 or later (eng/setup.sh puts it in artifacts/native/lib), " +
                    "or set OnnxRuntimeOptions.LibraryPath to its full path.",
                    ex);
            }
        }

        if (!NativeLibrary.TryGetExport(module, "OrtGetApiBase", out nint entry))
        {
            NativeLibrary.Free(module);
            throw LoadFailure(
                $"The library '{path}' does not export OrtGetApiBase, so it is not ONNX Runtime. " +
                $"Point OnnxRuntimeOptions.LibraryPath at {DefaultFileName}.",
                null);
        }

        OrtApiBase* apiBase = ((delegate* unmanaged[Cdecl]<OrtApiBase*>)entry)();
        if (apiBase == null)
        {
            throw LoadFailure($"OrtGetApiBase of the ONNX Runtime library '{path}' returned null; the library is damaged. Reinstall ONNX Runtime.", null);
        }

        string version = Marshal.PtrToStringUTF8((nint)apiBase->GetVersionString()) ?? "unknown";
        OrtApi* api = apiBase->GetApi(OrtApi.RequestedVersion);
        if (api == null)
        {
            throw LoadFailure(
                string.Create(
                    CultureInfo.InvariantCulture,
                    $"The ONNX Runtime library '{path}' (version {version}) does not serve C API version {OrtApi.RequestedVersion}; " +
                    $"ModelKit needs ONNX Runtime 1.13 or later. Install a newer ONNX Runtime or point OnnxRuntimeOptions.LibraryPath at one."),
                null);
        }

        return new OrtLibrary(path, api, version);
    }

    /// <summary>
    /// The one place a status is turned into an exception. Does nothing for a null (success) status; otherwise reads
    /// the error code and message, releases the status, and throws.
    /// </summary>
    /// <param name="status">The status a C API function returned; released here.</param>
    /// <param name="operation">The C API function that returned it, for example <c>Run</c>.</param>
    /// <param name="loadingModel">
    /// <see langword="true"/> while creating a session from a model: then <c>ORT_INVALID_GRAPH</c>, <c>ORT_INVALID_PROTOBUF</c> and
    /// <c>ORT_NO_SUCHFILE</c> become <see cref="InvalidModelException"/>.
    /// </param>
    /// <exception cref="InvalidModelException">Loading a model failed because the model is not valid.</exception>
    /// <exception cref="NativeEngineException">Any other failure; carries the operation, the error code and ONNX Runtime's text.</exception>
    public void ThrowIfFailed(OrtStatus* status, string operation, bool loadingModel = false)
    {
        if (status == null)
        {
            return;
        }

        (OrtErrorCode code, string message) = ReadAndRelease(status);
        if (loadingModel && code is OrtErrorCode.InvalidGraph or OrtErrorCode.InvalidProtobuf or OrtErrorCode.NoSuchFile)
        {
            throw new InvalidModelException(
                $"ONNX Runtime {Version} rejected the model in {operation} ({CodeName(code)}): {message} " +
                "Check that the artifact is a serialized ONNX ModelProto whose graph and opset this ONNX Runtime supports.");
        }

        throw new NativeEngineException(
            EngineName,
            operation,
            (int)code,
            $"ONNX Runtime {Version} failed in {operation} ({CodeName(code)}): {message}");
    }

    /// <summary>
    /// Reads a non-null status's error code and message and releases the status; for callers that handle a failure
    /// themselves (the CUDA fallback) rather than throw.
    /// </summary>
    /// <param name="status">A non-null status; released here.</param>
    /// <returns>The code and ONNX Runtime's message.</returns>
    public (OrtErrorCode Code, string Message) ReadAndRelease(OrtStatus* status)
    {
        try
        {
            OrtErrorCode code = Api->GetErrorCode(status);
            string message = Marshal.PtrToStringUTF8((nint)Api->GetErrorMessage(status)) ?? string.Empty;
            return (code, message);
        }
        finally
        {
            Api->ReleaseStatus(status);
        }
    }

    /// <summary>Returns the header's name of an error code, for example <c>ORT_INVALID_PROTOBUF</c>.</summary>
    /// <param name="code">The code.</param>
    /// <returns>The name.</returns>
    public static string CodeName(OrtErrorCode code) => code switch
    {
        OrtErrorCode.Ok => "ORT_OK",
        OrtErrorCode.Fail => "ORT_FAIL",
        OrtErrorCode.InvalidArgument => "ORT_INVALID_ARGUMENT",
        OrtErrorCode.NoSuchFile => "ORT_NO_SUCHFILE",
        OrtErrorCode.NoModel => "ORT_NO_MODEL",
        OrtErrorCode.EngineError => "ORT_ENGINE_ERROR",
        OrtErrorCode.RuntimeException => "ORT_RUNTIME_EXCEPTION",
        OrtErrorCode.InvalidProtobuf => "ORT_INVALID_PROTOBUF",
        OrtErrorCode.ModelLoaded => "ORT_MODEL_LOADED",
        OrtErrorCode.NotImplemented => "ORT_NOT_IMPLEMENTED",
        OrtErrorCode.InvalidGraph => "ORT_INVALID_GRAPH",
        OrtErrorCode.EpFail => "ORT_EP_FAIL",
        _ => string.Create(CultureInfo.InvariantCulture, $"error code {(int)code}"),
    };

    private static NativeEngineException LoadFailure(string message, Exception? inner) =>
        new(EngineName, "LoadLibrary", 0, message, inner);
}
