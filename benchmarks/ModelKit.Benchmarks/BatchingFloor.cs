using System.Diagnostics;
using System.Globalization;
using System.Threading.Tasks.Sources;

namespace ModelKit.Benchmarks;

/// <summary>
/// The floor under <see cref="DynamicBatchingBenchmarks"/>: what the bare mechanism of any in-process async batcher costs per
/// request on this machine, with no engine, no validation, no model look-up, no result objects and no metrics. 64 callers
/// (async methods, as in the suite) each send one request at a time: it is a pooled <see cref="IValueTaskSource{TResult}"/>
/// queued under a lock; 2 worker threads take batches of 32, optionally copy each request's 3,136 bytes (one 28×28 float
/// image) into a batch buffer, "run" the batch by spinning for a fixed time that stands in for ONNX Runtime, and complete
/// the requests with their continuations inline (the callers re-enqueue on the worker's thread, as in ModelKit's batcher).
/// Each caller, like the suite's, takes its next request from a shared countdown and reads the clock twice per request.
/// CPU per request minus the spin's share (spin / 32) is the mechanism's floor.
/// <c>dotnet ModelKit.Benchmarks.dll batching-floor [SPIN_NS] [COPY_BYTES]</c>.
/// </summary>
internal static class BatchingFloor
{
    public static void Run(int spinNs, int copyBytes)
    {
        const int Callers = 64;
        const int BatchSize = 32;
        const int Requests = 1 << 20;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{Callers} callers, batches of {BatchSize}, 2 workers, spin {spinNs} ns per batch ({spinNs / (double)BatchSize:F0} ns per request), copy {copyBytes} B per request"));
        for (int round = 0; round < 6; round++)
        {
            using var floor = new Mechanism(BatchSize, spinNs, copyBytes);
            TimeSpan cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            long start = Stopwatch.GetTimestamp();
            floor.Run(Callers, Requests);
            double wallNs = Stopwatch.GetElapsedTime(start).TotalNanoseconds / Requests;
            double cpuNs = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalNanoseconds / Requests;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {round}: {wallNs:F0} ns wall, {cpuNs:F0} ns CPU per request; CPU minus the spin's share {cpuNs - (spinNs / (double)BatchSize):F0} ns"));
        }
    }

    private sealed class Request : IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public short Version => _core.Version;

        public void Reset() => _core.Reset();

        public void Succeed() => _core.SetResult(1);

        public int GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }

    private sealed class Mechanism(int batchSize, int spinNs, int copyBytes) : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly Queue<Request> _queue = new();
        private readonly SemaphoreSlim _full = new(0);
        private readonly byte[] _image = new byte[Math.Max(copyBytes, 1)];
        private readonly byte[][] _batchInputs = [new byte[Math.Max(copyBytes, 1) * batchSize], new byte[Math.Max(copyBytes, 1) * batchSize]];
        private int _remaining;
        private volatile bool _stopping;

        public void Run(int callers, int requests)
        {
            _remaining = requests;
            var workers = new Thread[2];
            for (int w = 0; w < workers.Length; w++)
            {
                int worker = w;
                workers[w] = new Thread(() => Work(worker)) { IsBackground = true };
                workers[w].Start();
            }

            var tasks = new Task[callers];
            for (int c = 0; c < callers; c++)
            {
                tasks[c] = Task.Run(CallAsync);
            }

            Task.WaitAll(tasks);
            _stopping = true;
            _full.Release(workers.Length);
            foreach (Thread worker in workers)
            {
                worker.Join();
            }
        }

        public void Dispose() => _full.Dispose();

        private async Task CallAsync()
        {
            var request = new Request();
            while (Interlocked.Decrement(ref _remaining) >= 0)
            {
                long sent = Stopwatch.GetTimestamp();
                request.Reset();
                var pending = new ValueTask<int>(request, request.Version);
                bool full;
                lock (_gate)
                {
                    _queue.Enqueue(request);
                    full = _queue.Count == batchSize;
                }

                if (full)
                {
                    _full.Release();
                }

                await pending.ConfigureAwait(false);
                _ = Stopwatch.GetElapsedTime(sent);
            }
        }

        private void Work(int worker)
        {
            var batch = new List<Request>(batchSize);
            while (!_stopping)
            {
                lock (_gate)
                {
                    if (_queue.Count >= batchSize)
                    {
                        for (int i = 0; i < batchSize; i++)
                        {
                            batch.Add(_queue.Dequeue());
                        }
                    }
                }

                if (batch.Count == 0)
                {
                    _full.Wait(1);
                    continue;
                }

                if (copyBytes > 0)
                {
                    for (int i = 0; i < batch.Count; i++)
                    {
                        _image.AsSpan(0, copyBytes).CopyTo(_batchInputs[worker].AsSpan(i * copyBytes));
                    }
                }

                long end = Stopwatch.GetTimestamp() + (spinNs * Stopwatch.Frequency / 1_000_000_000);
                while (Stopwatch.GetTimestamp() < end)
                {
                }

                foreach (Request request in batch)
                {
                    request.Succeed();
                }

                batch.Clear();
            }
        }
    }
}
