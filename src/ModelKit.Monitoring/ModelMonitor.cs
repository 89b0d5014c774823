using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelKit.Diagnostics;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Capture;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Internal;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring;

/// <summary>What became of a posted label.</summary>
public enum LabelJoinResult
{
    /// <summary>The label was joined to its prediction and counts in the current window's measured performance.</summary>
    Joined = 0,

    /// <summary>No prediction waits for this request id (never observed, not sampled, already labelled, or forgotten after <see cref="MonitoringOptions.MaxPendingLabels"/> newer ones); counted in <c>modelkit.monitoring.labels</c> with outcome <c>unknown</c>.</summary>
    UnknownRequestId = 1,
}

/// <summary>
/// Watches served models: the <see cref="IInferenceObserver"/> the session pool calls for each answered request. The
/// request path only samples, copies the tensors and enqueues them on a bounded channel (dropped and counted when full;
/// it never blocks and never throws). One background loop extracts features, builds or loads each version's reference
/// profile, fills per-window sketches, closes windows by count or time, computes drift and performance, exports them on
/// meter <c>ModelKit.Monitoring</c>, evaluates the alert rules and hands notifications to the sinks (another loop).
/// Thread-safe. Dispose to stop both loops (queued work is dropped; call <see cref="FlushAsync"/> first to finish it).
/// </summary>
public sealed class ModelMonitor : IInferenceObserver, IAsyncDisposable, IDisposable
{
    /// <summary>The most queued items the processing loop takes at once.</summary>
    private const int BatchSize = 256;

    /// <summary>The most idle <see cref="Observed"/> kept for reuse (each holds a copy of one request's tensors).</summary>
    private const int MaxFreeObserved = 1024;

    /// <summary>The most bytes of tensor copies the idle <see cref="Observed"/> may hold together: 16 MiB.</summary>
    private const long MaxFreeObservedBytes = 16L << 20;

    private readonly MonitoringOptions _options;
    private readonly IReferenceProfileStore _profiles;
    private readonly IAlertSink[] _sinks;
    private readonly ICaptureSink? _capture;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly MonitoringMetrics _metrics;
    private readonly Channel<object> _work;
    private readonly Channel<object> _notifications;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _processor;
    private readonly Task _dispatcher;
    private readonly ITimer? _tick;
    private readonly Dictionary<(string, int), MonitoredVersion> _versions = [];
    private readonly Dictionary<string, PendingLabel> _pendingLabels = new(StringComparer.Ordinal);
    private readonly Queue<string> _pendingOrder = new();
    private readonly Lock _stateLock = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly AlertRule[] _rules;
    private readonly double _samplingRate;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    // After this many empty polls in a row (1 s) the loop parks: it sleeps until the hook queues an observation (the
    // first one after parking wakes it) or ParkedPollInterval passes, so an idle host's monitor does not wake 100 times a
    // second. ParkedPollInterval bounds the delay if a wake-up is missed in the race between parking and queueing.
    private const int EmptyPollsBeforeParking = 100;
    private static readonly TimeSpan ParkedPollInterval = TimeSpan.FromSeconds(1);
    private int _parked;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Observed> _freeObserved = new();
    private int _freeObservedCount;
    private long _freeObservedBytes;
    private long _seen;
    private long _dropped;
    private long _droppedReported;
    private int _disposed;

    // The processing loop's own (never read elsewhere): the feature rows of a run of observations, and the last version.
    private double[] _rows = new double[4096];
    private int[] _runOffsets = [];
    private long[] _runNonFinite = [];
    private ModelVersion? _lastVersion;
    private MonitoredVersion? _lastState;

