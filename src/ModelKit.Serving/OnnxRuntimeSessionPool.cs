using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelKit.Diagnostics;
using ModelKit.Registry;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving;

/// <summary>
/// The <see cref="IInferenceSessionPool"/> on ONNX Runtime: loads model versions from the registry through
/// <see cref="OnnxRuntimeSessionFactory"/>, shares each loaded version between every reference that resolves to it,
/// hands out reference-counted leases, batches requests per model (<see cref="BatchingOptions"/>), hot-reloads a
/// reference when its alias moves (followed through the registry's change notifications, and polled every <see cref="InferenceSessionPoolOptions.ReloadPollInterval"/>),
/// and unloads least-recently-used models beyond its budget. Thread-safe. Register it with
/// <c>services.AddModelKit().AddModelRegistry().AddOnnxRuntimeServing()</c>.
/// </summary>
/// <remarks>
/// A generation (one loaded version) is disposed only when no reference serves it any more and no lease or request
/// holds it, so no request ever runs on a disposed session. Disposing the pool fails queued requests with
/// <see cref="ObjectDisposedException"/>, waits for running batches, and disposes every generation that no caller holds.
/// </remarks>
public sealed class OnnxRuntimeSessionPool : IInferenceSessionPool, IAsyncDisposable, IDisposable
{
    private readonly OnnxRuntimeSessionFactory _factory;
    private readonly InferenceSessionPoolOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IInferenceObserver[] _observers;
    private readonly ServingMetrics _metrics;
    private readonly IModelChangeSource _changes;
    private readonly Lock _gate = new();
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Generation> _generations = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<ModelReference, string> _keys = new();
    private const int RecentKeySlots = 16;
    private readonly KeyOfReference?[] _recentKeys = new KeyOfReference?[RecentKeySlots];
    private readonly LiveCounter _live = new();
    private int _disposed;

    /// <summary>Initializes a new instance and starts change detection.</summary>
    /// <param name="factory">Loads the sessions; it must have an <see cref="IModelRegistry"/>.</param>
    /// <param name="options">The pool options; validated here.</param>
    /// <param name="loggerFactory">Creates the pool's logger; optional.</param>
    /// <param name="timeProvider">The clock of the batcher, the LRU order and polling; <see cref="TimeProvider.System"/> when <see langword="null"/>.</param>
    /// <param name="observers">Called once per answered request; optional.</param>
    /// <exception cref="ArgumentNullException"><paramref name="factory"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="OptionsValidationException">The options are invalid; the message quotes each invalid value.</exception>
    public OnnxRuntimeSessionPool(
        OnnxRuntimeSessionFactory factory,
        IOptions<InferenceSessionPoolOptions> options,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        IEnumerable<IInferenceObserver>? observers = null)
        : this(factory, options, loggerFactory, timeProvider, observers, null)
    {
    }

