using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.Logging;

namespace ModelKit.Serving.Internal;

/// <summary>What a batched request got back.</summary>
/// <param name="Outputs">The request's own rows of every output, in signature order.</param>
/// <param name="BatchSize">The rows of the batch it ran in.</param>
/// <param name="QueueDuration">How long it waited before its batch started.</param>
internal readonly record struct BatchOutcome(NamedTensor[] Outputs, int BatchSize, TimeSpan QueueDuration);

/// <summary>
/// What a request queued by <see cref="DynamicBatcher.EnqueueForResult"/> belongs to: it builds the caller's result and
/// releases what the request holds (the pool's model generation) when the request completes.
/// </summary>
internal interface IRequestOwner
{
    /// <summary>Builds the caller's result from the batcher's outcome; called on the caller's thread when it reads the result.</summary>
    /// <param name="outcome">The request's outcome.</param>
    /// <returns>The result.</returns>
    InferenceResult ToResult(in BatchOutcome outcome);

    /// <summary>
    /// Called once when the request completes, successfully or not, before the caller's continuation runs (on the thread
    /// that completes it: a batch worker, a timer, or the caller's own thread). Must not throw.
    /// </summary>
    /// <param name="enqueuedAt">The timestamp the request arrived at (the batcher clock's).</param>
    /// <param name="error">The error, or null on success.</param>
    void OnRequestCompleted(long enqueuedAt, Exception? error);
}

/// <summary>
/// The dynamic batcher of one loaded model generation. Requests are grouped by their non-batch shape (requests of
/// different shapes never merge) and two priority levels. A batch leaves when it holds <see cref="BatchingOptions.MaxBatchSize"/>
/// rows, when its oldest request has waited <see cref="BatchingOptions.MaxQueueDelay"/>, or at once when no batch of the
/// model runs or is being answered, and only while fewer than <see cref="BatchingOptions.MaxConcurrentBatches"/> batches
/// run. A lone request on an idle model runs on the caller's thread (no queueing, no thread hop). Other batches run in a
/// worker loop: a batch formed by an arrival is handed to the thread pool as one work item; the worker runs it, gives its
/// slot back, answers every request of the batch on its own thread (continuations run synchronously, so callers that
/// send their next request re-queue it without a thread-pool hop per request, while the other slots keep running), and
/// takes the next batch that may leave; a batch that fills while a worker answers its requests is left to that worker,
/// which takes it as soon as it is done. Each request costs one lock acquisition to queue; merging copies the inputs into
/// one pooled buffer per input; results are split into views of the batch's output arrays (no copy per request). Time comes
/// from a <see cref="TimeProvider"/> (tests use FakeTimeProvider).
/// </summary>
internal sealed class DynamicBatcher
{
    private readonly string _model;
    private readonly TensorSpec[] _inputs;
    private readonly TensorSpec[] _outputs;
    private readonly Func<Tensor[], NamedTensor[]> _run;
    private readonly BatchingOptions _options;
    private readonly int[] _preferred;
    private readonly TimeProvider _time;
    private readonly ServingMetrics _metrics;
    private readonly KeyValuePair<string, object?>[] _tags;
    private readonly long _maxQueueDelayTicks; // MaxQueueDelay in the clock's timestamp units
    private readonly Lock _gate = new();
    private readonly List<ShapeGroup> _groupList = [];
    private readonly List<ShapeGroup> _soloGroups = [];
    private ITimer? _delayTimer;
    private long _delayTimerDue = long.MaxValue;
    private int _queued;
    private int _running;
    private int _completing;
    private bool _mergeDisabled;
    private bool _closed;
    private TaskCompletionSource? _idle;
    private Request? _freeHead; // pooled requests: a lock-free stack pushed by any thread, popped only under _gate
    private int _requestsCreated;

    public DynamicBatcher(string model, ModelSignature signature, Func<Tensor[], NamedTensor[]> run, BatchingOptions options, TimeProvider time, ServingMetrics metrics, KeyValuePair<string, object?>[] tags)
    {
        _model = model;
        _inputs = [.. signature.Inputs];
        _outputs = [.. signature.Outputs];
        _run = run;
        _options = options;
        _preferred = [.. options.PreferredBatchSizes.Where(p => p > 0 && p <= options.MaxBatchSize).Order()];
        _time = time;
        _metrics = metrics;
        _tags = tags;
        _maxQueueDelayTicks = (long)(options.MaxQueueDelay.TotalSeconds * time.TimestampFrequency);
        CanMerge = options.Enabled && IsBatchable(signature);
    }

    /// <summary>Gets whether requests are merged: batching is enabled and every input and output has a dynamic dimension 0.</summary>
    public bool CanMerge { get; }

    /// <summary>Gets the number of queued requests.</summary>
    public int QueueLength
    {
        get
        {
            lock (_gate)
            {
                return _queued;
            }
        }
    }

