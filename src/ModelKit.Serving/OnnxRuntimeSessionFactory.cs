using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving;

/// <summary>
/// Loads ONNX models into ONNX Runtime inference sessions through ONNX Runtime's official managed API
/// (<c>Microsoft.ML.OnnxRuntime.Managed</c>; the application references the native package, <c>Microsoft.ML.OnnxRuntime</c>
/// or <c>Microsoft.ML.OnnxRuntime.Gpu</c>, at 1.31.0). Every model is validated with ModelKit.Onnx
/// (<see cref="OnnxModel.Load(Stream, long)"/>) before ONNX Runtime sees it; its signature is read from the validated
/// graph. Thread-safe. Register it with <c>services.AddModelKit().AddOnnxRuntimeServing()</c>, or construct it directly
/// with <c>Options.Create(new OnnxRuntimeOptions())</c>.
/// </summary>
/// <remarks>
/// External data: a model loaded from a file resolves external tensor data only inside that file's folder; a model
/// loaded from bytes or from the registry resolves it only inside an empty private folder, never against the process's
/// working directory. Sessions outlive the factory safely. ONNX Runtime's own warnings and errors go to this factory's
/// logger while the factory is alive.
/// </remarks>
public sealed class OnnxRuntimeSessionFactory : IInferenceSessionFactory, IDisposable
{
    private const string ExternalInitializersFolderKey = "session.model_external_initializers_file_folder_path";
    private const string CudaProviderName = "CUDAExecutionProvider";
    private static readonly Lazy<string> NoExternalDataFolder = new(() => Directory.CreateTempSubdirectory("modelkit-no-external-data-").FullName);

    private readonly OnnxRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly IModelRegistry? _registry;
    private readonly ServingMetrics _metrics;
    private readonly bool _logSink;
    private int _disposed;

    /// <summary>Initializes a new instance.</summary>
    /// <param name="options">The ONNX Runtime options; validated here (as well as at host start when registered through DI).</param>
    /// <param name="loggerFactory">Creates the logger for ModelKit's and ONNX Runtime's messages; none are written when <see langword="null"/>.</param>
    /// <param name="meterFactory">Creates the <c>ModelKit.Serving</c> meter; when <see langword="null"/> the factory creates and owns one.</param>
    /// <param name="registry">Resolves model references for <see cref="CreateAsync"/>; optional.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid; the message quotes each invalid value.</exception>
    public OnnxRuntimeSessionFactory(
        IOptions<OnnxRuntimeOptions> options,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        IModelRegistry? registry = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        OnnxRuntimeOptions value = options.Value;
        ThrowIfInvalid(value);
        _options = value;
        _logger = (ILogger?)loggerFactory?.CreateLogger<OnnxRuntimeSessionFactory>() ?? NullLogger.Instance;
        _registry = registry;
        _metrics = new ServingMetrics(meterFactory);
        if (loggerFactory is not null)
        {
            OrtEnvironment.AddSink(_logger);
            _logSink = true;
        }
    }

    /// <summary>Gets the options every session is created with unless a caller passes its own.</summary>
    internal OnnxRuntimeOptions Options => _options;

    /// <summary>Gets the instruments shared by the sessions of this factory.</summary>
    internal ServingMetrics Metrics => _metrics;

    /// <summary>Gets the registry, when one was given.</summary>
    internal IModelRegistry? Registry => _registry;

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public IInferenceSession Create(ReadOnlyMemory<byte> model) => CreateFromBytes(model, null, _options, "the model");