    /// <summary>Creates the monitor and starts its background loops.</summary>
    /// <param name="options">The settings (validated by <c>AddMonitoring</c> at host start).</param>
    /// <param name="profiles">Where reference profiles are stored.</param>
    /// <param name="sinks">Alert sinks.</param>
    /// <param name="capture">Capture sink, or <see langword="null"/> for none.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> for the system clock.</param>
    /// <param name="loggerFactory">Logging; <see langword="null"/> for none.</param>
    /// <param name="meterFactory">Meters; <see langword="null"/> for a meter the monitor owns.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/>, <paramref name="profiles"/> or <paramref name="sinks"/> is <see langword="null"/>.</exception>
    public ModelMonitor(
        IOptions<MonitoringOptions> options,
        IReferenceProfileStore profiles,
        IEnumerable<IAlertSink> sinks,
        ICaptureSink? capture = null,
        TimeProvider? timeProvider = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(sinks);
        _options = options.Value;
        _profiles = profiles;
        _sinks = [.. sinks];
        _capture = capture;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ModelMonitor>();
        _metrics = new MonitoringMetrics(meterFactory);
        _rules = [.. _options.Rules];
        _samplingRate = _options.SamplingRate;
        _work = Channel.CreateBounded<object>(new BoundedChannelOptions(_options.QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _notifications = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
        _processor = Task.Run(ProcessAsync);
        _dispatcher = Task.Run(DispatchAsync);
        if (_options.WindowDuration is TimeSpan duration && duration > TimeSpan.Zero)
        {
            TimeSpan period = duration / 4;
            _tick = _time.CreateTimer(static s => ((ModelMonitor)s!).OnTick(), this, period, period);
        }
    }

    /// <summary>Raised on the processing loop after each window closes and its rules were evaluated (after <see cref="AlertStateChanged"/>). Handlers must be quick and must not throw (exceptions are logged).</summary>
    public event Action<WindowReport>? WindowClosed;

    /// <summary>Raised on the processing loop when a rule changes state for a model version (inactive, pending, firing, resolved).</summary>
    public event Action<AlertRule, AlertNotification?, AlertState, WindowReport>? AlertStateChanged;

    /// <summary>Gets the number of observations dropped because the queue was full.</summary>
    public long DroppedCount => Interlocked.Read(ref _dropped);

    /// <inheritdoc />
    /// <remarks>Samples, copies the tensors and enqueues; never blocks and never throws.</remarks>
    public void OnInferenceCompleted(InferenceObservation observation)
    {
        if (observation is null || Volatile.Read(ref _disposed) != 0)
        {
            return;
        }

        if (_samplingRate < 1 && !Sample(Interlocked.Increment(ref _seen)))
        {
            if (_metrics.Observations.Enabled)
            {
                _metrics.Observations.Add(1, new KeyValuePair<string, object?>(MonitoringMetrics.OutcomeTag, "skipped"));
            }

            return;
        }

        Observed? item = null;
        try
        {
            // The copies go into buffers that a pooled Observed owns and keeps (no allocation per request once warm):
            // the processing loop hands the Observed back after use, or the hook at once when the queue is full.
            item = RentObserved();
            item.Fill(observation);
            if (!_work.Writer.TryWrite(item))
            {
                ReturnObserved(item);
                Interlocked.Increment(ref _dropped);
                _metrics.Observations.Add(1, new KeyValuePair<string, object?>(MonitoringMetrics.OutcomeTag, "dropped"));
                return;
            }

            item = null; // queued: the processing loop owns it now
            if (Volatile.Read(ref _parked) != 0 && Interlocked.Exchange(ref _parked, 0) != 0)
            {
                Wake(); // the first observation after an idle spell; busy loops poll and are never parked
            }

            if (_metrics.Observations.Enabled)
            {
                _metrics.Observations.Add(1, new KeyValuePair<string, object?>(MonitoringMetrics.OutcomeTag, "sampled"));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            if (item is not null)
            {
                ReturnObserved(item);
            }

            Interlocked.Increment(ref _dropped);
        }
    }

    private Observed RentObserved()
    {
        if (_freeObserved.TryDequeue(out Observed? item))
        {
            Interlocked.Decrement(ref _freeObservedCount);
            Interlocked.Add(ref _freeObservedBytes, -item.BufferBytes);
            return item;
        }

        return new Observed();
    }

    private void ReturnObserved(Observed item)
    {
        item.Clear();
        long bytes = item.BufferBytes;
        if (Interlocked.Increment(ref _freeObservedCount) <= MaxFreeObserved)
        {
            if (Interlocked.Add(ref _freeObservedBytes, bytes) <= MaxFreeObservedBytes)
            {
                _freeObserved.Enqueue(item);
                return;
            }

            Interlocked.Add(ref _freeObservedBytes, -bytes);
        }

        // Over a limit: left to the collector.
        Interlocked.Decrement(ref _freeObservedCount);
    }

    private bool Sample(long n) => (long)(n * _samplingRate) != (long)((n - 1) * _samplingRate);

    /// <summary>
    /// Posts the true label of an observed request, to be joined to its prediction by request id
    /// (<see cref="InferenceRequestOptions.RequestId"/>). Labels are queued behind the observations already queued, so a
    /// label posted after its request returned always finds it (when it was sampled).
    /// </summary>
    /// <param name="requestId">The request id the request was made with.</param>
    /// <param name="label">The true class (classifiers) or value (regression).</param>
    /// <param name="cancellationToken">Cancels waiting for queue space or for the join.</param>
    /// <returns>Whether the label was joined.</returns>
    /// <exception cref="ArgumentException"><paramref name="requestId"/> is null or empty, or <paramref name="label"/> is not finite.</exception>
    /// <exception cref="ObjectDisposedException">The monitor was disposed.</exception>
    public async Task<LabelJoinResult> PostLabelAsync(string requestId, double label, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(requestId);
        if (!double.IsFinite(label))
        {
            throw new ArgumentException($"Label {label} for request '{requestId}' is not a finite number; post the true class index or value.", nameof(label));
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var item = new LabelItem(requestId, label, new TaskCompletionSource<LabelJoinResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        await _work.Writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        Wake();
        return await item.Result.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Stores <paramref name="profile"/> as the reference of <paramref name="version"/> and uses it from the next window on
    /// (the current window of that version restarts).
    /// </summary>
    /// <param name="version">The version.</param>
    /// <param name="profile">Its profile (for example from <see cref="ReferenceProfileBuilder"/> over the validation data).</param>
    /// <param name="cancellationToken">Cancels the store.</param>
    /// <returns>A task that completes when the profile is stored and in use.</returns>
    /// <exception cref="ReferenceProfileMismatchException">The profile does not fit the version's artifact or signature.</exception>
    public async Task SetReferenceProfileAsync(ModelVersion version, ReferenceProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(profile);
        ProfileValidation.EnsureMatches(version, profile, _options.Reducers);
        await _profiles.SaveAsync(version, profile, cancellationToken).ConfigureAwait(false);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _work.Writer.WriteAsync(new ProfileItem(version, profile, done), cancellationToken).ConfigureAwait(false);
        Wake();
        await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Waits until everything queued before the call is processed, notifications are handed to the sinks and the capture is flushed.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes then.</returns>
    /// <exception cref="ObjectDisposedException">The monitor was disposed.</exception>
    public async Task FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var processed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _work.Writer.WriteAsync(new FlushItem(processed), cancellationToken).ConfigureAwait(false);
        Wake();
        await processed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        var dispatched = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await _notifications.Writer.WriteAsync(new FlushItem(dispatched), cancellationToken).ConfigureAwait(false);
        await dispatched.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Gets a snapshot of what is monitored: per model version its profile source, window, last reports and alert states.</summary>
    /// <returns>One entry per monitored version, ordered by model name and version.</returns>
    public IReadOnlyList<MonitoredModelState> GetState()
    {
        lock (_stateLock)
        {
            return [.. _versions.Values
                .OrderBy(v => v.Version.Name, StringComparer.Ordinal).ThenBy(v => v.Version.Version)
                .Select(v => new MonitoredModelState(
                    v.Version.Name,
                    v.Version.Version,
                    v.Profile?.Source,
                    v.Profile?.RowCount ?? 0,
                    v.InBaseline,
                    v.WindowIndex,
                    v.WindowRows,
                    v.ObservedRequests,
                    [.. v.History],
                    [.. v.AlertStates.Select(a => new AlertRuleStatus(a.Rule.Name, a.State, a.LastValue))])
                {
                    CurrentWindowStart = v.WindowStart,
                })];
        }
    }

    /// <summary>Gets the reference profile a monitored version is compared with now.</summary>
    /// <param name="modelName">The model name.</param>
    /// <param name="version">The version number.</param>
    /// <returns>
    /// The profile in use (loaded from the <see cref="IReferenceProfileStore"/>, set with <see cref="SetReferenceProfileAsync"/>,
    /// or built from the baseline window), or <see langword="null"/> when the version has not been observed yet or its
    /// baseline is still being collected. The instance is the monitor's own: read it, never change it.
    /// </returns>
    public ReferenceProfile? GetReferenceProfile(string modelName, int version)
    {
        lock (_stateLock)
        {
            return _versions.TryGetValue((modelName, version), out MonitoredVersion? state) ? state.Profile : null;
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _tick?.Dispose();
        _work.Writer.TryComplete();
        _notifications.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(_processor, _dispatcher).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        if (_capture is not null)
        {
            try
            {
                await _capture.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                MonitoringLog.CaptureFailed(_logger, ex);
            }
        }

        _metrics.Dispose();
        _wake.Dispose();
        _stop.Dispose();
    }

    /// <inheritdoc />
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private void OnTick()
    {
        if (_work.Writer.TryWrite(Tick.Instance))
        {
            Wake();
        }
    }

    private void Wake()
    {
        if (_wake.CurrentCount == 0)
        {
            _wake.Release();
        }
    }

    private async Task ProcessAsync()
    {
        CancellationToken stop = _stop.Token;
        object[] batch = new object[BatchSize];
        int emptyPolls = 0;
        try
        {
            while (true)
            {
                // Drain the queue in chunks: one wake-up and one lock per chunk of observations, not per observation.
                int count = 0;
                while (count < batch.Length && _work.Reader.TryRead(out object? next))
                {
                    batch[count++] = next;
                }

                if (count == 0)
                {
                    if (_work.Reader.Completion.IsCompleted)
                    {
                        break;
                    }

                    // Observations do not wake a polling loop (a wake-up per request would cost the request path a
                    // thread switch); it drains them every PollInterval. Labels, flushes and profiles wake it at once.
                    if (++emptyPolls < EmptyPollsBeforeParking)
                    {
                        await _wake.WaitAsync(PollInterval, stop).ConfigureAwait(false);
                        continue;
                    }

                    Volatile.Write(ref _parked, 1);
                    Interlocked.MemoryBarrier(); // publish the flag before looking at the queue again
                    if (!_work.Reader.TryPeek(out _))
                    {
                        await _wake.WaitAsync(ParkedPollInterval, stop).ConfigureAwait(false);
                    }

                    Volatile.Write(ref _parked, 0);
                    emptyPolls = 0;
                    continue;
                }

                emptyPolls = 0;

                int i = 0;
                while (i < count)
                {
                    int end = FastRunEnd(batch, i, count, out MonitoredVersion? state);
                    if (end > i)
                    {
                        ProcessObservations(state!, batch, i, end);
                        i = end;
                        continue;
                    }

                    await ProcessItemAsync(batch[i], stop).ConfigureAwait(false);
                    i++;
                }

                Array.Clear(batch, 0, count);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Returns the end of the run of observations from <paramref name="start"/> that take the fast path: the same model
    /// version, its profile in use (not loading, not collecting a baseline) and no capture. Only this loop changes
    /// <see cref="_versions"/>, so it reads it without the lock.
    /// </summary>
    private int FastRunEnd(object[] batch, int start, int count, out MonitoredVersion? state)
    {
        state = null;
        if (_capture is not null || batch[start] is not Observed first)
        {
            return start;
        }

        if (!ReferenceEquals(first.Version, _lastVersion))
        {
            if (!_versions.TryGetValue((first.Version.Name, first.Version.Version), out MonitoredVersion? found))
            {
                return start;
            }

            _lastVersion = first.Version;
            _lastState = found;
        }

        state = _lastState!;
        if (!state.ProfileLoaded || state.InBaseline)
        {
            return start;
        }

        int end = start + 1;
        while (end < count && batch[end] is Observed o && ReferenceEquals(o.Version, first.Version))
        {
            end++;
        }

        return end;
    }

    /// <summary>
    /// The fast path: extracts the features of a run of observations of one version into a reused buffer (outside the
    /// lock; the pooled tensor copies go back at once), then adds them to the window under one lock.
    /// </summary>
    private void ProcessObservations(MonitoredVersion state, object[] batch, int start, int end)
    {
        int n = end - start;
        if (_runOffsets.Length < n + 1)
        {
            _runOffsets = new int[Math.Max(n + 1, BatchSize + 1)];
            _runNonFinite = new long[_runOffsets.Length];
        }

        int offset = 0;
        for (int k = 0; k < n; k++)
        {
            var o = (Observed)batch[start + k];
            _runOffsets[k] = offset;
            try
            {
                offset += state.Extractor.ExtractInto(o.Inputs, o.Outputs, ref _rows, offset, out _runNonFinite[k]);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _runNonFinite[k] = -1;
                MonitoringLog.ObservationFailed(_logger, o.Version.Name, o.Version.Version, ex);
            }
        }

        _runOffsets[n] = offset;
        try
        {
            AddRun(state, batch, start, n);
        }
        finally
        {
            for (int k = 0; k < n; k++)
            {
                ReturnObserved((Observed)batch[start + k]);
            }
        }
    }

    private void AddRun(MonitoredVersion state, object[] batch, int start, int n)
    {
        lock (_stateLock)
        {
            for (int k = 0; k < n; k++)
            {
                var o = (Observed)batch[start + k];
                long nonFinite = _runNonFinite[k];
                if (nonFinite < 0)
                {
                    continue;
                }

                try
                {
                    if (nonFinite > 0)
                    {
                        _metrics.NonFinite.Add(nonFinite, Tags(o.Version));
                    }

                    ReadOnlySpan<double> rows = _rows.AsSpan(_runOffsets[k], _runOffsets[k + 1] - _runOffsets[k]);
                    state.ObservedRequests++;
                    state.Add(rows, nonFinite, o.Duration);
                    RememberPrediction(state, o.RequestId, rows);
                    if (state.WindowRows >= _options.WindowSize)
                    {
                        Close(state);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    MonitoringLog.ObservationFailed(_logger, o.Version.Name, o.Version.Version, ex);
                }
            }
        }
    }

    private async Task ProcessItemAsync(object item, CancellationToken stop)
    {
        try
        {
            switch (item)
            {
                case Observed o:
                    ModelVersion observedVersion = o.Version;
                    try
                    {
                        await ProcessObservationAsync(o, stop).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
                    {
                        MonitoringLog.ObservationFailed(_logger, observedVersion.Name, observedVersion.Version, ex);
                    }
                    finally
                    {
                        ReturnObserved(o);
                    }

                    break;
                case LabelItem l:
                    await ProcessLabelAsync(l, stop).ConfigureAwait(false);
                    break;
                case ProfileItem p:
                    lock (_stateLock)
                    {
                        MonitoredVersion state = GetOrCreate(p.Version);
                        state.ProfileLoaded = true;
                        state.UseProfile(p.Profile, _time.GetUtcNow());
                    }

                    p.Done.TrySetResult();
                    break;
                case Tick:
                    CloseWindowsByTime();
                    break;
                case FlushItem f:
                    if (_capture is not null)
                    {
                        await _capture.FlushAsync(stop).ConfigureAwait(false);
                    }

                    f.Done.TrySetResult();
                    break;
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            ModelVersion? version = (item as ProfileItem)?.Version;
            MonitoringLog.ObservationFailed(_logger, version?.Name ?? "?", version?.Version ?? 0, ex);
            (item as LabelItem)?.Result.TrySetException(ex);
            (item as FlushItem)?.Done.TrySetResult();
            (item as ProfileItem)?.Done.TrySetException(ex);
        }
    }

    private MonitoredVersion GetOrCreate(ModelVersion version)
    {
        if (!_versions.TryGetValue((version.Name, version.Version), out MonitoredVersion? state))
        {
            state = new MonitoredVersion(version, _options, _rules, _time.GetUtcNow());
            _versions[(version.Name, version.Version)] = state;
        }

        return state;
    }

    private async Task ProcessObservationAsync(Observed o, CancellationToken stop)
    {
        MonitoredVersion state;
        lock (_stateLock)
        {
            state = GetOrCreate(o.Version);
        }

        if (!state.ProfileLoaded)
        {
            ReferenceProfile? profile = null;
            try
            {
                profile = await _profiles.GetAsync(o.Version, stop).ConfigureAwait(false);
                if (profile is not null)
                {
                    ProfileValidation.EnsureMatches(o.Version, profile, _options.Reducers);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                // A corrupt or mismatched profile, or a store that failed (a registry that is down, a version deleted):
                // logged, and the version falls back to a baseline of its first requests; serving is never affected.
                MonitoringLog.ProfileUnusable(_logger, o.Version.Name, o.Version.Version, ex);
                profile = null;
            }

            lock (_stateLock)
            {
                state.ProfileLoaded = true;
                if (profile is not null)
                {
                    state.UseProfile(profile, _time.GetUtcNow());
                }
                else
                {
                    MonitoringLog.BaselineStarted(_logger, o.Version.Name, o.Version.Version, _options.BaselineSize);
                    state.StartBaseline();
                }
            }
        }

        double[] rows = state.Extractor.Extract(o.Inputs, o.Outputs, out long nonFinite);
        if (nonFinite > 0)
        {
            _metrics.NonFinite.Add(nonFinite, Tags(o.Version));
        }

        if (_capture is not null)
        {
            try
            {
                await _capture.WriteAsync(
                    new CaptureRecord
                    {
                        Kind = "prediction",
                        RequestId = o.RequestId,
                        ModelName = o.Version.Name,
                        ModelVersion = o.Version.Version,
                        Timestamp = o.CompletedAt,
                        DurationSeconds = o.Duration.TotalSeconds,
                        FeatureNames = [.. state.Extractor.Features.Select(f => f.Name)],
                        FeatureValues = rows,
                        Inputs = o.Inputs,
                        Outputs = o.Outputs,
                    },
                    stop).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                MonitoringLog.CaptureFailed(_logger, ex);
            }
        }

        lock (_stateLock)
        {
            state.ObservedRequests++;
            if (state.Baseline is ReferenceProfileBuilder baseline)
            {
                baseline.Add(o.Inputs, o.Outputs);
                if (baseline.RowCount >= _options.BaselineSize)
                {
                    ReferenceProfile profile = baseline.Build("baseline", _time.GetUtcNow());
                    state.UseProfile(profile, _time.GetUtcNow());
                    MonitoringLog.BaselineBuilt(_logger, o.Version.Name, o.Version.Version, profile.RowCount);
                    _ = SaveBaselineAsync(o.Version, profile);
                }

                return;
            }

            state.Add(rows, nonFinite, o.Duration);
            RememberPrediction(state, o.RequestId, rows);
            if (state.WindowRows >= _options.WindowSize)
            {
                Close(state);
            }
        }
    }

    private async Task SaveBaselineAsync(ModelVersion version, ReferenceProfile profile)
    {
        try
        {
            await _profiles.SaveAsync(version, profile, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The profile stays in use in this process; only its storage (file, registry attachment) failed.
            MonitoringLog.ProfileUnusable(_logger, version.Name, version.Version, ex);
        }
    }

    private void RememberPrediction(MonitoredVersion state, string? requestId, ReadOnlySpan<double> rows)
    {
        if (requestId is null || _options.MaxPendingLabels == 0)
        {
            return;
        }

        int index = state.Extractor.ClassFeatureIndex >= 0 ? state.Extractor.ClassFeatureIndex : state.Extractor.RegressionFeatureIndex;
        if (index < 0 || rows.Length == 0)
        {
            return;
        }

        if (_pendingLabels.TryAdd(requestId, new PendingLabel(state, rows[index])))
        {
            _pendingOrder.Enqueue(requestId);
            while (_pendingOrder.Count > _options.MaxPendingLabels)
            {
                _pendingLabels.Remove(_pendingOrder.Dequeue());
            }
        }
    }

    private async Task ProcessLabelAsync(LabelItem item, CancellationToken stop)
    {
        LabelJoinResult result;
        PendingLabel pending;
        lock (_stateLock)
        {
            if (_pendingLabels.Remove(item.RequestId, out pending))
            {
                pending.State.AddLabel(pending.Predicted, item.Label);
                result = LabelJoinResult.Joined;
                _metrics.Labels.Add(1, new KeyValuePair<string, object?>(MonitoringMetrics.OutcomeTag, "joined"));
            }
            else
            {
                result = LabelJoinResult.UnknownRequestId;
                MonitoringLog.UnknownLabel(_logger, item.RequestId);
                _metrics.Labels.Add(1, new KeyValuePair<string, object?>(MonitoringMetrics.OutcomeTag, "unknown"));
            }
        }

        item.Result.TrySetResult(result);
        if (result == LabelJoinResult.Joined && _capture is not null)
        {
            try
            {
                await _capture.WriteAsync(
                    new CaptureRecord { Kind = "label", RequestId = item.RequestId, ModelName = pending.State.Version.Name, ModelVersion = pending.State.Version.Version, Timestamp = _time.GetUtcNow(), Label = item.Label },
                    stop).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                MonitoringLog.CaptureFailed(_logger, ex);
            }
        }
    }

    private void CloseWindowsByTime()
    {
        if (_options.WindowDuration is not TimeSpan duration)
        {
            return;
        }

        DateTimeOffset now = _time.GetUtcNow();
        lock (_stateLock)
        {
            foreach (MonitoredVersion state in _versions.Values)
            {
                if (!state.InBaseline && state.WindowRows > 0 && now - state.WindowStart >= duration)
                {
                    Close(state);
                }
            }
        }
    }

    private void Close(MonitoredVersion state)
    {
        DateTimeOffset now = _time.GetUtcNow();
        long dropped = Interlocked.Read(ref _dropped);
        WindowReport report = state.CloseWindow(now, dropped - _droppedReported);
        _droppedReported = dropped;
        Export(report, state.Version);
        foreach (AlertRuleState rule in state.AlertStates)
        {
            double? value = report.Values.TryGetValue(rule.Rule.Metric, out double v) ? v : null;
            if (value is null && report.Features.Count > 0 && report.WindowIndex == 1 && !RuleMetrics.IsWindowOptional(rule.Rule.Metric))
            {
                MonitoringLog.UnknownRuleMetric(_logger, rule.Rule.Name, rule.Rule.Metric, state.Version.Name, state.Version.Version);
            }

            AlertNotification? notification = rule.Evaluate(value, now, state.ObservedRequests, out bool changed);
            if (notification is not null)
            {
                _metrics.Notifications.Add(1, new KeyValuePair<string, object?>(MonitoringMetrics.RuleTag, rule.Rule.Name), new KeyValuePair<string, object?>(MonitoringMetrics.StateTag, notification.State == AlertState.Resolved ? "resolved" : "firing"));
                _notifications.Writer.TryWrite(notification);
            }

            if (changed)
            {
                try
                {
                    AlertStateChanged?.Invoke(rule.Rule, notification, rule.State, report);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    MonitoringLog.ObservationFailed(_logger, state.Version.Name, state.Version.Version, ex);
                }
            }
        }

        try
        {
            WindowClosed?.Invoke(report);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            MonitoringLog.ObservationFailed(_logger, state.Version.Name, state.Version.Version, ex);
        }
    }

    private void Export(WindowReport report, ModelVersion version)
    {
        _metrics.Windows.Add(1, Tags(version));
        if (_metrics.Drift.Enabled)
        {
            foreach (FeatureDrift f in report.Features)
            {
                Gauge(f, version, "psi", f.Psi);
                Gauge(f, version, "js_distance", f.JensenShannon);
                Gauge(f, version, "drifted", f.Drifted ? 1 : 0);
                if (f.Kind == FeatureKind.Numeric)
                {
                    Gauge(f, version, "ks_statistic", f.KsStatistic);
                    Gauge(f, version, "ks_p_value", f.KsPValue);
                    Gauge(f, version, "wasserstein", f.Wasserstein);
                }
                else
                {
                    Gauge(f, version, "chi2", f.ChiSquared);
                    Gauge(f, version, "chi2_p_value", f.ChiSquaredPValue);
                }
            }
        }

        if (report.Features.Count > 0)
        {
            _metrics.DriftShare.Record(report.DriftShare, Tags(version));
            _metrics.DatasetDrift.Record(report.DatasetDrift ? 1 : 0, Tags(version));
        }

        Performance(version, "accuracy", report.Performance.Accuracy);
        Performance(version, "estimated_accuracy", report.Performance.EstimatedAccuracy);
        Performance(version, "f1", report.Performance.MacroF1);
        Performance(version, "mae", report.Performance.MeanAbsoluteError);
        Performance(version, "rmse", report.Performance.RootMeanSquaredError);
    }

    private void Gauge(FeatureDrift f, ModelVersion version, string metric, double value)
    {
        if (double.IsNaN(value))
        {
            return;
        }

        _metrics.Drift.Record(
            value,
            new KeyValuePair<string, object?>(ModelKitTelemetry.ModelNameTag, version.Name),
            new KeyValuePair<string, object?>(ModelKitTelemetry.ModelVersionTag, version.Version),
            new KeyValuePair<string, object?>(MonitoringMetrics.FeatureTag, f.Feature),
            new KeyValuePair<string, object?>(MonitoringMetrics.MetricTag, metric));
    }

    private void Performance(ModelVersion version, string metric, double value)
    {
        if (!double.IsNaN(value))
        {
            _metrics.Performance.Record(
                value,
                new KeyValuePair<string, object?>(ModelKitTelemetry.ModelNameTag, version.Name),
                new KeyValuePair<string, object?>(ModelKitTelemetry.ModelVersionTag, version.Version),
                new KeyValuePair<string, object?>(MonitoringMetrics.MetricTag, metric));
        }
    }

    private static KeyValuePair<string, object?>[] Tags(ModelVersion version) =>
        [new(ModelKitTelemetry.ModelNameTag, version.Name), new(ModelKitTelemetry.ModelVersionTag, version.Version)];

    private async Task DispatchAsync()
    {
        CancellationToken stop = _stop.Token;
        try
        {
            await foreach (object item in _notifications.Reader.ReadAllAsync(stop).ConfigureAwait(false))
            {
                if (item is FlushItem f)
                {
                    f.Done.TrySetResult();
                    continue;
                }

                var notification = (AlertNotification)item;
                foreach (IAlertSink sink in _sinks)
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stop);
                    timeout.CancelAfter(_options.SinkTimeout);
                    try
                    {
                        await sink.SendAsync(notification, timeout.Token).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !stop.IsCancellationRequested)
                    {
                        MonitoringLog.SinkFailed(_logger, sink.GetType().Name, notification.RuleName, ex);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One queued observation with its own copies of the tensors. Pooled (<see cref="MaxFreeObserved"/>): its buffers,
    /// tensor views and arrays are reused by the next request with the same tensor names, types and shapes, so the
    /// hook allocates nothing once warm. Owned by one thread at a time (the hook, then the processing loop).
    /// </summary>
    private sealed class Observed
    {
        private Array?[] _inputBuffers = [];
        private Array?[] _outputBuffers = [];

        public ModelVersion Version { get; private set; } = null!;

        public NamedTensor[] Inputs { get; private set; } = [];

        public NamedTensor[] Outputs { get; private set; } = [];

        public TimeSpan Duration { get; private set; }

        public DateTimeOffset CompletedAt { get; private set; }

        public string? RequestId { get; private set; }

        public void Fill(InferenceObservation observation)
        {
            Version = observation.ModelVersion;
            Duration = observation.Duration;
            CompletedAt = observation.CompletedAt;
            RequestId = observation.RequestId;
            Inputs = CopyInto(observation.Inputs, Inputs, ref _inputBuffers);
            Outputs = CopyInto(observation.Outputs, Outputs, ref _outputBuffers);
            BufferBytes = Bytes(_inputBuffers) + Bytes(_outputBuffers);
        }

        /// <summary>Gets the size of the tensor copies this instance holds.</summary>
        public long BufferBytes { get; private set; }

        private static long Bytes(Array?[] buffers)
        {
            long bytes = 0;
            foreach (Array? buffer in buffers)
            {
                bytes += buffer switch
                {
                    null => 0,
                    Half[] h => 2L * h.Length,
                    _ => Buffer.ByteLength(buffer),
                };
            }

            return bytes;
        }

        /// <summary>Drops the references to the request (the buffers stay for reuse).</summary>
        public void Clear()
        {
            Version = null!;
            RequestId = null;
        }

        private static NamedTensor[] CopyInto(IReadOnlyList<NamedTensor> source, NamedTensor[] target, ref Array?[] buffers)
        {
            if (target.Length != source.Count)
            {
                target = new NamedTensor[source.Count];
                buffers = new Array?[source.Count];
            }

            for (int i = 0; i < target.Length; i++)
            {
                NamedTensor s = source[i];
                target[i] = s.Value switch
                {
                    Tensor<float> f => Reuse(s.Name, f, target[i], ref buffers[i]),
                    Tensor<double> d => Reuse(s.Name, d, target[i], ref buffers[i]),
                    Tensor<long> l => Reuse(s.Name, l, target[i], ref buffers[i]),
                    Tensor<int> n => Reuse(s.Name, n, target[i], ref buffers[i]),
                    Tensor<byte> b => Reuse(s.Name, b, target[i], ref buffers[i]),
                    Tensor<sbyte> sb => Reuse(s.Name, sb, target[i], ref buffers[i]),
                    Tensor<short> sh => Reuse(s.Name, sh, target[i], ref buffers[i]),
                    Tensor<ushort> us => Reuse(s.Name, us, target[i], ref buffers[i]),
                    Tensor<uint> ui => Reuse(s.Name, ui, target[i], ref buffers[i]),
                    Tensor<ulong> ul => Reuse(s.Name, ul, target[i], ref buffers[i]),
                    Tensor<Half> h => Reuse(s.Name, h, target[i], ref buffers[i]),
                    Tensor<bool> bo => Reuse(s.Name, bo, target[i], ref buffers[i]),
                    StringTensor st => new NamedTensor(s.Name, StringTensor.Create(st.Span.ToArray(), st.Shape)),
                    _ => s,
                };
            }

            return target;
        }

        private static NamedTensor Reuse<T>(string name, Tensor<T> tensor, NamedTensor previous, ref Array? buffer)
            where T : unmanaged
        {
            ReadOnlySpan<T> span = tensor.Span;
            if (previous.Value is Tensor<T> old && buffer is T[] reused && string.Equals(previous.Name, name, StringComparison.Ordinal) && old.Shape.SequenceEqual(tensor.Shape))
            {
                span.CopyTo(reused);
                return previous;
            }

            if (buffer is not T[] array || array.Length < span.Length)
            {
                array = new T[span.Length];
                buffer = array;
            }

            span.CopyTo(array);
            return new NamedTensor(name, Tensor.Create<T>(array.AsMemory(0, span.Length), tensor.Shape));
        }
    }

    private sealed record LabelItem(string RequestId, double Label, TaskCompletionSource<LabelJoinResult> Result);

    private sealed record ProfileItem(ModelVersion Version, ReferenceProfile Profile, TaskCompletionSource Done);

    private sealed record FlushItem(TaskCompletionSource Done);

    private sealed class Tick
    {
        public static readonly Tick Instance = new();
    }

    private readonly record struct PendingLabel(MonitoredVersion State, double Predicted);
}

/// <summary>A snapshot of one monitored model version.</summary>
/// <param name="ModelName">The model name.</param>
/// <param name="ModelVersion">The version.</param>
/// <param name="ProfileSource"><c>dataset</c>, <c>baseline</c>, or <see langword="null"/> while the baseline is being built.</param>
/// <param name="ProfileRows">Rows in the reference profile.</param>
/// <param name="InBaseline">Whether the baseline window is being collected.</param>
/// <param name="WindowsClosed">Windows closed so far.</param>
/// <param name="CurrentWindowRows">Rows in the open window.</param>
/// <param name="ObservedRequests">Requests observed (sampled).</param>
/// <param name="RecentWindows">The last closed windows, oldest first.</param>
/// <param name="Alerts">The state of each rule.</param>
public sealed record MonitoredModelState(
    string ModelName,
    int ModelVersion,
    string? ProfileSource,
    long ProfileRows,
    bool InBaseline,
    long WindowsClosed,
    long CurrentWindowRows,
    long ObservedRequests,
    IReadOnlyList<WindowReport> RecentWindows,
    IReadOnlyList<AlertRuleStatus> Alerts)
{
    /// <summary>Gets when the open window started (UTC, by the monitor's clock).</summary>
    public DateTimeOffset CurrentWindowStart { get; init; }
}

/// <summary>The state of one alert rule for one model version.</summary>
/// <param name="Rule">The rule name.</param>
/// <param name="State">Its state.</param>
/// <param name="LastValue">The value at the last evaluation (NaN when unavailable).</param>
public sealed record AlertRuleStatus(string Rule, AlertState State, double LastValue);