    /// <summary>Returns whether every input and output has a dynamic dimension 0 (rank 1 or more with <c>-1</c> first).</summary>
    public static bool IsBatchable(ModelSignature signature)
    {
        if (signature.Inputs.Count == 0)
        {
            return false;
        }

        foreach (TensorSpec spec in signature.Inputs)
        {
            if (spec.Shape.Count == 0 || spec.Shape[0] >= 0)
            {
                return false;
            }
        }

        foreach (TensorSpec spec in signature.Outputs)
        {
            if (spec.Shape.Count == 0 || spec.Shape[0] >= 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Queues a validated request and returns its outcome.</summary>
    /// <param name="ordered">One tensor per signature input, in signature order, already validated.</param>
    /// <param name="deadline">The deadline, or null.</param>
    /// <param name="priority">The priority.</param>
    /// <param name="requestContext">The request's span, to link the batch span to.</param>
    /// <param name="cancellationToken">Cancels the request while it is queued.</param>
    /// <returns>The outcome.</returns>
    /// <exception cref="InferenceQueueFullException">The queue is full.</exception>
    /// <exception cref="InferenceTimeoutException">The deadline has passed already.</exception>
    /// <exception cref="OperationCanceledException">The token is cancelled already.</exception>
    public Task<BatchOutcome> EnqueueAsync(Tensor[] ordered, DateTimeOffset? deadline, InferencePriority priority, ActivityContext requestContext, CancellationToken cancellationToken) =>
        Enqueue(ordered, deadline, priority, requestContext, _time.GetTimestamp(), cancellationToken).AsTask();

    /// <summary>
    /// Queues a validated request and returns its outcome as a <see cref="ValueTask{TResult}"/> that must be awaited (or
    /// converted with <see cref="ValueTask{TResult}.AsTask"/>) exactly once: a request without a deadline and without a
    /// cancellable token is a pooled <see cref="IValueTaskSource{TResult}"/> that goes back to the batcher's pool when its
    /// result is read, so the steady state allocates no request, completion source, task or list node per request.
    /// </summary>
    /// <param name="ordered">One tensor per signature input, in signature order, already validated.</param>
    /// <param name="deadline">The deadline, or null.</param>
    /// <param name="priority">The priority.</param>
    /// <param name="requestContext">The request's span, to link the batch span to.</param>
    /// <param name="now">The batcher clock's timestamp (<see cref="TimeProvider.GetTimestamp"/>) at the request's arrival: the caller read it already.</param>
    /// <param name="cancellationToken">Cancels the request while it is queued.</param>
    /// <returns>The outcome.</returns>
    /// <exception cref="InferenceQueueFullException">The queue is full.</exception>
    /// <exception cref="InferenceTimeoutException">The deadline has passed already (thrown by the returned task).</exception>
    /// <exception cref="OperationCanceledException">The token is cancelled already (thrown by the returned task).</exception>
    public ValueTask<BatchOutcome> Enqueue(Tensor[] ordered, DateTimeOffset? deadline, InferencePriority priority, ActivityContext requestContext, long now, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            _metrics.Cancelled.Add(1, _tags);
            return ValueTask.FromCanceled<BatchOutcome>(cancellationToken);
        }

        if (deadline is { } d && _time.GetUtcNow() >= d)
        {
            _metrics.TimedOut.Add(1, _tags);
            return ValueTask.FromException<BatchOutcome>(Timeout(d));
        }

        Request? request = Queue(ordered, deadline, priority, requestContext, now, owner: null, cancellationToken);
        return request is null ? RunAlone(ordered, requestContext) : request.AsValueTask();
    }

    /// <summary>
    /// The pool's hot path: queues a validated request that has no deadline, no cancellable token and no span, and returns
    /// the caller's <see cref="InferenceResult"/> directly, as a <see cref="ValueTask{TResult}"/> over the pooled request
    /// itself (no async state machine of the pool's around it). <paramref name="owner"/> builds the result when the caller
    /// reads it, and is told when the request completes, before the caller's continuation runs, with or without an error.
    /// Never throws: every failure, a full queue included, is in the returned task (after <paramref name="owner"/> was told).
    /// </summary>
    /// <param name="ordered">One tensor per signature input, in signature order, already validated.</param>
    /// <param name="priority">The priority.</param>
    /// <param name="now">The batcher clock's timestamp at the request's arrival.</param>
    /// <param name="owner">Builds the result and releases what the request holds.</param>
    /// <returns>The result; await it exactly once.</returns>
    public ValueTask<InferenceResult> EnqueueForResult(Tensor[] ordered, InferencePriority priority, long now, IRequestOwner owner)
    {
        BatchOutcome outcome;
        try
        {
            Request? request = Queue(ordered, deadline: null, priority, default, now, owner, CancellationToken.None);
            if (request is not null)
            {
                return new ValueTask<InferenceResult>(request, request.Version);
            }

            // The model was idle: the request runs now, on the caller's thread.
            outcome = RunAloneCore(ordered, default);
        }
        catch (Exception ex)
        {
            owner.OnRequestCompleted(now, ex);
            return ValueTask.FromException<InferenceResult>(ex);
        }

        owner.OnRequestCompleted(now, null);
        return new ValueTask<InferenceResult>(owner.ToResult(outcome));
    }

    /// <summary>
    /// Queues a request, or returns null when the model is idle and the request is to run alone on the caller's thread
    /// (its slot is taken: the caller must run it with <see cref="RunAlone"/> or <see cref="RunAloneCore"/>).
    /// </summary>
    /// <exception cref="InferenceQueueFullException">The queue is full.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is closed.</exception>
    private Request? Queue(Tensor[] ordered, DateTimeOffset? deadline, InferencePriority priority, ActivityContext requestContext, long now, IRequestOwner? owner, CancellationToken cancellationToken)
    {
        // Only a request that no callback (cancellation, deadline timer) can reach after it completed is pooled.
        bool pooled = deadline is null && !cancellationToken.CanBeCanceled;

        Request? request = null;
        Batch? batch = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_queued == 0 && _running == 0 && _completing == 0)
            {
                // Idle model, empty queue: the request is its own batch and runs now on the caller's thread.
                _running++;
            }
            else
            {
                if (_queued >= _options.MaxQueueLength)
                {
                    _metrics.Rejected.Add(1, _tags);
                    throw new InferenceQueueFullException(
                        _model,
                        _options.MaxQueueLength,
                        string.Create(CultureInfo.InvariantCulture, $"The request queue of '{_model}' is full ({_options.MaxQueueLength} requests waiting, BatchingOptions.MaxQueueLength). Retry later, or raise MaxQueueLength or the model's throughput."));
                }

                request = (pooled ? RentRequest() : null) ?? new Request(this) { Pooled = pooled };
                request.Init(ordered, deadline, priority, requestContext, now, owner);
                request.Group = GroupFor(ordered);
                request.Group.Add(request);
                _queued++;
                if (_metrics.QueueDepth.Enabled)
                {
                    _metrics.QueueDepth.Add(1, _tags);
                }

                // While a worker is answering its batch (this arrival is usually one of its callers' continuations), it
                // takes the next batch itself as soon as it is done: no thread-pool hop, and no third thread competing
                // with the running batches for the cores. Otherwise a batch that may leave now is handed to the pool.
                if (_completing == 0)
                {
                    batch = TryTakeBatch();
                }
                else
                {
                    // The delay still bounds the wait, even if the answering worker is held up by a continuation.
                    ArmDelayTimer(request.EnqueuedAt);
                }
            }
        }

        if (request is null)
        {
            return null;
        }

        if (cancellationToken.CanBeCanceled)
        {
            request.Cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((Request)state!).Owner.OnCancelled((Request)state!, token), request);
        }

