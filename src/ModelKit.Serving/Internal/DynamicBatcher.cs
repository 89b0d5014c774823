using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;

namespace ModelKit.Serving.Internal;

/// <summary>What a batched request got back.</summary>
/// <param name="Outputs">The request's own rows of every output, in signature order.</param>
/// <param name="BatchSize">The rows of the batch it ran in.</param>
/// <param name="QueueDuration">How long it waited before its batch started.</param>
internal readonly record struct BatchOutcome(NamedTensor[] Outputs, int BatchSize, TimeSpan QueueDuration);

/// <summary>
/// The dynamic batcher of one loaded model generation. Requests are grouped by their non-batch shape (requests of
/// different shapes never merge) and two priority levels. A batch leaves when it holds <see cref="BatchingOptions.MaxBatchSize"/>
/// rows, when its oldest request has waited <see cref="BatchingOptions.MaxQueueDelay"/>, or at once when no batch of the
/// model runs, and only while fewer than <see cref="BatchingOptions.MaxConcurrentBatches"/> batches run. A batch formed
/// by an arriving request runs on the caller's thread (a lone caller pays no thread hop); batches formed when a batch
/// finishes run on the thread that finished it, or on the thread pool. Merging concatenates each input along dimension 0;
/// results are split back along dimension 0. Time comes from a <see cref="TimeProvider"/> (tests use FakeTimeProvider).
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
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ShapeGroup> _groups = new(StringComparer.Ordinal);
    private readonly List<ShapeGroup> _groupList = [];
    private readonly List<ShapeGroup> _soloGroups = [];
    private ITimer? _delayTimer;
    private long _delayTimerDue = long.MaxValue;
    private int _queued;
    private int _running;
    private bool _mergeDisabled;
    private bool _closed;
    private TaskCompletionSource? _idle;
    private long _soloCounter;

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
    public Task<BatchOutcome> EnqueueAsync(Tensor[] ordered, DateTimeOffset? deadline, InferencePriority priority, ActivityContext requestContext, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            _metrics.Cancelled.Add(1, _tags);
            return Task.FromCanceled<BatchOutcome>(cancellationToken);
        }

        if (deadline is { } d && _time.GetUtcNow() >= d)
        {
            _metrics.TimedOut.Add(1, _tags);
            return Task.FromException<BatchOutcome>(Timeout(d));
        }

        bool alone = false;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_queued == 0 && _running == 0)
            {
                // Idle model, empty queue: the request is its own batch and runs now on the caller's thread.
                _running++;
                alone = true;
            }
        }

        if (alone)
        {
            return RunAlone(ordered, requestContext);
        }

        var request = new Request(this, ordered, deadline, priority, requestContext, _time.GetTimestamp());
        Batch? batch;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_queued >= _options.MaxQueueLength)
            {
                _metrics.Rejected.Add(1, _tags);
                throw new InferenceQueueFullException(
                    _model,
                    _options.MaxQueueLength,
                    string.Create(CultureInfo.InvariantCulture, $"The request queue of '{_model}' is full ({_options.MaxQueueLength} requests waiting, BatchingOptions.MaxQueueLength). Retry later, or raise MaxQueueLength or the model's throughput."));
            }

            request.Group = GroupFor(request);
            request.Group.Add(request);
            _queued++;
            _metrics.QueueDepth.Add(1, _tags);
            batch = TryTakeBatch();
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
            // Formed by this arrival: run it here, then hand any follow-up batch to the thread pool.
            Execute(batch);
            Finish(inline: true);
        }

        return request.Completion.Task;
    }

    private Task<BatchOutcome> RunAlone(Tensor[] ordered, ActivityContext requestContext)
    {
        long startedRaw = Stopwatch.GetTimestamp();
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
            return Task.FromResult(new BatchOutcome(outputs, rows, TimeSpan.Zero));
        }
        catch (Exception ex)
        {
            ModelKit.Diagnostics.ModelKitTelemetryHelpers.RecordError(activity, ex);
            return Task.FromException<BatchOutcome>(ex);
        }
        finally
        {
            _metrics.RunDuration.Record(Stopwatch.GetElapsedTime(startedRaw).TotalSeconds, _tags);
            activity?.Dispose();
            Finish(inline: true);
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

            _groups.Clear();
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

    /// <summary>Returns a task that completes when no batch runs any more.</summary>
    public Task WhenIdleAsync()
    {
        lock (_gate)
        {
            if (_running == 0)
            {
                return Task.CompletedTask;
            }

            _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _idle.Task;
        }
    }

    private ShapeGroup GroupFor(Request request)
    {
        string key = ShapeKey(request);
        if (!_groups.TryGetValue(key, out ShapeGroup? group))
        {
            group = new ShapeGroup(key, solo: key.Length == 0 || key[0] == '!');
            if (group.Solo)
            {
                _soloGroups.Add(group);
                return group;
            }

            _groups.Add(key, group);
            _groupList.Add(group);
        }

        return group;
    }

    private string ShapeKey(Request request)
    {
        if (!CanMerge || _mergeDisabled)
        {
            return "!" + (++_soloCounter).ToString(CultureInfo.InvariantCulture);
        }

        long rows = request.Inputs[0].Shape[0];
        var sb = new StringBuilder();
        foreach (Tensor tensor in request.Inputs)
        {
            ReadOnlySpan<long> shape = tensor.Shape;
            if (shape.Length == 0 || shape[0] != rows)
            {
                return "!" + (++_soloCounter).ToString(CultureInfo.InvariantCulture);
            }

            sb.Append('|');
            for (int d = 1; d < shape.Length; d++)
            {
                sb.Append(shape[d]).Append(',');
            }
        }

        return sb.ToString();
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

            int others = _running - (slotReserved ? 1 : 0);

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
            TimeSpan waited = _time.GetElapsedTime(head.EnqueuedAt);
            bool expired = waited >= _options.MaxQueueDelay;
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

            var batch = new Batch();
            DateTimeOffset now = _time.GetUtcNow();
            List<Request>? expiredRequests = null;
            group.Take(batch.Requests, target, now, ref expiredRequests);
            if (group.Count == 0)
            {
                RemoveGroup(group);
            }

            int removed = batch.Requests.Count + (expiredRequests?.Count ?? 0);
            _queued -= removed;
            _metrics.QueueDepth.Add(-removed, _tags);
            if (expiredRequests is not null)
            {
                foreach (Request late in expiredRequests)
                {
                    _metrics.TimedOut.Add(1, _tags);
                    late.Fail(Timeout(late.Deadline!.Value));
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
            _groups.Remove(group.Key);
            _groupList.Remove(group);
        }
    }

    private void ArmDelayTimer(long enqueuedAt)
    {
        long due = enqueuedAt + (long)(_options.MaxQueueDelay.TotalSeconds * _time.TimestampFrequency);
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

        while (batch is not null)
        {
            Execute(batch);
            batch = FinishAndTakeNext();
        }
    }

    /// <summary>
    /// After a batch that ran on an arriving caller's thread: when more requests wait, reserve a slot and let a pool
    /// thread form the next batch when it starts (so requests that arrive meanwhile still join it), instead of keeping
    /// the caller.
    /// </summary>
    private void Finish(bool inline)
    {
        if (!inline)
        {
            Batch? next = FinishAndTakeNext();
            if (next is not null)
            {
                RunLoop(next);
            }

            return;
        }

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
            else if (_running == 0)
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
                if (_running == 0)
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

    private void RunLoop(Batch first)
    {
        Batch? batch = first;
        while (batch is not null)
        {
            Execute(batch);
            batch = FinishAndTakeNext();
        }
    }

    private Batch? FinishAndTakeNext()
    {
        TaskCompletionSource? idle = null;
        Batch? next;
        lock (_gate)
        {
            _running--;
            next = TryTakeBatch();
            if (_running == 0 && next is null)
            {
                idle = _idle;
                _idle = null;
            }
        }

        idle?.TrySetResult();
        return next;
    }

    private void Execute(Batch batch)
    {
        List<Request> requests = batch.Requests;
        long started = _time.GetTimestamp();
        long startedRaw = Stopwatch.GetTimestamp();
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
                Complete(requests[0], outputs, rows, started);
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
                r.Fail(ex);
            }
        }
        finally
        {
            _metrics.RunDuration.Record(Stopwatch.GetElapsedTime(startedRaw).TotalSeconds, _tags);
        }
    }

    private void RunMerged(List<Request> requests, int rows, long started)
    {
        var merged = new Tensor[_inputs.Length];
        for (int k = 0; k < merged.Length; k++)
        {
            merged[k] = Concatenate(requests, k, rows);
        }

        NamedTensor[] outputs = _run(merged);
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
                        Complete(r, _run(r.Inputs), r.Rows, started);
                    }
                    catch (Exception ex)
                    {
                        r.Fail(ex);
                    }
                }

                return;
            }
        }

        int offset = 0;
        foreach (Request r in requests)
        {
            var own = new NamedTensor[outputs.Length];
            for (int k = 0; k < outputs.Length; k++)
            {
                own[k] = new NamedTensor(outputs[k].Name, Slice(outputs[k].Value, offset, r.Rows, rows));
            }

            offset += r.Rows;
            Complete(r, own, rows, started);
        }
    }

    private void Complete(Request request, NamedTensor[] outputs, int batchRows, long started)
    {
        TimeSpan queued = _time.GetElapsedTime(request.EnqueuedAt, started);
        _metrics.QueueDuration.Record(queued.TotalSeconds, _tags);
        request.Completion.TrySetResult(new BatchOutcome(outputs, batchRows, queued));
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

        Tensor merged = OrtTensors.Allocate(first.ElementType, shape);
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

    private static unsafe Tensor Slice(Tensor output, int rowOffset, int rowCount, int totalRows)
    {
        long[] shape = output.Shape.ToArray();
        shape[0] = rowCount;
        if (output is StringTensor strings)
        {
            int perRow = strings.Span.Length / Math.Max(totalRows, 1);
            return StringTensor.Create(strings.Span.Slice(rowOffset * perRow, rowCount * perRow).ToArray(), shape);
        }

        int rowBytes = checked((int)(output.ByteLength / Math.Max(totalRows, 1)));
        Tensor part = OrtTensors.Allocate(output.ElementType, shape);
        using System.Buffers.MemoryHandle pin = part.Pin();
        output.Bytes.Slice(rowOffset * rowBytes, rowCount * rowBytes).CopyTo(new Span<byte>(pin.Pointer, checked((int)part.ByteLength)));
        return part;
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
            request.Completion.TrySetCanceled(token);
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

    private sealed class Batch
    {
        public List<Request> Requests { get; } = [];
    }

    private sealed class Request(DynamicBatcher owner, Tensor[] inputs, DateTimeOffset? deadline, InferencePriority priority, ActivityContext requestContext, long enqueuedAt)
    {
        public DynamicBatcher Owner { get; } = owner;

        public Tensor[] Inputs { get; } = inputs;

        public int Rows { get; } = inputs.Length > 0 && inputs[0].Shape.Length > 0 ? checked((int)inputs[0].Shape[0]) : 1;

        public DateTimeOffset? Deadline { get; } = deadline;

        public bool High { get; } = priority == InferencePriority.High;

        public ActivityContext RequestContext { get; } = requestContext;

        public long EnqueuedAt { get; } = enqueuedAt;

        public TaskCompletionSource<BatchOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ShapeGroup? Group { get; set; }

        public LinkedListNode<Request>? Node { get; set; }

        public bool Taken { get; set; }

        public CancellationTokenRegistration Cancellation { get; set; }

        public ITimer? DeadlineTimer { get; set; }

        public void DisposeWaiters()
        {
            Cancellation.Dispose();
            DeadlineTimer?.Dispose();
        }

        public void Fail(Exception error)
        {
            DisposeWaiters();
            if (error is OperationCanceledException oce)
            {
                Completion.TrySetCanceled(oce.CancellationToken);
            }
            else
            {
                Completion.TrySetException(error);
            }
        }
    }

    private sealed class ShapeGroup(string key, bool solo)
    {
        private readonly LinkedList<Request> _high = new();
        private readonly LinkedList<Request> _normal = new();

        public string Key { get; } = key;

        public bool Solo { get; } = solo;

        public long Rows { get; private set; }

        public int Count => _high.Count + _normal.Count;

        public Request? Head(bool high) => (high ? _high : _normal).First?.Value;

        public void Add(Request request)
        {
            request.Node = (request.High ? _high : _normal).AddLast(request);
            Rows += request.Rows;
        }

        public bool Remove(Request request)
        {
            if (request.Node is null || request.Node.List is null)
            {
                return false;
            }

            request.Node.List.Remove(request.Node);
            request.Node = null;
            Rows -= request.Rows;
            return true;
        }

        public void Take(List<Request> batch, long target, DateTimeOffset now, ref List<Request>? expired)
        {
            long rows = 0;
            foreach (LinkedList<Request> list in (ReadOnlySpan<LinkedList<Request>>)[_high, _normal])
            {
                while (list.First is { } node)
                {
                    Request r = node.Value;
                    if (r.Deadline is { } d && now >= d)
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
            foreach (LinkedList<Request> list in (ReadOnlySpan<LinkedList<Request>>)[_high, _normal])
            {
                while (list.First is { } node)
                {
                    Remove(node.Value);
                    failed.Add(node.Value);
                }
            }
        }
    }
}
