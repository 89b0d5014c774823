using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelKit.Registry;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving;

/// <summary>
/// Loads ONNX models into ONNX Runtime inference sessions through ONNX Runtime's C API. The library and its
/// environment are loaded lazily, once, when the first session is created; each session then runs on the configured
/// execution provider. Thread-safe. Register it with <c>services.AddModelKit().AddOnnxRuntimeServing()</c>, or construct
/// it directly with <c>Options.Create(new OnnxRuntimeOptions())</c>.
/// </summary>
/// <remarks>
/// Sessions outlive the factory safely: disposing the factory releases its reference on the ONNX Runtime environment,
/// which is released when the last session created from it is disposed.
/// </remarks>
public sealed class OnnxRuntimeSessionFactory : IInferenceSessionFactory, IDisposable
{
    private readonly OnnxRuntimeOptions _options;
    private readonly ILogger _logger;
    private readonly IModelRegistry? _registry;
    private readonly ServingMetrics _metrics;
    private readonly Lock _gate = new();
    private OrtRuntime? _runtime;
    private bool _disposed;

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
        ValidateOptionsResult result = new OnnxRuntimeOptionsValidator().Validate(Options.DefaultName, value);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(OnnxRuntimeOptions), result.Failures);
        }

        _options = value;
        _logger = (ILogger?)loggerFactory?.CreateLogger<OnnxRuntimeSessionFactory>() ?? NullLogger.Instance;
        _registry = registry;
        _metrics = new ServingMetrics(meterFactory);
    }

    /// <inheritdoc />
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public IInferenceSession Create(ReadOnlyMemory<byte> model) => CreateFromBytes(model.Span, null);

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="path"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public IInferenceSession CreateFromFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new FileNotFoundException($"Model file '{fullPath}' does not exist. Check the path, or load the model from bytes or through the registry.", fullPath);
        }

        OrtRuntime runtime = GetRuntime();
        using var sessionOptions = runtime.CreateSessionOptions(_options, out ExecutionProvider provider);
        return Wrap(runtime, runtime.CreateSession(fullPath, sessionOptions), provider, null, $"'{fullPath}'");
    }

    /// <inheritdoc />
    /// <remarks>The artifact is read fully into memory (at most 2 GiB) and handed to ONNX Runtime, which copies it.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="reference"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    public async Task<IInferenceSession> CreateAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (_registry is null)
        {
            throw new InvalidOperationException(
                $"Cannot load model reference '{reference}': no IModelRegistry is registered. Call services.AddModelKit().AddModelRegistry() " +
                "(ModelKit.Registry) before resolving the session factory, or load the model with Create(bytes) or CreateFromFile(path).");
        }

        ModelVersion version = await _registry.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(version.Format, ModelFormats.Onnx, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidModelException(
                $"Model '{version.Name}' version {version.Version} has format '{version.Format}', but ONNX Runtime serving loads only '{ModelFormats.Onnx}' artifacts. " +
                "Register an ONNX export of the model, or reference an ONNX version.");
        }

        byte[] bytes;
        Stream artifact = await _registry.OpenArtifactAsync(version, cancellationToken).ConfigureAwait(false);
        await using (artifact.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream(version.SizeBytes is > 0 and <= int.MaxValue ? (int)version.SizeBytes : 0);
            await artifact.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            bytes = buffer.GetBuffer();
            if (buffer.Length != bytes.Length)
            {
                bytes = buffer.ToArray();
            }
        }

        return CreateFromBytes(bytes, version);
    }

    /// <summary>
    /// Releases the factory's reference on the ONNX Runtime environment and its meter. Sessions already created keep
    /// working until they are disposed. Safe to call more than once.
    /// </summary>
    public void Dispose()
    {
        OrtRuntime? runtime;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            runtime = _runtime;
            _runtime = null;
        }

        runtime?.Dispose();
        _metrics.Dispose();
    }

    /// <summary>
    /// Returns the runtime, loading ONNX Runtime and creating its environment on first use. Internal so benchmarks can
    /// reach the raw C API (<see cref="OrtRuntime.Api"/>).
    /// </summary>
    /// <returns>The runtime, owned by this factory.</returns>
    /// <exception cref="NativeEngineException">The library cannot be loaded or the environment cannot be created.</exception>
    /// <exception cref="ObjectDisposedException">The factory was disposed.</exception>
    internal OrtRuntime GetRuntime()
    {
        OrtRuntime? runtime = Volatile.Read(ref _runtime);
        if (runtime is not null)
        {
            return runtime;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_runtime is null)
            {
                // Not cached on failure: a later call retries, for example after the library was installed.
                Volatile.Write(ref _runtime, OrtRuntime.Create(_options.LibraryPath, _logger));
            }

            return _runtime;
        }
    }

    private OnnxRuntimeInferenceSession CreateFromBytes(ReadOnlySpan<byte> model, ModelVersion? version)
    {
        if (model.IsEmpty)
        {
            throw new InvalidModelException("The model is empty (0 bytes). Pass the bytes of a serialized ONNX ModelProto.");
        }

        OrtRuntime runtime = GetRuntime();
        using var sessionOptions = runtime.CreateSessionOptions(_options, out ExecutionProvider provider);
        string description = version is null ? "a model from bytes" : $"model '{version.Name}' version {version.Version}";
        return Wrap(runtime, runtime.CreateSession(model, sessionOptions), provider, version, description);
    }

    private OnnxRuntimeInferenceSession Wrap(OrtRuntime runtime, Interop.OrtSessionHandle handle, ExecutionProvider provider, ModelVersion? version, string description)
    {
        try
        {
            var session = new OnnxRuntimeInferenceSession(runtime, handle, provider, version, _metrics);
            ServingLog.SessionLoaded(_logger, description, provider, session.Signature.Inputs.Count, session.Signature.Outputs.Count);
            return session;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