        if (deadline is { } due)
        {
            TimeSpan wait = due - _time.GetUtcNow();
            request.DeadlineTimer = _time.CreateTimer(static state => ((Request)state!).Owner.OnDeadline((Request)state!), request, wait < TimeSpan.Zero ? TimeSpan.Zero : wait, System.Threading.Timeout.InfiniteTimeSpan);
        }

        if (batch is not null)
        {
            // Formed by this arrival while other batches run or complete: one thread-pool work item runs it (and the
            // batches after it), so the arriving caller, often a continuation inside another batch's completion, is
            // never held for a run.
            ThreadPool.UnsafeQueueUserWorkItem(batch, preferLocal: true);
        }

        return request;
    }

    /// <summary>Gets the number of request objects created so far (pooled ones are reused; tests check the reuse).</summary>
    internal int RequestsCreated => Volatile.Read(ref _requestsCreated);

    /// <summary>
    /// Takes a pooled request, or null when the pool is empty. Called under the lock, so there is one popper at a time
    /// and the compare-and-swap cannot meet an element that was popped and pushed back meanwhile (no ABA).
    /// </summary>
    private Request? RentRequest()
    {
        Request? head = Volatile.Read(ref _freeHead);
        while (head is not null)
        {
            Request? seen = Interlocked.CompareExchange(ref _freeHead, head.NextFree, head);
            if (ReferenceEquals(seen, head))
            {
                head.NextFree = null;
                return head;
            }

            head = seen;
        }

        return null;
    }

    /// <summary>
    /// Returns a completed, read and reset request to the pool (one compare-and-swap, no lock). The pool holds at most as
    /// many requests as were ever in flight at once (bounded by the queue length plus the running batches).
    /// </summary>
    private void ReturnRequest(Request request)
    {
        Request? head = Volatile.Read(ref _freeHead);
        while (true)
        {
            request.NextFree = head;
            Request? seen = Interlocked.CompareExchange(ref _freeHead, request, head);
            if (ReferenceEquals(seen, head))
            {
                return;
            }

            head = seen;
        }
    }

    private ValueTask<BatchOutcome> RunAlone(Tensor[] ordered, ActivityContext requestContext)
    {
        try
        {
            return new ValueTask<BatchOutcome>(RunAloneCore(ordered, requestContext));
        }
        catch (Exception ex)
        {
            return ValueTask.FromException<BatchOutcome>(ex);
        }
    }

    /// <summary>Runs a lone request on the caller's thread (its slot was taken by <see cref="Queue"/>) and gives the slot back.</summary>
    private BatchOutcome RunAloneCore(Tensor[] ordered, ActivityContext requestContext)
    {
        long startedRaw = _metrics.RunDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        Activity? activity = ServingMetrics.ActivitySource.HasListeners()
            ? ServingMetrics.ActivitySource.StartActivity("modelkit.serving.batch", ActivityKind.Internal, parentContext: default, tags: _tags, links: requestContext == default ? null : [new ActivityLink(requestContext)])
            : null;
        try
        {
            NamedTensor[] outputs = _run(ordered);
            int rows = ordered.Length > 0 && ordered[0].Shape.Length > 0 ? checked((int)ordered[0].Shape[0]) : 1;
            _metrics.QueueDuration.Record(0, _tags);
            _metrics.BatchSize.Record(rows, _tags);
            activity?.SetTag("modelkit.batch.size", rows);
            return new BatchOutcome(outputs, rows, TimeSpan.Zero);
        }
        catch (Exception ex)
        {
            ModelKit.Diagnostics.ModelKitTelemetryHelpers.RecordError(activity, ex);
            throw;
        }
        finally
        {
            if (startedRaw != 0)
            {
                _metrics.RunDuration.Record(Stopwatch.GetElapsedTime(startedRaw).TotalSeconds, _tags);
            }

            activity?.Dispose();
            Finish();
        }
    }

    /// <summary>Fails every queued request with <paramref name="error"/> and refuses new ones.</summary>
    public void Close(Exception error)
    {
        List<Request> failed = [];
        lock (_gate)
        {
            _closed = true;
            foreach (ShapeGroup group in _groupList)
            {
                group.DrainTo(failed);
            }

            foreach (ShapeGroup group in _soloGroups)
            {
                group.DrainTo(failed);
            }

            _groupList.Clear();
            _soloGroups.Clear();
            _metrics.QueueDepth.Add(-_queued, _tags);
            _queued = 0;
            _delayTimer?.Dispose();
            _delayTimer = null;
        }

        foreach (Request request in failed)
        {
            request.Fail(error);
        }
    }

    /// <summary>Returns a task that completes when no batch runs or is being answered any more.</summary>
    public Task WhenIdleAsync()
    {
        lock (_gate)
        {
            if (_running == 0 && _completing == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }

    /// <summary>
    /// Returns the queue of requests whose inputs have the same shapes as <paramref name="inputs"/> apart from
    /// dimension 0 (compared dimension by dimension, no key is built), or a new one; requests that cannot merge get a
    /// queue of their own. Called under the lock.
    /// </summary>
    private ShapeGroup GroupFor(Tensor[] inputs)
    {
        bool mergeable = CanMerge && !_mergeDisabled;
        if (mergeable)
        {
            long rows = inputs[0].Shape[0];
            foreach (Tensor tensor in inputs)
            {
                if (tensor.Shape.Length == 0 || tensor.Shape[0] != rows)
                {
                    mergeable = false;
                    break;
                }
            }
        }

        if (!mergeable)
        {
            var solo = new ShapeGroup(inputs, solo: true);
            _soloGroups.Add(solo);
            return solo;
        }

        foreach (ShapeGroup candidate in _groupList)
        {
            if (candidate.Matches(inputs))
            {
                return candidate;
            }
        }

        var group = new ShapeGroup(inputs, solo: false);
        _groupList.Add(group);
        return group;
    }

    /// <summary>Takes the next batch when one may leave now; otherwise arms the delay timer. Called under the lock.</summary>
    private Batch? TryTakeBatch(bool slotReserved = false)
    {
        while (true)
        {
            if (_closed || _queued == 0 || (!slotReserved && _running >= _options.MaxConcurrentBatches))
            {
                return null;
            }

            // Batches of this model that run or are being answered besides the caller's: while there are any, a
            // batch that is neither full nor overdue waits, so the queue refills (the lone-caller rule applies only
            // when the model is really idle).
            int others = _running - (slotReserved ? 1 : 0) + _completing;

            ShapeGroup? group = null;
            Request? head = null;
            foreach (bool high in (ReadOnlySpan<bool>)[true, false])
            {
                foreach (ShapeGroup candidate in _groupList)
                {
                    Request? first = candidate.Head(high);
                    if (first is not null && (head is null || first.EnqueuedAt < head.EnqueuedAt))
                    {
                        head = first;
                        group = candidate;
                    }
                }

                foreach (ShapeGroup candidate in _soloGroups)
                {
                    Request? first = candidate.Head(high);
                    if (first is not null && (head is null || first.EnqueuedAt < head.EnqueuedAt))
                    {
                        head = first;
                        group = candidate;
                    }
                }

                if (head is not null)
                {
                    break;
                }
            }

            if (group is null || head is null)
            {
                return null;
            }

            bool full = group.Rows >= _options.MaxBatchSize || group.Solo;
            bool expired = !full && _time.GetElapsedTime(head.EnqueuedAt) >= _options.MaxQueueDelay;
            if (!full && !expired && others > 0)
            {
                ArmDelayTimer(head.EnqueuedAt);
                return null;
            }

            long target = _options.MaxBatchSize;
            if (!full && !expired && _preferred.Length > 0)
            {
                target = group.Rows;
                for (int i = _preferred.Length - 1; i >= 0; i--)
                {
                    if (_preferred[i] <= group.Rows)
                    {
                        target = _preferred[i];
                        break;
                    }
                }
            }

            var batch = new Batch(this);
            List<Request>? expiredRequests = null;
            group.Take(batch.Requests, target, _time, ref expiredRequests);
            if (group.Count == 0)
            {
                RemoveGroup(group);
            }

            int removed = batch.Requests.Count + (expiredRequests?.Count ?? 0);
            _queued -= removed;
            if (_metrics.QueueDepth.Enabled)
            {
                _metrics.QueueDepth.Add(-removed, _tags);
            }
            if (expiredRequests is not null)
            {
                // Completing runs the callers' continuations synchronously: never under the lock, so on the thread pool.
                foreach (Request late in expiredRequests)
                {
                    _metrics.TimedOut.Add(1, _tags);
                    ThreadPool.UnsafeQueueUserWorkItem(static r => r.Fail(r.Owner.Timeout(r.Deadline!.Value)), late, preferLocal: false);
                }
            }

            if (batch.Requests.Count == 0)
            {
                continue;
            }

            foreach (Request r in batch.Requests)
            {
                r.Taken = true;
            }

            if (!slotReserved)
            {
                _running++;
            }

            // The delay timer stays armed when the queue empties: it fires at most once per MaxQueueDelay and finds
            // nothing to do, which costs less than disarming and re-arming it (two timer-queue operations) per batch, or
            // per request for a lone caller whose next request arrives while its last one is being answered.

            return batch;
        }
    }

    private void RemoveGroup(ShapeGroup group)
    {
        if (group.Solo)
        {
            _soloGroups.Remove(group);
        }
        else
        {
            _groupList.Remove(group);
        }
    }

    private void ArmDelayTimer(long enqueuedAt)
    {
        long due = enqueuedAt + _maxQueueDelayTicks;
        if (_delayTimer is not null && _delayTimerDue <= due)
        {
            return;
        }

        _delayTimerDue = due;
        TimeSpan wait = _options.MaxQueueDelay - _time.GetElapsedTime(enqueuedAt);
        if (wait < TimeSpan.Zero)
        {
            wait = TimeSpan.Zero;
        }

        if (_delayTimer is null)
        {
            _delayTimer = _time.CreateTimer(static state => ((DynamicBatcher)state!).OnDelayElapsed(), this, wait, System.Threading.Timeout.InfiniteTimeSpan);
        }
        else
        {
            _delayTimer.Change(wait, System.Threading.Timeout.InfiniteTimeSpan);
        }
    }

    private void OnDelayElapsed()
    {
        Batch? batch;
        lock (_gate)
        {
            _delayTimerDue = long.MaxValue;
            batch = TryTakeBatch();
        }

        if (batch is not null)
        {
            RunLoop(batch);
        }
    }

    /// <summary>
    /// After a lone request ran on its caller's thread: when more requests wait, reserve a slot and let a pool thread
    /// form the next batch when it starts (so requests that arrive meanwhile still join it), instead of keeping the caller.
    /// </summary>
    private void Finish()
    {
        TaskCompletionSource? idle = null;
        bool reserved = false;
        lock (_gate)
        {
            _running--;
            if (!_closed && _queued > 0 && _running < _options.MaxConcurrentBatches)
            {
                _running++;
                reserved = true;
            }
            else if (_running == 0 && _completing == 0)
            {
                idle = _idle;
                _idle = null;
            }
        }

        idle?.TrySetResult();
        if (reserved)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static self => self.StartReservedWorker(), this, preferLocal: true);
        }
    }

    private void StartReservedWorker()
    {
        TaskCompletionSource? idle = null;
        Batch? batch;
        lock (_gate)
        {
            batch = TryTakeBatch(slotReserved: true);
            if (batch is null)
            {
                _running--;
                if (_running == 0 && _completing == 0)
                {
                    idle = _idle;
                    _idle = null;
                }
            }
        }

        idle?.TrySetResult();
        if (batch is not null)
        {
            RunLoop(batch);
        }
    }

    /// <summary>
    /// The worker loop: runs a batch (holding one of the <see cref="BatchingOptions.MaxConcurrentBatches"/> slots), gives
    /// the slot back, answers the batch's requests (their continuations run here, synchronously: a caller that sends its
    /// next request re-queues it at once, without a thread-pool hop per request), then takes the next batch that may leave.
    /// While other work items wait for a pool thread, the next batch is queued behind them instead, so a loop that its
    /// callers keep fed never starves the thread pool.
    /// </summary>
    private void RunLoop(Batch first)
    {
        Batch? batch = first;
        while (batch is not null)
        {
            Execute(batch);
            TaskCompletionSource? idle = null;
            lock (_gate)
            {
                _running--;
                _completing++;
            }

            batch.CompleteAll();
            Batch? other = null;
            lock (_gate)
            {
                _completing--;
                batch = TryTakeBatch();
                if (batch is null)
                {
                    if (_running == 0 && _completing == 0)
                    {
                        idle = _idle;
                        _idle = null;
                    }
                }
                else
                {
                    // Arrivals while this worker answered its batch left the batching to it: when more than one batch
                    // may leave now (and slots are free), this worker runs the first and the pool the next.
                    other = TryTakeBatch();
                }
            }

            idle?.TrySetResult();
            while (other is not null)
            {
                ThreadPool.UnsafeQueueUserWorkItem(other, preferLocal: false);
                lock (_gate)
                {
                    other = TryTakeBatch();
                }
            }

            if (batch is not null && ThreadPool.PendingWorkItemCount > 0)
            {
                // Other work waits for a pool thread (for example callers that have not sent their first request yet, or
                // the application's own work items): this loop would hold its thread for as long as its callers keep it
                // fed, so the next batch goes to the back of the pool's global queue and this thread serves what waited
                // first. Without waiting work the loop goes on here (no hop per batch).
                ThreadPool.UnsafeQueueUserWorkItem(batch, preferLocal: false);
                return;
            }
        }
    }

    /// <summary>Runs <paramref name="batch"/> and stores each request's outcome in it (completed later by <see cref="Batch.CompleteAll"/>).</summary>
    private void Execute(Batch batch)
    {
        List<Request> requests = batch.Requests;
        // One clock read per batch unless a test replaced the clock or a run-duration listener needs the raw stopwatch.
        long started = _time.GetTimestamp();
        long startedRaw = ReferenceEquals(_time, TimeProvider.System) ? started : _metrics.RunDuration.Enabled ? Stopwatch.GetTimestamp() : 0;
        using Activity? activity = StartBatchActivity(requests);
        int rows = 0;
        foreach (Request r in requests)
        {
            r.DisposeWaiters();
            rows += r.Rows;
        }

        try
        {
            if (requests.Count == 1)
            {
                NamedTensor[] outputs = _run(requests[0].Inputs);
                SetOutcome(requests[0], outputs, rows, started);
            }
            else
            {
                RunMerged(requests, rows, started);
            }

            _metrics.BatchSize.Record(rows, _tags);
            activity?.SetTag("modelkit.batch.size", rows);
        }
        catch (Exception ex)
        {
            ModelKit.Diagnostics.ModelKitTelemetryHelpers.RecordError(activity, ex);
            foreach (Request r in requests)
            {
                r.Error ??= ex;
            }
        }
        finally
        {
            if (startedRaw != 0 && _metrics.RunDuration.Enabled)
            {
                _metrics.RunDuration.Record(Stopwatch.GetElapsedTime(startedRaw).TotalSeconds, _tags);
            }
        }
    }

    private void RunMerged(List<Request> requests, int rows, long started)
    {
        var merged = new Tensor[_inputs.Length];
        NamedTensor[] outputs;
        try
        {
            for (int k = 0; k < merged.Length; k++)
            {
                merged[k] = Concatenate(requests, k, rows);
            }

            outputs = _run(merged);
        }
        finally
        {
            foreach (Tensor? tensor in merged)
            {
                if (tensor is not null)
                {
                    OrtTensors.Return(tensor);
                }
            }
        }

        foreach (NamedTensor output in outputs)
        {
            ReadOnlySpan<long> shape = output.Value.Shape;
            if (shape.Length == 0 || shape[0] != rows)
            {
                // The model does not keep dimension 0 as the batch: stop merging and answer each request on its own.
                lock (_gate)
                {
                    _mergeDisabled = true;
                }

                foreach (Request r in requests)
                {
                    try
                    {
                        SetOutcome(r, _run(r.Inputs), r.Rows, started);
                    }
                    catch (Exception ex)
                    {
                        r.Error = ex;
                    }
                }

                return;
            }
        }

        // Requests with the same rows share one shape array per output (tensors never change their shape array).
        var shapes = new long[outputs.Length][];
        int shapesRows = -1;
        int offset = 0;
        foreach (Request r in requests)
        {
            if (r.Rows != shapesRows)
            {
                for (int k = 0; k < outputs.Length; k++)
                {
                    shapes[k] = outputs[k].Value.Shape.ToArray();
                    shapes[k][0] = r.Rows;
                }

                shapesRows = r.Rows;
            }

            var own = new NamedTensor[outputs.Length];
            for (int k = 0; k < outputs.Length; k++)
            {
                own[k] = new NamedTensor(outputs[k].Name, Slice(outputs[k].Value, offset, r.Rows, rows, shapes[k]));
            }

            offset += r.Rows;
            SetOutcome(r, own, rows, started);
        }
    }

    private void SetOutcome(Request request, NamedTensor[] outputs, int batchRows, long started)
    {
        TimeSpan queued = _time.GetElapsedTime(request.EnqueuedAt, started);
        if (_metrics.QueueDuration.Enabled)
        {
            _metrics.QueueDuration.Record(queued.TotalSeconds, _tags);
        }

        request.Outcome = new BatchOutcome(outputs, batchRows, queued);
    }

    private static unsafe Tensor Concatenate(List<Request> requests, int input, int rows)
    {
        Tensor first = requests[0].Inputs[input];
        long[] shape = first.Shape.ToArray();
        shape[0] = rows;
        if (first.ElementType == TensorElementType.String)
        {
            var all = new string[checked((int)(first.ElementCount / Math.Max(first.Shape[0], 1) * rows))];
            int at = 0;
            foreach (Request r in requests)
            {
                ReadOnlySpan<string> part = ((StringTensor)r.Inputs[input]).Span;
                part.CopyTo(all.AsSpan(at));
                at += part.Length;
            }

            return StringTensor.Create(all, shape);
        }

        Tensor merged = OrtTensors.Rent(first.ElementType, shape);
        using System.Buffers.MemoryHandle pin = merged.Pin();
        var destination = new Span<byte>(pin.Pointer, checked((int)merged.ByteLength));
        int offset = 0;
        foreach (Request r in requests)
        {
            ReadOnlySpan<byte> bytes = r.Inputs[input].Bytes;
            bytes.CopyTo(destination[offset..]);
            offset += bytes.Length;
        }

        return merged;
    }

    /// <summary>
    /// Returns rows <paramref name="rowOffset"/> to <paramref name="rowOffset"/> + <paramref name="rowCount"/> of
    /// <paramref name="output"/> as a tensor of <paramref name="shape"/>. Numeric tensors are views of the batch's output
    /// array without copying (the session returned that array new for this batch, nobody else holds it, and tensors are
    /// read-only, so the requests of one batch can share it); string tensors are copied.
    /// </summary>
    private static Tensor Slice(Tensor output, int rowOffset, int rowCount, int totalRows, long[] shape) => output switch
    {
        StringTensor strings => SliceStrings(strings, rowOffset, rowCount, totalRows, shape),
        Tensor<float> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<double> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<long> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<int> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<short> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<sbyte> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<ulong> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<uint> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<ushort> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<byte> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<bool> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<Half> t => View(t, rowOffset, rowCount, totalRows, shape),
        Tensor<BFloat16> t => View(t, rowOffset, rowCount, totalRows, shape),
        _ => CopyRows(output, rowOffset, rowCount, totalRows, shape),
    };

    private static Tensor<T> View<T>(Tensor<T> output, int rowOffset, int rowCount, int totalRows, long[] shape)
        where T : unmanaged
    {
        int perRow = output.Data.Length / Math.Max(totalRows, 1);
        return Tensor.Create(output.Data.Slice(rowOffset * perRow, rowCount * perRow), shape);
    }

    private static StringTensor SliceStrings(StringTensor strings, int rowOffset, int rowCount, int totalRows, long[] shape)
    {
        int perRow = strings.Span.Length / Math.Max(totalRows, 1);
        return StringTensor.Create(strings.Span.Slice(rowOffset * perRow, rowCount * perRow).ToArray(), shape);
    }

    private static Tensor CopyRows(Tensor output, int rowOffset, int rowCount, int totalRows, long[] shape)
    {
        int rowBytes = checked((int)(output.ByteLength / Math.Max(totalRows, 1)));
        return OrtTensors.Copy(output.ElementType, shape, output.Bytes.Slice(rowOffset * rowBytes, rowCount * rowBytes));
    }

    private Activity? StartBatchActivity(List<Request> requests)
    {
        if (!ServingMetrics.ActivitySource.HasListeners())
        {
            return null;
        }

        var links = new List<ActivityLink>(requests.Count);
        foreach (Request r in requests)
        {
            if (r.RequestContext != default)
            {
                links.Add(new ActivityLink(r.RequestContext));
            }
        }

        Activity? activity = ServingMetrics.ActivitySource.StartActivity("modelkit.serving.batch", ActivityKind.Internal, parentContext: default, tags: _tags, links: links);
        activity?.SetTag("modelkit.batch.requests", requests.Count);
        return activity;
    }

    private void OnCancelled(Request request, CancellationToken token)
    {
        if (TryRemove(request))
        {
            _metrics.Cancelled.Add(1, _tags);
            request.DisposeWaiters();
            request.Cancel(token);
        }
    }

    private void OnDeadline(Request request)
    {
        if (TryRemove(request))
        {
            _metrics.TimedOut.Add(1, _tags);
            request.Fail(Timeout(request.Deadline!.Value));
        }
    }

    private bool TryRemove(Request request)
    {
        lock (_gate)
        {
            if (request.Taken || request.Group is null || !request.Group.Remove(request))
            {
                return false;
            }

            if (request.Group.Count == 0)
            {
                RemoveGroup(request.Group);
            }

            _queued--;
            _metrics.QueueDepth.Add(-1, _tags);
            return true;
        }
    }

    private InferenceTimeoutException Timeout(DateTimeOffset deadline) =>
        new(_model, deadline, string.Create(CultureInfo.InvariantCulture, $"The request to '{_model}' was dropped unrun: its deadline {deadline:O} passed while it was queued. Give the request more time, or reduce the load on the model."));

    /// <summary>The requests of one batch; as a thread-pool work item it runs the worker loop from this batch on.</summary>
    private sealed class Batch(DynamicBatcher owner) : IThreadPoolWorkItem
    {
        public List<Request> Requests { get; } = [];

        public void Execute() => owner.RunLoop(this);

        /// <summary>Completes every request with the outcome or error <see cref="DynamicBatcher.Execute(Batch)"/> stored.</summary>
        public void CompleteAll()
        {
            foreach (Request r in Requests)
            {
                if (r.Error is { } error)
                {
                    r.Fail(error);
                }
                else
                {
                    r.Succeed();
                }
            }
        }
    }

    /// <summary>
    /// One queued request and its completion: an <see cref="IValueTaskSource{TResult}"/> over
    /// <see cref="ManualResetValueTaskSourceCore{TResult}"/>. A pooled request (no deadline, no cancellable token: nothing
    /// but its batch can complete it) goes back to the batcher's pool when its result is read, reset to a new version,
    /// so a stale <see cref="ValueTask{TResult}"/> of an earlier use fails instead of reading another caller's result.
    /// Completed exactly once: by its batch (after it was taken from the queue, under the lock), or by cancellation,
    /// deadline or close (after it was removed from the queue, under the lock); a second completion throws.
    /// </summary>
    private sealed class Request(DynamicBatcher owner) : IValueTaskSource<BatchOutcome>, IValueTaskSource<InferenceResult>
    {
        private ManualResetValueTaskSourceCore<BatchOutcome> _core; // continuations run synchronously on the completing thread

        public DynamicBatcher Owner { get; } = owner.CountCreated();

        public bool Pooled { get; init; }

        public Tensor[] Inputs { get; private set; } = [];

        public int Rows { get; private set; }

        public DateTimeOffset? Deadline { get; private set; }

        public bool High { get; private set; }

        public ActivityContext RequestContext { get; private set; }

        public long EnqueuedAt { get; private set; }

        public BatchOutcome Outcome { get; set; }

        public Exception? Error { get; set; }

        public ShapeGroup? Group { get; set; }

        /// <summary>Gets or sets the neighbours in the group's queue (an intrusive list: no node per request).</summary>
        public Request? Previous { get; set; }

        public Request? Next { get; set; }

        /// <summary>Gets or sets the next request in the batcher's pool of free requests.</summary>
        public Request? NextFree { get; set; }

        public bool Queued { get; set; }

        public bool Taken { get; set; }

        public CancellationTokenRegistration Cancellation { get; set; }

        public ITimer? DeadlineTimer { get; set; }

        /// <summary>Gets the owner of a request queued by <see cref="EnqueueForResult"/> (null otherwise).</summary>
        public IRequestOwner? ResultOwner { get; private set; }

        public short Version => _core.Version;

        public void Init(Tensor[] inputs, DateTimeOffset? deadline, InferencePriority priority, ActivityContext requestContext, long enqueuedAt, IRequestOwner? resultOwner)
        {
            ResultOwner = resultOwner;
            Inputs = inputs;
            Rows = inputs.Length > 0 && inputs[0].Shape.Length > 0 ? checked((int)inputs[0].Shape[0]) : 1;
            Deadline = deadline;
            High = priority == InferencePriority.High;
            RequestContext = requestContext;
            EnqueuedAt = enqueuedAt;
        }

        public ValueTask<BatchOutcome> AsValueTask() => new(this, _core.Version);

        public void DisposeWaiters()
        {
            Cancellation.Dispose();
            Cancellation = default;
            DeadlineTimer?.Dispose();
            DeadlineTimer = null;
        }

        public void Succeed()
        {
            // The owner lets go of what the request held before the caller's continuation runs (which may queue this
            // caller's next request, and reuse this pooled request, before SetResult returns).
            ResultOwner?.OnRequestCompleted(EnqueuedAt, null);
            _core.SetResult(Outcome);
        }

        public void Cancel(CancellationToken token)
        {
            var error = new TaskCanceledException("The inference request was cancelled while it was queued.", null, token);
            ResultOwner?.OnRequestCompleted(EnqueuedAt, error);
            _core.SetException(error);
        }

        public void Fail(Exception error)
        {
            DisposeWaiters();
            if (error is OperationCanceledException oce and not TaskCanceledException)
            {
                error = new TaskCanceledException(oce.Message, oce, oce.CancellationToken);
            }

            ResultOwner?.OnRequestCompleted(EnqueuedAt, error);
            _core.SetException(error);
        }

        InferenceResult IValueTaskSource<InferenceResult>.GetResult(short token)
        {
            // Read before GetResult: a pooled request is reset when its outcome is read.
            IRequestOwner resultOwner = ResultOwner ?? throw new InvalidOperationException("The request was not queued for an InferenceResult.");
            return resultOwner.ToResult(GetResult(token));
        }

        public BatchOutcome GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                if (Pooled)
                {
                    // The result is read: forget the caller's tensors and outputs, move to a new version, reuse.
                    Inputs = [];
                    ResultOwner = null;
                    Outcome = default;
                    Error = null;
                    Group = null;
                    Taken = false;
                    _core.Reset();
                    Owner.ReturnRequest(this);
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private DynamicBatcher CountCreated()
    {
        Interlocked.Increment(ref _requestsCreated);
        return this;
    }

    private sealed class ShapeGroup(Tensor[] first, bool solo)
    {
        // Two intrusive FIFO lists (high and normal priority): head and tail of each.
        private Request? _highHead;
        private Request? _highTail;
        private Request? _normalHead;
        private Request? _normalTail;
        private int _count;

        /// <summary>Gets the inputs of the request that opened the group; their shapes past dimension 0 are the group's.</summary>
        private Tensor[] First { get; } = first;

        public bool Solo { get; } = solo;

        /// <summary>Returns whether every input of <paramref name="inputs"/> has the group's shape past dimension 0 (and the same rows in every input).</summary>
        public bool Matches(Tensor[] inputs)
        {
            if (inputs.Length != First.Length)
            {
                return false;
            }

            for (int k = 0; k < inputs.Length; k++)
            {
                if (!inputs[k].Shape[1..].SequenceEqual(First[k].Shape[1..]))
                {
                    return false;
                }
            }

            return true;
        }

        public long Rows { get; private set; }

        public int Count => _count;

        public Request? Head(bool high) => high ? _highHead : _normalHead;

        public void Add(Request request)
        {
            ref Request? head = ref request.High ? ref _highHead : ref _normalHead;
            ref Request? tail = ref request.High ? ref _highTail : ref _normalTail;
            request.Previous = tail;
            request.Next = null;
            if (tail is null)
            {
                head = request;
            }
            else
            {
                tail.Next = request;
            }

            tail = request;
            request.Queued = true;
            _count++;
            Rows += request.Rows;
        }

        public bool Remove(Request request)
        {
            if (!request.Queued || !ReferenceEquals(request.Group, this))
            {
                return false;
            }

            ref Request? head = ref request.High ? ref _highHead : ref _normalHead;
            ref Request? tail = ref request.High ? ref _highTail : ref _normalTail;
            if (request.Previous is null)
            {
                head = request.Next;
            }
            else
            {
                request.Previous.Next = request.Next;
            }

            if (request.Next is null)
            {
                tail = request.Previous;
            }
            else
            {
                request.Next.Previous = request.Previous;
            }

            request.Previous = null;
            request.Next = null;
            request.Queued = false;
            _count--;
            Rows -= request.Rows;
            return true;
        }

        public void Take(List<Request> batch, long target, TimeProvider time, ref List<Request>? expired)
        {
            long rows = 0;
            DateTimeOffset? now = null; // read once, and only when a request has a deadline
            foreach (bool high in (ReadOnlySpan<bool>)[true, false])
            {
                while (Head(high) is { } r)
                {
                    if (r.Deadline is { } d && (now ??= time.GetUtcNow()) >= d)
                    {
                        Remove(r);
                        (expired ??= []).Add(r);
                        continue;
                    }

                    if (batch.Count > 0 && rows + r.Rows > target)
                    {
                        return;
                    }

                    Remove(r);
                    batch.Add(r);
                    rows += r.Rows;
                    if (rows >= target)
                    {
                        return;
                    }
                }
            }
        }

        public void DrainTo(List<Request> failed)
        {
            foreach (bool high in (ReadOnlySpan<bool>)[true, false])
            {
                while (Head(high) is { } r)
                {
                    Remove(r);
                    failed.Add(r);
                }
            }
        }
    }
}