    internal OnnxRuntimeSessionPool(
        OnnxRuntimeSessionFactory factory,
        IOptions<InferenceSessionPoolOptions> options,
        ILoggerFactory? loggerFactory,
        TimeProvider? timeProvider,
        IEnumerable<IInferenceObserver>? observers,
        IModelChangeSource? changeSource)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(options);
        InferenceSessionPoolOptions value = options.Value;
        ValidateOptionsResult result = new InferenceSessionPoolOptionsValidator().Validate(Options.DefaultName, value);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(InferenceSessionPoolOptions), result.Failures);
        }

        _factory = factory;
        _options = value;
        _logger = (ILogger?)loggerFactory?.CreateLogger<OnnxRuntimeSessionPool>() ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _observers = observers is null ? [] : [.. observers];
        _metrics = factory.Metrics;
        _changes = changeSource ?? CreateChangeSource(factory.Registry, value, _time, _logger);
        _changes.Start(OnPossibleChangeAsync);
    }

    /// <inheritdoc />
    public async ValueTask<IInferenceSessionLease> AcquireAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        Generation generation = await AcquireGenerationAsync(KeyOf(reference), reference, cancellationToken).ConfigureAwait(false);
        return new Lease(generation);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The returned <see cref="ValueTask{TResult}"/> is backed by a pooled object that is reused once its result is read,
    /// so a request that waits for its batch allocates no task: await it exactly once, or convert it once with
    /// <see cref="ValueTask{TResult}.AsTask"/>. On the hot path (a loaded model whose requests are batched, no deadline,
    /// no cancellable token, no <see cref="IInferenceObserver"/> and no listener of the <c>ModelKit.Serving</c> activity
    /// source) that object is the batcher's pooled request itself; otherwise it is a pooled async state machine box
    /// (<see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/>). Either way every failure, argument errors included,
    /// is reported through the returned task, never thrown by the call.
    /// </remarks>
    public ValueTask<InferenceResult> RunAsync(ModelReference reference, IReadOnlyList<NamedTensor> inputs, InferenceRequestOptions? options = null, CancellationToken cancellationToken = default)
    {
        // The hot path: a loaded, batchable model, and nothing that needs the async method around the request (no deadline,
        // no cancellable token, no observer, no span listener, the system clock). The batcher's pooled request is the
        // returned task itself, and the generation is released when the request completes. Failures go into the task, as
        // they do from the async method.
        if (reference is not null && inputs is not null && options?.Deadline is null && !cancellationToken.CanBeCanceled && _observers.Length == 0
            && ReferenceEquals(_time, TimeProvider.System) && !ServingMetrics.ActivitySource.HasListeners())
        {
            long now = Stopwatch.GetTimestamp();
            if (TryAcquireCurrent(KeyOf(reference), now) is { } generation)
            {
                if (generation.Batcher.CanMerge)
                {
                    Tensor[] ordered;
                    try
                    {
                        ordered = generation.Session.ValidateAndOrder(inputs);
                    }
                    catch (Exception ex)
                    {
                        generation.OnRequestCompleted(now, ex);
                        return ValueTask.FromException<InferenceResult>(ex);
                    }

                    return generation.Batcher.EnqueueForResult(ordered, options?.Priority ?? InferencePriority.Normal, now, generation);
                }

                generation.Release();
            }
        }

        return RunWithinAsync(reference!, inputs!, options, cancellationToken);
    }

    /// <summary>Runs a request inside an async method: loads the model, honours deadline and cancellation, observers and spans.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<InferenceResult> RunWithinAsync(ModelReference reference, IReadOnlyList<NamedTensor> inputs, InferenceRequestOptions? options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(inputs);
        // One clock read per request on the hot path: the pool's clock is the system clock unless a test replaced it, and
        // then the same reading stamps the model's last use and the request's queue entry.
        long start = Stopwatch.GetTimestamp();
        long now = ReferenceEquals(_time, TimeProvider.System) ? start : _time.GetTimestamp();
        using Activity? activity = ModelKitTelemetryHelpers.StartActivity(ServingMetrics.ActivitySource, "modelkit.serving.request");
        string key = KeyOf(reference);
        Generation generation = TryAcquireCurrent(key, now) ?? await AcquireGenerationAsync(key, reference, cancellationToken).ConfigureAwait(false);
        try
        {
            activity?.SetTag(ServingMetrics.ModelNameTag, generation.Version.Name);
            activity?.SetTag(ServingMetrics.ModelVersionTag, generation.Version.Version);
            activity?.SetTag(ServingMetrics.ProviderTag, generation.Session.ProviderName);
            Tensor[] ordered = generation.Session.ValidateAndOrder(inputs);
            BatchOutcome outcome;
            if (generation.Batcher.CanMerge)
            {
                outcome = await generation.Batcher.Enqueue(ordered, options?.Deadline, options?.Priority ?? InferencePriority.Normal, activity?.Context ?? default, now, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                outcome = RunUnbatched(generation, ordered, options, cancellationToken);
            }

            InferenceResult answer = generation.ToResult(outcome);
            if (_metrics.RequestDuration.Enabled || _observers.Length > 0)
            {
                TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
                _metrics.RequestDuration.Record(elapsed.TotalSeconds, generation.Tags);
                Observe(key, generation, inputs, answer, elapsed, options?.RequestId);
            }

            activity?.SetTag("modelkit.batch.size", outcome.BatchSize);
            return answer;
        }
        catch (Exception ex)
        {
            ModelKitTelemetryHelpers.RecordError(activity, ex);
            generation.RecordRequestDuration(start, ex);
            throw;
        }
        finally
        {
            generation.Release();
        }
    }

    /// <inheritdoc />
    public async Task<ModelVersion> ReloadAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        while (true)
        {
            Generation held = await AcquireGenerationAsync(KeyOf(reference), reference, cancellationToken).ConfigureAwait(false);
            held.Release();
            if (_entries.TryGetValue(reference.ToString(), out Entry? entry))
            {
                await ReloadEntryAsync(entry, explicitReload: true, cancellationToken).ConfigureAwait(false);
                if (entry.Current is { } current)
                {
                    return current.Version;
                }
            }

            // Unloaded by the budget meanwhile: load it again and retry.
        }
    }

    /// <inheritdoc />
    public async Task<ModelVersion> RollbackAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ThrowIfDisposed();
        string key = reference.ToString();
        if (!_entries.TryGetValue(key, out Entry? entry) || entry.Current is null)
        {
            throw new InvalidOperationException($"Cannot roll back '{key}': it is not loaded in this pool. Run a request on it first.");
        }

        await entry.ReloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ModelVersion previous = entry.Previous ?? throw new InvalidOperationException(
                $"Cannot roll back '{key}': it has served only version {entry.Current.Version.Version} since it was loaded. Roll back after a reload, or point the alias back in the registry.");
            Generation next = await LoadGenerationAsync(key, previous, cancellationToken).ConfigureAwait(false);
            Swap(entry, next);
            entry.Pinned = true;
            ServingLog.RolledBack(_logger, key, previous.Version);
            return previous;
        }
        finally
        {
            entry.ReloadGate.Release();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<LoadedModel> GetLoadedModels()
    {
        var list = new List<LoadedModel>();
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Current is { } generation)
            {
                list.Add(new LoadedModel(entry.Key, generation.Version, generation.Session.ProviderName, generation.SizeBytes, ToUtc(Volatile.Read(ref entry.LastUsed))));
            }
        }

        list.Sort(static (a, b) => string.CompareOrdinal(a.Reference, b.Reference));
        return list;
    }

    /// <summary>
    /// Unloads <paramref name="reference"/> on request (the management <c>unload</c> endpoint): the pool forgets it, and its
    /// session is disposed once no other loaded reference serves the same version and no lease holds it. The next request
    /// for the reference loads it again.
    /// </summary>
    /// <param name="reference">The reference as it was loaded, for example <c>fashion-mnist@production</c>.</param>
    /// <returns><see langword="true"/> when the reference was loaded; <see langword="false"/> when it was not (nothing changes).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="reference"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public bool Unload(ModelReference reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ThrowIfDisposed();
        Entry? entry;
        lock (_gate)
        {
            if (!_entries.TryGetValue(reference.ToString(), out entry) || entry.Current is null)
            {
                return false;
            }

            _entries.TryRemove(entry.Key, out _);
        }

        Generation? gone = entry.Current;
        entry.Current = null;
        if (gone is not null)
        {
            ServingLog.Unloaded(_logger, entry.Key, gone.Version.Version, "unloaded on request");
            Unbind(gone);
        }

        return gone is not null;
    }

    /// <summary>Gets how many generations (distinct loaded versions) exist now, including ones draining after a swap.</summary>
    internal int LiveGenerationCount => Volatile.Read(ref _live.Value);

    /// <summary>Gets how many versions are loaded and serving a reference.</summary>
    internal int ServingGenerationCount
    {
        get
        {
            lock (_gate)
            {
                return _generations.Count;
            }
        }
    }

    /// <summary>Checks every served reference against the registry now, as one poll does.</summary>
    private static IModelChangeSource CreateChangeSource(IModelRegistry? registry, InferenceSessionPoolOptions options, TimeProvider time, ILogger logger)
    {
        var polling = new PollingModelChangeSource(options.ReloadPollInterval, time);
        if (registry is null || !options.UseRegistryNotifications)
        {
            return polling;
        }

        TimeSpan retry = options.ReloadPollInterval > TimeSpan.Zero ? options.ReloadPollInterval : TimeSpan.FromSeconds(10);
        return new CompositeModelChangeSource(polling, new RegistryNotificationModelChangeSource(registry, retry, time, logger));
    }

    internal Task CheckForChangesAsync(CancellationToken cancellationToken = default) => OnPossibleChangeAsync(null, cancellationToken);

    /// <summary>
    /// Stops change detection, fails queued requests with <see cref="ObjectDisposedException"/>, waits for running
    /// batches and releases every generation (each is disposed once no lease holds it). Safe to call more than once.
    /// </summary>
    /// <returns>A task that completes when running batches have finished.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _changes.DisposeAsync().ConfigureAwait(false);
        List<Generation> generations;
        lock (_gate)
        {
            generations = [.. _generations.Values];
            _generations.Clear();
        }

        var closed = new ObjectDisposedException(nameof(OnnxRuntimeSessionPool), "The inference session pool was disposed before the request ran.");
        foreach (Generation generation in generations)
        {
            generation.Batcher.Close(closed);
        }

        foreach (Generation generation in generations)
        {
            await generation.Batcher.WhenIdleAsync().ConfigureAwait(false);
        }

        foreach (Entry entry in _entries.Values)
        {
            entry.Current = null;
            entry.ReloadGate.Dispose();
        }

        _entries.Clear();
        foreach (Generation generation in generations)
        {
            generation.Release();
        }
    }

    /// <summary>Disposes the pool synchronously; see <see cref="DisposeAsync"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private BatchOutcome RunUnbatched(Generation generation, Tensor[] ordered, InferenceRequestOptions? options, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            _metrics.Cancelled.Add(1, generation.Tags);
            cancellationToken.ThrowIfCancellationRequested();
        }

        if (options?.Deadline is { } deadline && _time.GetUtcNow() >= deadline)
        {
            _metrics.TimedOut.Add(1, generation.Tags);
            throw new InferenceTimeoutException(generation.Key, deadline, string.Create(CultureInfo.InvariantCulture, $"The request to '{generation.Key}' was dropped unrun: its deadline {deadline:O} had passed."));
        }

        long start = Stopwatch.GetTimestamp();
        NamedTensor[] outputs = generation.Session.RunOrdered(ordered);
        _metrics.RunDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, generation.Tags);
        int rows = ordered.Length > 0 && ordered[0].Shape.Length > 0 ? (int)ordered[0].Shape[0] : 1;
        _metrics.BatchSize.Record(rows, generation.Tags);
        return new BatchOutcome(outputs, rows, TimeSpan.Zero);
    }

    private void Observe(string reference, Generation generation, IReadOnlyList<NamedTensor> inputs, InferenceResult answer, TimeSpan elapsed, string? requestId)
    {
        if (_observers.Length == 0)
        {
            return;
        }

        var observation = new InferenceObservation(reference, generation.Version, inputs, answer.Outputs, elapsed, _time.GetUtcNow()) { RequestId = requestId };
        foreach (IInferenceObserver observer in _observers)
        {
            try
            {
                observer.OnInferenceCompleted(observation);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                ServingLog.ObserverFailed(_logger, ex);
            }
        }
    }

    /// <summary>
    /// Returns the text of <paramref name="reference"/>, the key of its entry, without formatting it on every request:
    /// references are records, so equal references share one cached string. At most 4,096 distinct references are
    /// cached (references come from requests, which may be untrusted); others are formatted each time.
    /// </summary>
    private string KeyOf(ModelReference reference)
    {
        // Callers usually parse a reference once and pass the same instance with every request: recently used instances are
        // recognised by identity (a small table indexed by the object's identity hash), without hashing the record's strings.
        ref KeyOfReference? slot = ref _recentKeys[RuntimeHelpers.GetHashCode(reference) & (RecentKeySlots - 1)];
        KeyOfReference? recent = Volatile.Read(ref slot);
        if (recent is not null && ReferenceEquals(recent.Reference, reference))
        {
            return recent.Key;
        }

        if (!_keys.TryGetValue(reference, out string? key))
        {
            key = reference.ToString();
            if (_keys.Count < 4096)
            {
                _keys.TryAdd(reference, key);
            }
        }

        Volatile.Write(ref slot, new KeyOfReference(reference, key));
        return key;
    }

    /// <summary>A reference <see cref="KeyOf"/> looked up and its key (immutable, published as a whole).</summary>
    private sealed record KeyOfReference(ModelReference Reference, string Key);

    /// <summary>
    /// The hot path of <see cref="AcquireGenerationAsync"/>: the loaded generation of <paramref name="key"/> with a
    /// reference taken, stamped as used at <paramref name="now"/> (the pool clock's timestamp); null when the pool is
    /// disposed, the model is not loaded yet or its generation is being swapped (the slow path handles each).
    /// </summary>
    private Generation? TryAcquireCurrent(string key, long now)
    {
        if (Volatile.Read(ref _disposed) == 0 && _entries.TryGetValue(key, out Entry? entry) && entry.Current is { } current && current.TryAddRef())
        {
            Volatile.Write(ref entry.LastUsed, now);
            return current;
        }

        return null;
    }

    private async ValueTask<Generation> AcquireGenerationAsync(string key, ModelReference reference, CancellationToken cancellationToken)
    {
        while (true)
        {
            ThrowIfDisposed();
            if (_entries.TryGetValue(key, out Entry? entry) && entry.Current is { } current)
            {
                if (current.TryAddRef())
                {
                    Volatile.Write(ref entry.LastUsed, _time.GetTimestamp());
                    return current;
                }

                continue;
            }

            entry ??= GetOrAddEntry(key, reference);
            Task load = entry.InitialLoad!;
            try
            {
                await load.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                lock (_gate)
                {
                    // Forget the failed entry so the next request tries again.
                    if (entry.Current is null && _entries.TryGetValue(key, out Entry? same) && ReferenceEquals(same, entry))
                    {
                        _entries.TryRemove(key, out _);
                    }
                }

                throw;
            }
        }
    }

    private Entry GetOrAddEntry(string key, ModelReference reference)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out Entry? existing))
            {
                return existing;
            }

            var entry = new Entry(key, reference) { LastUsed = _time.GetTimestamp() };
            entry.InitialLoad = Task.Run(() => InitialLoadAsync(entry));
            _entries[key] = entry; // published only with its load set: readers outside the lock await it
            return entry;
        }
    }

    private async Task InitialLoadAsync(Entry entry)
    {
        IModelRegistry registry = RequireRegistry(entry.Key);
        ModelVersion version = await registry.ResolveAsync(entry.Reference).ConfigureAwait(false);
        Generation generation = await LoadGenerationAsync(entry.Key, version, CancellationToken.None, replacing: false).ConfigureAwait(false);
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                generation.Release();
                throw new ObjectDisposedException(nameof(OnnxRuntimeSessionPool));
            }

            entry.Current = generation;
        }

        EnforceBudget(entry);
    }

    /// <summary>Returns a generation of <paramref name="version"/> holding one binding for the caller: an existing one, or a new one loaded and warmed up.</summary>
    private async Task<Generation> LoadGenerationAsync(string reference, ModelVersion version, CancellationToken cancellationToken, bool replacing = true)
    {
        string generationKey = version.Reference.ToString();
        lock (_gate)
        {
            if (_generations.TryGetValue(generationKey, out Generation? shared) && shared.TryAddRef())
            {
                shared.Bindings++;
                return shared;
            }
        }

        long start = Stopwatch.GetTimestamp();
        ModelServingOptions? perModel = _options.Models.TryGetValue(version.Name, out ModelServingOptions? m) ? m : null;
        OnnxRuntimeOptions runtime = perModel?.Runtime ?? _factory.Options;
        BatchingOptions batching = perModel?.Batching ?? _options.Batching;
        bool warmUp = perModel?.WarmUp ?? _options.WarmUp;
        KeyValuePair<string, object?>[] loadTags = [new(ServingMetrics.ModelNameTag, version.Name), new(ServingMetrics.ModelVersionTag, version.Version)];
        OnnxRuntimeInferenceSession? session = null;
        try
        {
            session = await _factory.LoadVersionAsync(version, runtime, cancellationToken).ConfigureAwait(false);
            if (warmUp)
            {
                try
                {
                    WarmUp(session);
                }
                catch (ModelKitException ex) when (!replacing)
                {
                    // Nothing serves this reference yet, so a model that rejects the synthetic request (for example one
                    // whose dynamic dimensions must be larger than 1) still serves real requests; the failure is logged.
                    ServingLog.WarmUpFailed(_logger, ex, reference);
                }
            }
        }
        catch (Exception ex)
        {
            session?.Dispose();
            KeyValuePair<string, object?>[] failTags = [.. loadTags, new(ServingMetrics.ErrorTypeTag, ex.GetType().FullName)];
            _metrics.LoadFailures.Add(1, failTags);
            ServingLog.LoadFailed(_logger, ex, reference);
            throw;
        }

        var generation = new Generation(generationKey, version, session, batching, _time, _metrics, _live);
        double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        _metrics.Loads.Add(1, generation.Tags);
        _metrics.LoadDuration.Record(seconds, generation.Tags);
        _metrics.LoadedModels.Add(1, generation.Tags);
        ServingLog.GenerationServing(_logger, reference, version.Name, version.Version, seconds);
        lock (_gate)
        {
            if (_generations.TryGetValue(generationKey, out Generation? raced) && raced.TryAddRef())
            {
                raced.Bindings++;
                generation.Release();
                return raced;
            }

            _generations[generationKey] = generation;
            generation.Bindings = 1;
            return generation;
        }
    }

    private static void WarmUp(OnnxRuntimeInferenceSession session)
    {
        var inputs = new Tensor[session.Signature.Inputs.Count];
        for (int k = 0; k < inputs.Length; k++)
        {
            TensorSpec spec = session.Signature.Inputs[k];
            long[] shape = new long[spec.Shape.Count];
            long count = 1;
            for (int d = 0; d < shape.Length; d++)
            {
                shape[d] = spec.Shape[d] < 0 ? 1 : spec.Shape[d];
                count *= shape[d];
            }

            inputs[k] = spec.ElementType == TensorElementType.String
                ? StringTensor.Create(Enumerable.Repeat(string.Empty, (int)count).ToArray(), shape)
                : OrtTensors.Allocate(spec.ElementType, shape);
        }

        _ = session.RunOrdered(inputs);
    }

    private async Task ReloadEntryAsync(Entry entry, bool explicitReload, CancellationToken cancellationToken)
    {
        await entry.ReloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (entry.Pinned && !explicitReload)
            {
                return;
            }

            IModelRegistry registry = RequireRegistry(entry.Key);
            ModelVersion version = await registry.ResolveAsync(entry.Reference, cancellationToken).ConfigureAwait(false);
            entry.Pinned = false;
            if (entry.Current is not { } current || current.Version.Version == version.Version)
            {
                return;
            }

            Generation next = await LoadGenerationAsync(entry.Key, version, cancellationToken).ConfigureAwait(false);
            int old = current.Version.Version;
            Swap(entry, next);
            ServingLog.Reloaded(_logger, entry.Key, old, version.Version);
            EnforceBudget(entry);
        }
        finally
        {
            entry.ReloadGate.Release();
        }
    }

    private void Swap(Entry entry, Generation next)
    {
        Generation? old;
        lock (_gate)
        {
            old = entry.Current;
            entry.Current = next;
            if (old is not null)
            {
                entry.Previous = old.Version;
            }
        }

        if (old is not null)
        {
            Unbind(old);
        }
    }

    /// <summary>Drops one reference's binding of <paramref name="generation"/>; it is disposed when no binding and no lease is left.</summary>
    private void Unbind(Generation generation)
    {
        lock (_gate)
        {
            generation.Bindings--;
            if (generation.Bindings == 0 && _generations.TryGetValue(generation.Key, out Generation? same) && ReferenceEquals(same, generation))
            {
                _generations.Remove(generation.Key);
            }
        }

        generation.Release();
    }

    private void EnforceBudget(Entry keep)
    {
        while (true)
        {
            Entry? victim = null;
            lock (_gate)
            {
                long bytes = 0;
                foreach (Generation g in _generations.Values)
                {
                    bytes += g.SizeBytes;
                }

                bool over = _generations.Count > _options.MaxLoadedModels || (_options.MaxLoadedBytes > 0 && bytes > _options.MaxLoadedBytes);
                if (!over)
                {
                    return;
                }

                foreach (Entry candidate in _entries.Values)
                {
                    if (ReferenceEquals(candidate, keep) || candidate.Current is null || ReferenceEquals(candidate.Current, keep.Current))
                    {
                        continue;
                    }

                    if (victim is null || Volatile.Read(ref candidate.LastUsed) < Volatile.Read(ref victim.LastUsed))
                    {
                        victim = candidate;
                    }
                }

                if (victim is null)
                {
                    return;
                }

                _entries.TryRemove(victim.Key, out _);
            }

            Generation? gone = victim.Current;
            victim.Current = null;
            if (gone is not null)
            {
                ServingLog.Unloaded(_logger, victim.Key, gone.Version.Version, "least recently used beyond the pool's budget");
                Unbind(gone);
            }
        }
    }

    private async Task OnPossibleChangeAsync(string? modelName, CancellationToken cancellationToken)
    {
        foreach (Entry entry in _entries.Values)
        {
            if (entry.Reference.Version is not null || entry.Current is null || (modelName is not null && entry.Reference.Name != modelName))
            {
                continue;
            }

            try
            {
                await ReloadEntryAsync(entry, explicitReload: false, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                ServingLog.ChangeCheckFailed(_logger, ex, entry.Key);
            }
        }
    }

    private IModelRegistry RequireRegistry(string reference) =>
        _factory.Registry ?? throw new InvalidOperationException(
            $"Cannot serve model reference '{reference}': the session factory has no IModelRegistry. Call services.AddModelKit().AddModelRegistry() (ModelKit.Registry), " +
            "or construct OnnxRuntimeSessionFactory with a registry.");

    private DateTimeOffset ToUtc(long timestamp) => _time.GetUtcNow() - _time.GetElapsedTime(timestamp);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private sealed class Entry(string key, ModelReference reference)
    {
        public long LastUsed;

        public string Key { get; } = key;

        public ModelReference Reference { get; } = reference;

        public Generation? Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }

        public ModelVersion? Previous { get; set; }

        public bool Pinned { get; set; }

        public Task? InitialLoad { get; set; }

        public SemaphoreSlim ReloadGate { get; } = new(1, 1);

        private Generation? _current;
    }

    /// <summary>One loaded version: its session and batcher, reference-counted by bindings (references it serves) and leases.</summary>
    private sealed class Generation : IRequestOwner
    {
        private readonly LiveCounter _live;
        private int _references = 1;

        public Generation(string key, ModelVersion version, OnnxRuntimeInferenceSession session, BatchingOptions batching, TimeProvider time, ServingMetrics metrics, LiveCounter live)
        {
            _live = live;
            Key = key;
            Version = version;
            Session = session;
            SizeBytes = version.SizeBytes;
            Metrics = metrics;
            Tags = [new(ServingMetrics.ModelNameTag, version.Name), new(ServingMetrics.ModelVersionTag, version.Version), new(ServingMetrics.ProviderTag, session.ProviderName)];
            Batcher = new DynamicBatcher(key, session.Signature, session.RunOrdered, batching, time, metrics, Tags);
            Interlocked.Increment(ref _live.Value);
        }

        public string Key { get; }

        public ModelVersion Version { get; }

        public OnnxRuntimeInferenceSession Session { get; }

        public DynamicBatcher Batcher { get; }

        public long SizeBytes { get; }

        public ServingMetrics Metrics { get; }

        public KeyValuePair<string, object?>[] Tags { get; }

        /// <summary>Gets or sets the references served by this generation (under the pool's lock).</summary>
        public int Bindings { get; set; }

        public bool TryAddRef()
        {
            int current = Volatile.Read(ref _references);
            while (current > 0)
            {
                int seen = Interlocked.CompareExchange(ref _references, current + 1, current);
                if (seen == current)
                {
                    return true;
                }

                current = seen;
            }

            return false;
        }

        /// <inheritdoc />
        public InferenceResult ToResult(in BatchOutcome outcome) => new()
        {
            Outputs = outcome.Outputs,
            ModelVersion = Version,
            ExecutionProvider = Session.ProviderName,
            BatchSize = outcome.BatchSize,
            QueueDuration = outcome.QueueDuration,
        };

        /// <summary>Records the request's duration (with <c>error.type</c> on failure) and releases the request's reference.</summary>
        /// <param name="enqueuedAt">The request's arrival, a <see cref="Stopwatch"/> timestamp (the hot path runs on the system clock only).</param>
        /// <param name="error">The error, or null.</param>
        public void OnRequestCompleted(long enqueuedAt, Exception? error)
        {
            RecordRequestDuration(enqueuedAt, error);
            Release();
        }

        /// <summary>Records a request's duration from <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp), tagged with <c>error.type</c> on failure.</summary>
        /// <param name="start">The request's arrival.</param>
        /// <param name="error">The error, or null.</param>
        public void RecordRequestDuration(long start, Exception? error)
        {
            if (Metrics.RequestDuration.Enabled)
            {
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                Metrics.RequestDuration.Record(seconds, error is null ? Tags : [.. Tags, new(ServingMetrics.ErrorTypeTag, error.GetType().FullName)]);
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _references) == 0)
            {
                Batcher.Close(new ObjectDisposedException(Key, "The model generation was unloaded before the request ran."));
                Session.Dispose();
                Metrics.LoadedModels.Add(-1, Tags);
                Interlocked.Decrement(ref _live.Value);
            }
        }
    }

    private sealed class LiveCounter
    {
        public int Value;
    }

    private sealed class Lease(Generation generation) : IInferenceSessionLease
    {
        private int _disposed;

        public IInferenceSession Session
        {
            get
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
                return generation.Session;
            }
        }

        public ModelVersion Version => generation.Version;

        public string ExecutionProvider => generation.Session.ProviderName;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                generation.Release();
            }
        }
    }
}