    /// <inheritdoc />
    /// <remarks>The file is validated first; external tensor data is read only from files inside the model's folder.</remarks>
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public IInferenceSession CreateFromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"Model file '{fullPath}' does not exist. Check the path, or load the model from bytes or through the registry.", fullPath);
        }

        // LoadFile validates every tensor location and checks external data against the model's own folder (symbolic
        // links resolved, offsets and lengths inside the files), so ONNX Runtime never reads a file outside it.
        ModelSignature signature = OnnxModel.LoadFile(fullPath).ReadSignature();

        string folder = Path.GetDirectoryName(fullPath)!;
        return Load(so => new InferenceSession(fullPath, so), signature, folder, null, _options, $"'{fullPath}'");
    }

    /// <inheritdoc />
    /// <remarks>The artifact is read fully into memory (at most 2 GiB), validated and handed to ONNX Runtime.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="reference"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public async Task<IInferenceSession> CreateAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        IModelRegistry registry = RequireRegistry(reference);
        ModelVersion version = await registry.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        return await LoadVersionAsync(version, _options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Releases the factory's meter (when it owns it) and stops forwarding ONNX Runtime's messages to its logger.
    /// Sessions already created keep working until they are disposed. Safe to call more than once.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_logSink)
        {
            OrtEnvironment.RemoveSink(_logger);
        }

        _metrics.Dispose();
    }

    /// <summary>Reads, validates and loads the artifact of a registered version with <paramref name="options"/>.</summary>
    internal async Task<OnnxRuntimeInferenceSession> LoadVersionAsync(ModelVersion version, OnnxRuntimeOptions options, CancellationToken cancellationToken)
    {
        IModelRegistry registry = RequireRegistry(version.Reference);
        if (!string.Equals(version.Format, ModelFormats.Onnx, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidModelException(
                $"Model '{version.Name}' version {version.Version} has format '{version.Format}', but ONNX Runtime serving loads only '{ModelFormats.Onnx}' artifacts. " +
                "Register an ONNX export of the model, or reference an ONNX version.");
        }

        byte[] bytes;
        Stream artifact = await registry.OpenArtifactAsync(version, cancellationToken).ConfigureAwait(false);
        await using (artifact.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream(version.SizeBytes is > 0 and <= int.MaxValue ? (int)version.SizeBytes : 0);
            await artifact.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            bytes = buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
        }

        string description = string.Create(CultureInfo.InvariantCulture, $"model '{version.Name}' version {version.Version}");
        return CreateFromBytes(bytes, version, options, description);
    }

    /// <summary>Validates options the way the DI validator does, for callers that bypass DI.</summary>
    internal static void ThrowIfInvalid(OnnxRuntimeOptions value)
    {
        ValidateOptionsResult result = new OnnxRuntimeOptionsValidator().Validate(Microsoft.Extensions.Options.Options.DefaultName, value);
        if (result.Failed)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(OnnxRuntimeOptions), result.Failures);
        }
    }

    private OnnxRuntimeInferenceSession CreateFromBytes(ReadOnlyMemory<byte> model, ModelVersion? version, OnnxRuntimeOptions options, string description)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ModelSignature signature = OnnxModel.Load(model.Span).ReadSignature();
        byte[] bytes = MemoryMarshal.TryGetArray(model, out ArraySegment<byte> segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : model.ToArray();
        return Load(so => new InferenceSession(bytes, so), signature, NoExternalDataFolder.Value, version, options, description);
    }


    private OnnxRuntimeInferenceSession Load(
        Func<SessionOptions, InferenceSession> create, ModelSignature signature, string externalDataFolder, ModelVersion? version, OnnxRuntimeOptions options, string description)
    {
        _ = OrtEnvironment.Get();
        ExecutionProvider provider = ExecutionProvider.Cpu;
        InferenceSession? session = null;
        try
        {
            string? cudaFailure = null;
            using (SessionOptions sessionOptions = CreateSessionOptions(options, externalDataFolder, description, ref cudaFailure))
            {
                try
                {
                    session = create(sessionOptions);
                    provider = options.ExecutionProvider == ExecutionProvider.Cuda && cudaFailure is null ? ExecutionProvider.Cuda : ExecutionProvider.Cpu;
                }
                catch (OnnxRuntimeException ex) when (options.ExecutionProvider == ExecutionProvider.Cuda && cudaFailure is null && ex.Message.Contains("cuda", StringComparison.OrdinalIgnoreCase))
                {
                    // The provider was appended but failed while the session was created: apply the same rule.
                    cudaFailure = ex.Message;
                    ThrowOrLogCudaFailure(options, description, cudaFailure);
                }
            }

            if (session is null)
            {
                string? ignored = cudaFailure;
                using SessionOptions cpuOptions = CreateSessionOptions(options, externalDataFolder, description, ref ignored, forceCpu: true);
                session = create(cpuOptions);
            }

            var result = new OnnxRuntimeInferenceSession(session, signature, provider, version, description, _metrics);
            ServingLog.SessionLoaded(_logger, description, result.ProviderName, signature.Inputs.Count, signature.Outputs.Count);
            return result;
        }
        catch (OnnxRuntimeException ex)
        {
            session?.Dispose();
            throw new InvalidModelException($"ONNX Runtime could not load {description}: {ex.Message} Check that the model is valid ONNX for opset and operators ONNX Runtime 1.31 supports.", ex);
        }
        catch
        {
            session?.Dispose();
            throw;
        }
    }

    private SessionOptions CreateSessionOptions(OnnxRuntimeOptions options, string externalDataFolder, string description, ref string? cudaFailure, bool forceCpu = false)
    {
        var sessionOptions = new SessionOptions();
        try
        {
            sessionOptions.GraphOptimizationLevel = options.GraphOptimizationLevel switch
            {
                GraphOptimizationLevel.Disabled => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL,
                GraphOptimizationLevel.Basic => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                GraphOptimizationLevel.Extended => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                _ => Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            if (options.IntraOpThreadCount > 0)
            {
                sessionOptions.IntraOpNumThreads = options.IntraOpThreadCount;
            }

            if (options.InterOpThreadCount > 0)
            {
                sessionOptions.InterOpNumThreads = options.InterOpThreadCount;
            }

            sessionOptions.EnableCpuMemArena = options.EnableMemoryArena;
            sessionOptions.AddSessionConfigEntry(ExternalInitializersFolderKey, externalDataFolder);
            if (options.ExecutionProvider == ExecutionProvider.Cuda && !forceCpu && cudaFailure is null)
            {
                cudaFailure = TryAppendCuda(sessionOptions, options);
                if (cudaFailure is not null)
                {
                    ThrowOrLogCudaFailure(options, description, cudaFailure);
                }
            }

            options.ConfigureSessionOptions?.Invoke(sessionOptions);
            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    /// <summary>Appends the CUDA execution provider as documented (<c>OrtCUDAProviderOptions</c> + <c>AppendExecutionProvider_CUDA</c>); returns why it failed, or null.</summary>
    private static string? TryAppendCuda(SessionOptions sessionOptions, OnnxRuntimeOptions options)
    {
        string[] available = [.. OrtEnvironment.GetAvailableProviders()];
        if (Array.IndexOf(available, CudaProviderName) < 0)
        {
            return $"the native ONNX Runtime package of this application has no CUDA execution provider (it has {string.Join(", ", available)}).";
        }

        try
        {
            using var cuda = new OrtCUDAProviderOptions();
            var settings = new Dictionary<string, string>
            {
                ["device_id"] = options.CudaDeviceId.ToString(CultureInfo.InvariantCulture),
                ["arena_extend_strategy"] = options.CudaArenaExtendStrategy == CudaArenaExtendStrategy.SameAsRequested ? "kSameAsRequested" : "kNextPowerOfTwo",
                ["cudnn_conv_algo_search"] = options.CudnnConvolutionAlgorithmSearch switch
                {
                    CudnnConvolutionAlgorithmSearch.Heuristic => "HEURISTIC",
                    CudnnConvolutionAlgorithmSearch.Default => "DEFAULT",
                    _ => "EXHAUSTIVE",
                },
            };
            if (options.CudaMemoryLimitBytes > 0)
            {
                settings["gpu_mem_limit"] = options.CudaMemoryLimitBytes.ToString(CultureInfo.InvariantCulture);
            }

            cuda.UpdateOptions(settings);
            sessionOptions.AppendExecutionProvider_CUDA(cuda);
            return null;
        }
        catch (OnnxRuntimeException ex)
        {
            return ex.Message;
        }
    }

    private void ThrowOrLogCudaFailure(OnnxRuntimeOptions options, string description, string reason)
    {
        if (options.AllowCpuFallback)
        {
            ServingLog.CudaFallback(_logger, options.CudaDeviceId, description, reason);
            return;
        }

        bool packageHasCuda = OrtEnvironment.GetAvailableProviders().Contains(CudaProviderName);
        string remedy = packageHasCuda
            ? "The Microsoft.ML.OnnxRuntime.Gpu package is referenced, but its CUDA provider could not load: install the CUDA and cuDNN libraries that ONNX Runtime 1.31's GPU package needs (the message above names the missing one) on a machine with an NVIDIA GPU, "
            : "Reference the NuGet package Microsoft.ML.OnnxRuntime.Gpu (Linux only: Microsoft.ML.OnnxRuntime.Gpu.Linux) 1.31.0 instead of Microsoft.ML.OnnxRuntime, with CUDA and cuDNN installed on a machine with an NVIDIA GPU, ";
        throw new NativeEngineException(
            OnnxRuntimeErrors.EngineName,
            "AppendExecutionProvider_CUDA",
            0,
            FormattableString.Invariant($"The CUDA execution provider (device {options.CudaDeviceId}) could not be added for {description}: {reason} ") + remedy +
            "or set OnnxRuntimeOptions.ExecutionProvider = Cpu, or AllowCpuFallback = true to run on CPU with a logged warning.");
    }

    private IModelRegistry RequireRegistry(ModelReference reference) =>
        _registry ?? throw new InvalidOperationException(
            $"Cannot load model reference '{reference}': no IModelRegistry is registered. Call services.AddModelKit().AddModelRegistry() " +
            "(ModelKit.Registry) before resolving the session factory, or load the model with Create(bytes) or CreateFromFile(path).");
}
