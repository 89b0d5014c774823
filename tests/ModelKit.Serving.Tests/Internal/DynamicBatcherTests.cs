using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving.Tests.Internal;

/// <summary>
/// The batcher over a real ONNX Runtime session of the Gemm+Relu test model. A gate in front of the session holds the
/// first batch "running" so that later requests queue deterministically; the clock is a FakeTimeProvider.
/// </summary>
public sealed class DynamicBatcherTests : IDisposable
{
    private readonly OnnxRuntimeSessionFactory _factory = TestModels.Factory();
    private readonly OnnxRuntimeInferenceSession _session;
    private readonly FakeTimeProvider _time = new();
    private readonly ManualResetEventSlim _gate = new(initialState: true);
    private readonly SemaphoreSlim _entered = new(0);
    private readonly List<int[]> _batches = [];

    public DynamicBatcherTests()
    {
        _session = (OnnxRuntimeInferenceSession)_factory.Create(TestModels.GemmRelu());
    }

    public void Dispose()
    {
        _gate.Set();
        _session.Dispose();
        _factory.Dispose();
        _gate.Dispose();
        _entered.Dispose();
    }

    [Fact]
    public async Task Enqueue_LoneCallerOnIdleModel_RunsAtOnceWithoutWaitingForTheDelay()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueDelay = TimeSpan.FromHours(1) });

        Task<BatchOutcome> task = Enqueue(batcher, 1);

        Assert.True(task.IsCompletedSuccessfully); // no time advanced, no other thread involved
        BatchOutcome outcome = await task;
        Assert.Equal(1, outcome.BatchSize);
        Assert.Equal(TimeSpan.Zero, outcome.QueueDuration);
        Assert.Equal(TestModels.GemmReluReference(Input(1)), ((Tensor<float>)outcome.Outputs[0].Value).Span.ToArray());
    }

    [Fact]
    public async Task Enqueue_WhileABatchRuns_MergesQueuedRequestsUpToMaxBatchSizeAndSplitsResults()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 4, MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);

        var queued = new List<Task<BatchOutcome>>();
        for (int i = 1; i <= 6; i++)
        {
            queued.Add(Enqueue(batcher, i));
        }

        Assert.Equal(6, batcher.QueueLength);
        _gate.Set();
        await first;
        BatchOutcome[] outcomes = await Task.WhenAll(queued);

        Assert.Equal([[1], [1, 1, 1, 1], [1, 1]], Batches());
        for (int i = 0; i < outcomes.Length; i++)
        {
            Assert.Equal(i < 4 ? 4 : 2, outcomes[i].BatchSize);
            Assert.Equal(TestModels.GemmReluReference(Input(i + 1)), ((Tensor<float>)outcomes[i].Outputs[0].Value).Span.ToArray());
            Assert.Equal([1L, 2L], outcomes[i].Outputs[0].Value.Shape.ToArray());
        }
    }

    [Fact]
    public async Task Enqueue_WithFreeSlotWhileAnotherBatchRuns_LeavesWhenTheOldestWaitedMaxQueueDelay()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 8, MaxQueueDelay = TimeSpan.FromMilliseconds(5), MaxConcurrentBatches = 2 });
        _holdFirstRunOnly = true; // the gate holds only the first batch; later batches run through
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);

        // The first batch stays inside its run until the end, so the model is busy and a and b must wait for the delay
        // (opening the gate earlier could let the first batch finish and a leave at once, alone).
        Task<BatchOutcome> a = Enqueue(batcher, 1);
        _time.Advance(TimeSpan.FromMilliseconds(3));
        Task<BatchOutcome> b = Enqueue(batcher, 2);

        Assert.False(a.IsCompleted);
        Assert.False(b.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(2)); // the oldest has now waited 5 ms: a and b leave together
        _gate.Set();

        BatchOutcome[] outcomes = await Task.WhenAll(a, b);
        await first;
        Assert.All(outcomes, o => Assert.Equal(2, o.BatchSize));
        Assert.Equal(TimeSpan.FromMilliseconds(5), outcomes[0].QueueDuration);
        Assert.Equal(TimeSpan.FromMilliseconds(2), outcomes[1].QueueDuration);
    }

    [Fact]
    public async Task Enqueue_FullBatchWithFreeSlot_RunsOnAnotherThreadWhileTheFirstBatchIsStillRunning()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 2, MaxQueueDelay = TimeSpan.FromHours(1), MaxConcurrentBatches = 2 });
        _holdFirstRunOnly = true;
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);

        Task<BatchOutcome> a = Enqueue(batcher, 1);
        Task<BatchOutcome> b = Enqueue(batcher, 2); // the batch is full and a slot is free: it leaves without waiting for the delay

        BatchOutcome[] outcomes = await Task.WhenAll(a, b).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(first.IsCompleted);
        Assert.All(outcomes, o => Assert.Equal(2, o.BatchSize));
        Assert.Equal(TestModels.GemmReluReference(Input(2)), ((Tensor<float>)outcomes[1].Outputs[0].Value).Span.ToArray());
        _gate.Set();
        await first;
    }

    [Fact]
    public async Task Enqueue_BatchesThatFillWhileAWorkerAnswersItsBatch_LeaveWhenItIsDoneWithoutWaitingForTheDelay()
    {
        // The callers of a batch send their next requests from their continuations, on the worker that answers them:
        // the worker takes the first batch that filled meanwhile itself, and hands the second to the pool (both slots).
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 2, MaxQueueDelay = TimeSpan.FromHours(1), MaxConcurrentBatches = 2 });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        Task<BatchOutcome> a = Enqueue(batcher, 1);
        Task<BatchOutcome> b = Enqueue(batcher, 2); // full, a slot is free: leaves and waits at the gate
        Assert.True(await _entered.WaitAsync(TimeSpan.FromSeconds(30)));
        var next = new List<Task<BatchOutcome>>();
        Task sent = a.ContinueWith(
            _ =>
            {
                for (int i = 3; i <= 6; i++)
                {
                    next.Add(Enqueue(batcher, i));
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

        _gate.Set(); // no time is advanced: a request left to wait for the 1-hour delay would never complete
        await Task.WhenAll(first, a, b, sent).WaitAsync(TimeSpan.FromSeconds(30));
        BatchOutcome[] outcomes = await Task.WhenAll(next).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([1, 2, 2, 2], Batches().Select(batch => batch.Length).Order()); // first and [a, b] leave the gate together
        for (int i = 0; i < outcomes.Length; i++)
        {
            Assert.Equal(2, outcomes[i].BatchSize);
            Assert.Equal(TestModels.GemmReluReference(Input(i + 3)), Floats(outcomes[i]));
        }
    }

    [Fact]
    public async Task Enqueue_QueueFull_RejectsAtOnceWithInferenceQueueFullException()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueLength = 2, MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        Task<BatchOutcome> a = Enqueue(batcher, 1);
        Task<BatchOutcome> b = Enqueue(batcher, 2);

        var ex = Assert.Throws<InferenceQueueFullException>(() => { _ = Enqueue(batcher, 3); });

        Assert.Equal("gemm", ex.Model);
        Assert.Equal(2, ex.Capacity);
        Assert.Equal("The request queue of 'gemm' is full (2 requests waiting, BatchingOptions.MaxQueueLength). Retry later, or raise MaxQueueLength or the model's throughput.", ex.Message);
        _gate.Set();
        await Task.WhenAll(first, a, b);
    }

    [Fact]
    public async Task Enqueue_DeadlinePassesWhileQueued_FailsWithTimeoutAndNeverRuns()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        DateTimeOffset deadline = _time.GetUtcNow().AddMilliseconds(10);
        Task<BatchOutcome> late = batcher.EnqueueAsync([Tensor(7)], deadline, InferencePriority.Normal, default, CancellationToken.None);
        Task<BatchOutcome> onTime = Enqueue(batcher, 8);

        _time.Advance(TimeSpan.FromMilliseconds(10));

        var ex = await Assert.ThrowsAsync<InferenceTimeoutException>(() => late);
        Assert.Equal(deadline, ex.Deadline);
        Assert.StartsWith("The request to 'gemm' was dropped unrun: its deadline ", ex.Message, StringComparison.Ordinal);
        _gate.Set();
        await Task.WhenAll(first, onTime);
        Assert.Equal([[1], [1]], Batches()); // the late request never reached the engine
    }

    [Fact]
    public async Task Enqueue_CancelledWhileQueued_CompletesCancelledAndNeverRuns()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        using var cts = new CancellationTokenSource();
        Task<BatchOutcome> cancelled = batcher.EnqueueAsync([Tensor(5)], null, InferencePriority.Normal, default, cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(0, batcher.QueueLength);
        _gate.Set();
        await first;
        Assert.Equal([[1]], Batches());
    }

    [Fact]
    public async Task Enqueue_DifferentNonBatchShapes_NeverMerge()
    {
        // Relu over [-1, 1, 2, 2] accepts the same rows only; use the image model with two row shapes of its free input.
        byte[] model = new ModelKit.Onnx.OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, -1)
            .AddNode("Relu", ["x"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, -1)
            .ToBytes();
        using var session = (OnnxRuntimeInferenceSession)_factory.Create(model);
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueDelay = TimeSpan.FromHours(1) }, session);
        Task<BatchOutcome> first = await StartBlockedAsync(batcher, Tensor<float>([1f, 2f], 1, 2));

        Task<BatchOutcome> two1 = batcher.EnqueueAsync([Tensor<float>([-1f, 3f], 1, 2)], null, InferencePriority.Normal, default, CancellationToken.None);
        Task<BatchOutcome> three = batcher.EnqueueAsync([Tensor<float>([4f, -5f, 6f], 1, 3)], null, InferencePriority.Normal, default, CancellationToken.None);
        Task<BatchOutcome> two2 = batcher.EnqueueAsync([Tensor<float>([7f, -8f], 1, 2)], null, InferencePriority.Normal, default, CancellationToken.None);
        _gate.Set();
        await Task.WhenAll(first, two1, three, two2);

        Assert.Equal([[1], [1, 1], [1]], Batches());
        Assert.Equal(new[] { 0f, 3f }, Floats(await two1));
        Assert.Equal(new[] { 4f, 0f, 6f }, Floats(await three));
        Assert.Equal(new[] { 7f, 0f }, Floats(await two2));
    }

    [Fact]
    public async Task Enqueue_HighPriority_RunsBeforeEarlierNormalRequests()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 1, MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        Task<BatchOutcome> normal = batcher.EnqueueAsync([Tensor(2)], null, InferencePriority.Normal, default, CancellationToken.None);
        Task<BatchOutcome> high = batcher.EnqueueAsync([Tensor(3)], null, InferencePriority.High, default, CancellationToken.None);

        _gate.Set();
        await Task.WhenAll(first, normal, high);

        float[][] order;
        lock (_order)
        {
            order = [.. _order];
        }

        Assert.Equal([Input(1), Input(3), Input(2)], order);
    }

    [Fact]
    public void IsBatchable_InputWithoutDynamicDimensionZero_IsFalse()
    {
        var fixedBatch = new ModelSignature([new TensorSpec("x", TensorElementType.Float, [1, 3])], [new TensorSpec("y", TensorElementType.Float, [-1, 3])]);
        var scalar = new ModelSignature([new TensorSpec("x", TensorElementType.Float, [])], [new TensorSpec("y", TensorElementType.Float, [-1])]);
        var batchable = new ModelSignature([new TensorSpec("x", TensorElementType.Float, [-1, 3])], [new TensorSpec("y", TensorElementType.Float, [-1, 2])]);

        Assert.False(DynamicBatcher.IsBatchable(fixedBatch));
        Assert.False(DynamicBatcher.IsBatchable(scalar));
        Assert.True(DynamicBatcher.IsBatchable(batchable));
    }

    [Fact]
    public async Task Enqueue_PooledRequests_AreReusedAndEveryCallerGetsItsOwnRows()
    {
        // 8 callers × 40 requests without deadline or token (the pooled path), merged in batches of up to 4, one at a time.
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 4, MaxConcurrentBatches = 1, MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher); // the callers' first requests queue behind it
        var callers = new Task[8];
        for (int c = 0; c < callers.Length; c++)
        {
            int caller = c;
            callers[c] = Task.Run(async () =>
            {
                for (int r = 0; r < 40; r++)
                {
                    int seed = caller * 100 + r + 1;
                    BatchOutcome outcome = await batcher.Enqueue([Tensor(seed)], null, InferencePriority.Normal, default, _time.GetTimestamp(), CancellationToken.None);
                    Assert.Equal(TestModels.GemmReluReference(Input(seed)), Floats(outcome));
                    Assert.Equal([1L, 2L], outcome.Outputs[0].Value.Shape.ToArray());
                }
            });
        }

        Assert.True(SpinWait.SpinUntil(() => batcher.QueueLength == 8, TimeSpan.FromSeconds(30)));
        _gate.Set();
        await first;
        await Task.WhenAll(callers);

        // A request object is created only when the pool is empty, i.e. when every object is still in flight: each caller
        // reads its result (returning the object) before it sends its next request, so 8 callers need at most 8.
        Assert.InRange(batcher.RequestsCreated, 1, 8);
        Assert.Contains(Batches(), b => b.Length == 4); // the 8 queued first requests left in full batches
    }

    [Fact]
    public async Task Enqueue_StaleValueTaskOfARecycledRequest_CannotReadTheNextCallersResult()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        ValueTask<BatchOutcome> queued = batcher.Enqueue([Tensor(2)], null, InferencePriority.Normal, default, _time.GetTimestamp(), CancellationToken.None);
        ValueTask<BatchOutcome> stale = queued; // a copy of the same (source, version)
        _gate.Set();
        await first;
        Assert.Equal(TestModels.GemmReluReference(Input(2)), Floats(await queued)); // read once: the request goes back to the pool

        // The recycled request serves the next queued caller; the stale copy of the first must fail, not read that result.
        await batcher.WhenIdleAsync();
        Task<BatchOutcome> blocker = await StartBlockedAsync(batcher, Tensor(3));
        ValueTask<BatchOutcome> next = batcher.Enqueue([Tensor(4)], null, InferencePriority.Normal, default, _time.GetTimestamp(), CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await stale);
        _gate.Set();
        await blocker;
        Assert.Equal(TestModels.GemmReluReference(Input(4)), Floats(await next));
        Assert.Equal(1, batcher.RequestsCreated); // the second queued request reused the first one's object
    }

    [Fact]
    public async Task Enqueue_ResultsOfAnEarlierBatch_AreNotOverwrittenByLaterBatches()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxBatchSize = 4, MaxQueueDelay = TimeSpan.FromHours(1) });
        var kept = new List<(int Seed, BatchOutcome Outcome)>();
        for (int round = 0; round < 3; round++)
        {
            Task<BatchOutcome> first = await StartBlockedAsync(batcher, Tensor(round * 10 + 1));
            var queued = new List<(int, Task<BatchOutcome>)>();
            for (int i = 2; i <= 5; i++)
            {
                queued.Add((round * 10 + i, Enqueue(batcher, round * 10 + i)));
            }

            _gate.Set();
            await first;
            foreach ((int seed, Task<BatchOutcome> task) in queued)
            {
                kept.Add((seed, await task));
            }

            await batcher.WhenIdleAsync();
        }

        Assert.Contains(kept, k => k.Outcome.BatchSize == 4);

        // Every result the callers own still holds its own rows after the batches (and pooled buffers) that followed.
        foreach ((int seed, BatchOutcome outcome) in kept)
        {
            Assert.Equal(TestModels.GemmReluReference(Input(seed)), Floats(outcome));
        }
    }

    [Fact]
    public async Task Enqueue_CancelledAmongPooledRequests_NeverGetsAResultAndTheOthersDo()
    {
        DynamicBatcher batcher = Create(new BatchingOptions { MaxQueueDelay = TimeSpan.FromHours(1) });
        Task<BatchOutcome> first = await StartBlockedAsync(batcher);
        using var cts = new CancellationTokenSource();
        ValueTask<BatchOutcome> before = batcher.Enqueue([Tensor(2)], null, InferencePriority.Normal, default, _time.GetTimestamp(), CancellationToken.None);
        Task<BatchOutcome> cancelled = batcher.EnqueueAsync([Tensor(3)], null, InferencePriority.Normal, default, cts.Token);
        ValueTask<BatchOutcome> after = batcher.Enqueue([Tensor(4)], null, InferencePriority.Normal, default, _time.GetTimestamp(), CancellationToken.None);

        await cts.CancelAsync();
        _gate.Set();
        await first;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.True(cancelled.IsCanceled);
        Assert.Equal(TestModels.GemmReluReference(Input(2)), Floats(await before));
        Assert.Equal(TestModels.GemmReluReference(Input(4)), Floats(await after));
        Assert.Equal([[1], [1, 1]], Batches()); // the cancelled request never reached the engine
    }

    private readonly List<float[]> _order = [];
    private bool _holdFirstRunOnly;
    private int _runs;

    private DynamicBatcher Create(BatchingOptions options, OnnxRuntimeInferenceSession? session = null)
    {
        OnnxRuntimeInferenceSession target = session ?? _session;
        return new DynamicBatcher("gemm", target.Signature, inputs =>
        {
            _entered.Release();
            if (!_holdFirstRunOnly || Interlocked.Increment(ref _runs) == 1)
            {
                _gate.Wait();
            }

            lock (_batches)
            {
                _batches.Add([.. Enumerable.Repeat(1, (int)inputs[0].Shape[0])]);
            }

            lock (_order)
            {
                _order.Add(((Tensor<float>)inputs[0]).Span.ToArray());
            }

            return target.RunOrdered(inputs);
        }, options, _time, _factory.Metrics, []);
    }

    /// <summary>Starts a first request on another thread and waits until it is inside the engine, held by the gate.</summary>
    private async Task<Task<BatchOutcome>> StartBlockedAsync(DynamicBatcher batcher, Tensor? input = null)
    {
        _gate.Reset();
        while (_entered.Wait(0))
        {
            // Forget the entries of earlier runs: wait for this request's.
        }

        Tensor first = input ?? Tensor(1);
        Task<BatchOutcome> task = Task.Run(() => batcher.EnqueueAsync([first], null, InferencePriority.Normal, default, CancellationToken.None));
        Assert.True(await _entered.WaitAsync(TimeSpan.FromSeconds(30)));
        return task;
    }

    private int[][] Batches()
    {
        lock (_batches)
        {
            return [.. _batches];
        }
    }

    private Task<BatchOutcome> Enqueue(DynamicBatcher batcher, int seed) =>
        batcher.EnqueueAsync([Tensor(seed)], null, InferencePriority.Normal, default, CancellationToken.None);

    private static float[] Input(int seed) => [seed, -seed * 0.5f, 0.25f * seed];

    private static float[] Floats(BatchOutcome outcome) => ((Tensor<float>)outcome.Outputs[0].Value).Span.ToArray();

    private static Tensor<float> Tensor(int seed) => ModelKit.Serving.Tensor.Create<float>(Input(seed), 1, 3);

    private static Tensor<T> Tensor<T>(T[] data, params long[] shape)
        where T : unmanaged => ModelKit.Serving.Tensor.Create<T>(data, shape);
}
