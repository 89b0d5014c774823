using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using Microsoft.ML.OnnxRuntime;
using ModelKit.Registry;

namespace ModelKit.Serving.Tests;

public sealed class OnnxRuntimeSessionPoolTests
{
    [Fact]
    public async Task RunAsync_ConcurrentRequestsThroughTheBatcher_EqualADirectOnnxRuntimeRunBitForBit()
    {
        await using var host = new ServingHost(o => o.Batching.MaxQueueDelay = TimeSpan.FromMilliseconds(1));
        byte[] model = TestModels.GemmRelu();
        await host.RegisterAsync("gemm", model, "production");
        var reference = ModelReference.Parse("gemm@production");
        using var direct = new InferenceSession(model);
        var random = new Random(7);
        float[][] inputs = [.. Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, 3 * (1 + random.Next(3))).Select(_ => (float)random.NextDouble() * 8 - 4).ToArray())];

        InferenceResult[] results = await Task.WhenAll(inputs.Select(x => Task.Run(() => host.Pool.RunAsync(reference, [TestModels.Float("input", x, x.Length / 3, 3)]).AsTask())));

        for (int i = 0; i < inputs.Length; i++)
        {
            using OrtValue value = OrtValue.CreateTensorValueFromMemory(inputs[i], [inputs[i].Length / 3, 3]);
            using IDisposableReadOnlyCollection<OrtValue> expected = direct.Run(new RunOptions(), ["input"], [value], ["output"]);
            Assert.Equal(expected[0].GetTensorDataAsSpan<float>().ToArray(), ((Tensor<float>)results[i].Outputs[0].Value).Span.ToArray());
            Assert.Equal(1, results[i].ModelVersion.Version);
            Assert.Equal("cpu", results[i].ExecutionProvider);
        }
    }

    [Theory]
    [InlineData(TensorElementType.Float)]
    [InlineData(TensorElementType.Float16)]
    [InlineData(TensorElementType.BFloat16)]
    [InlineData(TensorElementType.Double)]
    [InlineData(TensorElementType.Int8)]
    [InlineData(TensorElementType.Int16)]
    [InlineData(TensorElementType.Int32)]
    [InlineData(TensorElementType.Int64)]
    [InlineData(TensorElementType.UInt8)]
    [InlineData(TensorElementType.UInt16)]
    [InlineData(TensorElementType.UInt32)]
    [InlineData(TensorElementType.UInt64)]
    [InlineData(TensorElementType.Bool)]
    [InlineData(TensorElementType.String)]
    public async Task RunAsync_IdentityOfEveryElementType_RoundTripsExactlyBatchedAndAlone(TensorElementType elementType)
    {
        await using var host = new ServingHost();
        await host.RegisterAsync("identity", PoolTestModels.Identity(elementType));
        var reference = ModelReference.Parse("identity");

        Tensor[] inputs = [.. Enumerable.Range(0, 8).Select(i => Make(elementType, i))];
        InferenceResult[] results = await Task.WhenAll(inputs.Select(t => Task.Run(() => host.Pool.RunAsync(reference, [new NamedTensor("x", t)]).AsTask())));

        for (int i = 0; i < inputs.Length; i++)
        {
            Tensor output = results[i].Outputs[0].Value;
            Assert.Equal(elementType, output.ElementType);
            Assert.Equal(inputs[i].Shape.ToArray(), output.Shape.ToArray());
            if (elementType == TensorElementType.String)
            {
                Assert.Equal(((StringTensor)inputs[i]).Span.ToArray(), ((StringTensor)output).Span.ToArray());
            }
            else
            {
                Assert.Equal(inputs[i].Bytes.ToArray(), output.Bytes.ToArray());
            }
        }
    }

    [Fact]
    public async Task RunAsync_HundredAliasFlipsUnderSixteenCallers_NoFailureEveryResultMatchesItsVersionAndOneGenerationRemains()
    {
        await using var host = new ServingHost(o => o.Batching.MaxQueueDelay = TimeSpan.FromMilliseconds(1));
        ModelVersion v1 = await host.RegisterAsync("scale", PoolTestModels.Scale(2f), "production");
        ModelVersion v2 = await host.RegisterAsync("scale", PoolTestModels.Scale(3f));
        var reference = ModelReference.Parse("scale@production");
        await host.Pool.RunAsync(reference, [TestModels.Float("x", PoolTestModels.Row(1), 1, 3)]);
        using var stop = new CancellationTokenSource();
        int failures = 0;
        long answered = 0;
        var byVersion = new int[3];

        Task[] callers = [.. Enumerable.Range(0, 16).Select(c => Task.Run(async () =>
        {
            int i = 0;
            while (!stop.IsCancellationRequested)
            {
                float[] x = PoolTestModels.Row(c * 1000 + i++);
                try
                {
                    InferenceResult result = await host.Pool.RunAsync(reference, [TestModels.Float("x", x, 1, 3)]);
                    float factor = result.ModelVersion.Version == 1 ? 2f : 3f;
                    if (!((Tensor<float>)result.Outputs[0].Value).Span.SequenceEqual(x.Select(v => v * factor).ToArray()))
                    {
                        Interlocked.Increment(ref failures);
                    }

                    Interlocked.Increment(ref byVersion[result.ModelVersion.Version]);
                    Interlocked.Increment(ref answered);
                }
                catch (Exception)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }))];

        for (int flip = 0; flip < 100; flip++)
        {
            int target = flip % 2 == 0 ? v2.Version : v1.Version;
            await host.Registry.SetAliasAsync("scale", "production", target);
            ModelVersion serving = await host.Pool.ReloadAsync(reference);
            Assert.Equal(target, serving.Version);
            await Task.Delay(1);
        }

        await stop.CancelAsync();
        await Task.WhenAll(callers);

        Assert.Equal(0, failures);
        Assert.True(answered > 100, $"only {answered} requests were answered");
        Assert.True(byVersion[1] > 0 && byVersion[2] > 0, $"answers by version: v1 {byVersion[1]}, v2 {byVersion[2]}");
        Assert.Equal(1, host.Pool.ServingGenerationCount);
        Assert.Equal(1, host.Pool.LiveGenerationCount);
        Assert.Equal(1, Assert.Single(host.Pool.GetLoadedModels()).Version.Version);
    }

    [Fact]
    public async Task Polling_AliasMoves_NewVersionServesAfterTheIntervalElapses()
    {
        var time = new FakeTimeProvider();
        await using var host = new ServingHost(o => o.ReloadPollInterval = TimeSpan.FromSeconds(10), time);
        await host.RegisterAsync("scale", PoolTestModels.Scale(2f), "production");
        ModelVersion v2 = await host.RegisterAsync("scale", PoolTestModels.Scale(3f));
        var reference = ModelReference.Parse("scale@production");
        Assert.Equal(1, (await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)])).ModelVersion.Version);

        await host.Registry.SetAliasAsync("scale", "production", v2.Version);
        Assert.Equal(1, (await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)])).ModelVersion.Version);
        time.Advance(TimeSpan.FromSeconds(10));

        InferenceResult result = await WaitUntilAsync(host, reference, r => r.ModelVersion.Version == 2);
        Assert.Equal([3f, 3f, 3f], ((Tensor<float>)result.Outputs[0].Value).Span.ToArray());
    }

    [Fact]
    public async Task RegistryNotifications_AliasMovesWithPollingOff_NewVersionServesWithoutAPoll()
    {
        // Polling is off, so only the registry's change feed (SQLite data_version) can move the pool to version 2.
        await using var host = new ServingHost(o =>
        {
            o.ReloadPollInterval = TimeSpan.Zero;
            o.UseRegistryNotifications = true;
        });
        await host.RegisterAsync("scale", PoolTestModels.Scale(2f), "production");
        ModelVersion v2 = await host.RegisterAsync("scale", PoolTestModels.Scale(3f));
        var reference = ModelReference.Parse("scale@production");
        Assert.Equal(1, (await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)])).ModelVersion.Version);

        await host.Registry.SetAliasAsync("scale", "production", v2.Version);

        InferenceResult result = await WaitUntilAsync(host, reference, r => r.ModelVersion.Version == 2);
        Assert.Equal([3f, 3f, 3f], ((Tensor<float>)result.Outputs[0].Value).Span.ToArray());
    }

    [Fact]
    public async Task ReloadAsync_NewVersionFailsWarmUp_OldGenerationKeepsServingAndTheFailureIsCounted()
    {
        using var meters = new ScopedMeterFactory();
        await using var host = new ServingHost(meterFactory: meters);
        await host.RegisterAsync("scale", PoolTestModels.Scale(2f), "production");
        ModelVersion broken = await host.RegisterAsync("scale", PoolTestModels.FailsOnWarmUp());
        var reference = ModelReference.Parse("scale@production");
        await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)]);
        long failures = 0;
        using var listener = Listen(meters, "modelkit.serving.model.load.failures", v => Interlocked.Add(ref failures, v));

        await host.Registry.SetAliasAsync("scale", "production", broken.Version);
        await Assert.ThrowsAsync<NativeEngineException>(() => host.Pool.ReloadAsync(reference));

        InferenceResult result = await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 2f, 3f], 1, 3)]);
        Assert.Equal(1, result.ModelVersion.Version);
        Assert.Equal([2f, 4f, 6f], ((Tensor<float>)result.Outputs[0].Value).Span.ToArray());
        Assert.Equal(1, failures);
    }

    [Fact]
    public async Task RollbackAsync_AfterReload_ServesThePreviousVersionAndStaysPinned()
    {
        await using var host = new ServingHost();
        await host.RegisterAsync("scale", PoolTestModels.Scale(2f), "production");
        ModelVersion v2 = await host.RegisterAsync("scale", PoolTestModels.Scale(3f));
        var reference = ModelReference.Parse("scale@production");
        await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)]);
        await host.Registry.SetAliasAsync("scale", "production", v2.Version);
        Assert.Equal(2, (await host.Pool.ReloadAsync(reference)).Version);

        Assert.Equal(1, (await host.Pool.RollbackAsync(reference)).Version);
        await host.Pool.CheckForChangesAsync();

        Assert.Equal(1, (await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)])).ModelVersion.Version);
        Assert.Equal(2, (await host.Pool.ReloadAsync(reference)).Version);
    }

    [Fact]
    public async Task AcquireAsync_BudgetOfTwoModels_UnloadsTheLeastRecentlyUsed()
    {
        var time = new FakeTimeProvider();
        await using var host = new ServingHost(o => o.MaxLoadedModels = 2, time);
        foreach (string name in new[] { "a", "b", "c" })
        {
            await host.RegisterAsync(name, PoolTestModels.Scale(2f));
        }

        using (await host.Pool.AcquireAsync(ModelReference.Parse("a")))
        {
        }

        time.Advance(TimeSpan.FromSeconds(1));
        using (await host.Pool.AcquireAsync(ModelReference.Parse("b")))
        {
        }

        time.Advance(TimeSpan.FromSeconds(1));
        using (await host.Pool.AcquireAsync(ModelReference.Parse("a")))
        {
        }

        time.Advance(TimeSpan.FromSeconds(1));
        using (await host.Pool.AcquireAsync(ModelReference.Parse("c")))
        {
        }

        Assert.Equal(["a", "c"], host.Pool.GetLoadedModels().Select(m => m.Reference).ToArray());
        Assert.Equal(2, host.Pool.LiveGenerationCount);
    }

    [Fact]
    public async Task AcquireAsync_SixteenConcurrentFirstRequests_ShareOneLoad()
    {
        using var meters = new ScopedMeterFactory();
        await using var host = new ServingHost(meterFactory: meters);
        await host.RegisterAsync("gemm", TestModels.GemmRelu(), "production");
        long loads = 0;
        using var listener = Listen(meters, "modelkit.serving.model.loads", v => Interlocked.Add(ref loads, v));

        IInferenceSessionLease[] leases = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () => await host.Pool.AcquireAsync(ModelReference.Parse("gemm@production")))));

        Assert.Equal(1, loads);
        Assert.Single(leases.Select(l => l.Session).Distinct());
        foreach (IInferenceSessionLease lease in leases)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task DisposeAsync_WhileALeaseIsHeld_SessionStaysUsableUntilTheLeaseIsReleased()
    {
        var host = new ServingHost();
        await host.RegisterAsync("gemm", TestModels.GemmRelu());
        IInferenceSessionLease lease = await host.Pool.AcquireAsync(ModelReference.Parse("gemm"));

        await host.Pool.DisposeAsync();

        var output = (Tensor<float>)lease.Session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)])[0].Value;
        Assert.Equal([0f, 5.25f], output.Span.ToArray());
        IInferenceSession session = lease.Session;
        lease.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)]));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await host.Pool.AcquireAsync(ModelReference.Parse("gemm")));
        await host.DisposeAsync();
    }

    [Fact]
    public async Task RunAsync_UnknownModelOrBadInput_ThrowsClearErrorsAndOtherModelsKeepServing()
    {
        await using var host = new ServingHost();
        await host.RegisterAsync("gemm", TestModels.GemmRelu());

        var missing = await Assert.ThrowsAsync<ModelNotFoundException>(() => host.Pool.RunAsync(ModelReference.Parse("nope@production"), [TestModels.Float("input", [1f, 2f, 3f], 1, 3)]).AsTask());
        var badShape = await Assert.ThrowsAsync<InferenceInputException>(() => host.Pool.RunAsync(ModelReference.Parse("gemm"), [TestModels.Float("input", [1f, 2f], 1, 2)]).AsTask());

        Assert.Equal("nope@production", missing.Reference);
        Assert.Equal("Input 'input' has shape [1, 2] but model 'gemm' version 1 expects [-1, 3]. Reshape the input or check the model reference.", badShape.Message);
        InferenceResult ok = await host.Pool.RunAsync(ModelReference.Parse("gemm"), [TestModels.Float("input", [1f, 2f, 3f], 1, 3)]);
        Assert.Equal([0f, 5.25f], ((Tensor<float>)ok.Outputs[0].Value).Span.ToArray());
    }

    [Fact]
    public async Task RunAsync_WithMeterListenerAndObserver_RecordsRequestBatchAndLoadMetricsAndObservesEachRequest()
    {
        using var meters = new ScopedMeterFactory();
        var observer = new ListObserver();
        await using var host = new ServingHost(meterFactory: meters, observer: observer);
        await host.RegisterAsync("gemm", TestModels.GemmRelu());
        var names = new List<(string Name, string? Unit, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meters))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dict = new Dictionary<string, object?>();
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                dict[tag.Key] = tag.Value;
            }

            lock (names)
            {
                names.Add((instrument.Name, instrument.Unit, dict));
            }
        }

        listener.SetMeasurementEventCallback<double>((i, _, t, _) => Record(i, t));
        listener.SetMeasurementEventCallback<long>((i, _, t, _) => Record(i, t));
        listener.SetMeasurementEventCallback<int>((i, _, t, _) => Record(i, t));
        listener.Start();

        await host.Pool.RunAsync(ModelReference.Parse("gemm"), [TestModels.Float("input", [1f, 2f, 3f], 1, 3)]);

        string[] recorded = [.. names.Select(n => n.Name).Distinct().Order()];
        Assert.Subset(recorded.ToHashSet(), new HashSet<string>
        {
            "modelkit.serving.request.duration", "modelkit.serving.queue.duration", "modelkit.serving.run.duration", "modelkit.serving.batch.size",
            "modelkit.serving.model.loads", "modelkit.serving.model.load.duration", "modelkit.serving.models.loaded", "modelkit.inference.duration",
        });
        var request = names.First(n => n.Name == "modelkit.serving.request.duration");
        Assert.Equal("s", request.Unit);
        Assert.Equal("gemm", request.Tags["modelkit.model.name"]);
        Assert.Equal(1, request.Tags["modelkit.model.version"]);
        Assert.Equal("cpu", request.Tags["modelkit.provider"]);
        InferenceObservation observed = Assert.Single(observer.Seen);
        Assert.Equal("gemm", observed.Reference);
        Assert.Equal(1, observed.ModelVersion.Version);
    }

    [Fact]
    public async Task AcquireAsync_TwoReferencesToTheSameVersion_ShareOneLoadedSession()
    {
        await using var host = new ServingHost();
        await host.RegisterAsync("gemm", TestModels.GemmRelu(), "production");

        using IInferenceSessionLease byAlias = await host.Pool.AcquireAsync(ModelReference.Parse("gemm@production"));
        using IInferenceSessionLease byVersion = await host.Pool.AcquireAsync(ModelReference.Parse("models:/gemm/1"));

        Assert.Same(byAlias.Session, byVersion.Session);
        Assert.Equal(1, host.Pool.ServingGenerationCount);
        Assert.Equal(["gemm/1", "gemm@production"], host.Pool.GetLoadedModels().Select(m => m.Reference).ToArray());
    }

    [Fact]
    public async Task RunAsync_PerModelBatchingDisabled_RunsEachRequestAlone()
    {
        await using var host = new ServingHost(o => o.Models["gemm"] = new ModelServingOptions { Batching = new BatchingOptions { Enabled = false }, WarmUp = false });
        await host.RegisterAsync("gemm", TestModels.GemmRelu());

        InferenceResult[] results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => host.Pool.RunAsync(ModelReference.Parse("gemm"), [TestModels.Float("input", [i, 1f, 2f], 1, 3)]).AsTask())));

        Assert.All(results, r => Assert.Equal(1, r.BatchSize));
        Assert.All(results, r => Assert.Equal(TimeSpan.Zero, r.QueueDuration));
    }

    [Fact]
    public async Task RunAsync_ValueTaskThatCompletedAsynchronously_IsReusedAndAStaleCopyCannotBeReadAgain()
    {
        await using var host = new ServingHost(o => o.Models["gemm"] = new ModelServingOptions { WarmUp = false });
        await host.RegisterAsync("gemm", TestModels.GemmRelu());
        var reference = ModelReference.Parse("gemm");

        // The first request waits for the model's load (on another thread), so its ValueTask completes asynchronously and
        // is backed by a pooled state machine box: read once, the box is reset for reuse and a stale copy must throw.
        float[] x = [1f, 2f, 3f];
        ValueTask<InferenceResult> first = host.Pool.RunAsync(reference, [TestModels.Float("input", x, 1, 3)]);
        ValueTask<InferenceResult> stale = first;
        bool pending = !first.IsCompleted;
        Assert.Equal(TestModels.GemmReluReference(x), ((Tensor<float>)(await first).Outputs[0].Value).Span.ToArray());
        if (pending)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await stale);
        }

        // 16 callers × 20 requests reuse the boxes (and the batcher's pooled requests): each caller still reads its own rows.
        int asynchronous = 0;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(c => Task.Run(async () =>
        {
            for (int r = 0; r < 20; r++)
            {
                float[] row = [c, r, c - r];
                ValueTask<InferenceResult> run = host.Pool.RunAsync(reference, [TestModels.Float("input", row, 1, 3)]);
                if (!run.IsCompleted)
                {
                    Interlocked.Increment(ref asynchronous);
                }

                Assert.Equal(TestModels.GemmReluReference(row), ((Tensor<float>)(await run).Outputs[0].Value).Span.ToArray());
            }
        })));

        Assert.True(pending || asynchronous > 0, "no request completed asynchronously, so no pooled ValueTask was exercised");
    }

    [Fact]
    public async Task RunAsync_HotPath_FailuresGoThroughTheTaskAStaleCopyThrowsAndEveryRequestReleasesItsGeneration()
    {
        await using var host = new ServingHost(o => o.Batching.MaxQueueDelay = TimeSpan.FromMilliseconds(1));
        await host.RegisterAsync("scale", PoolTestModels.Scale(2f), "production");
        ModelVersion v2 = await host.RegisterAsync("scale", PoolTestModels.Scale(3f));
        var reference = ModelReference.Parse("scale@production");
        await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)]);

        // A request the signature refuses (no deadline, no token, no observer: the hot path) fails through its task, not
        // by throwing from the call.
        ValueTask<InferenceResult> refused = default;
        Assert.Null(Record.Exception(() => refused = host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 2f], 1, 2)])));
        var error = await Assert.ThrowsAsync<InferenceInputException>(() => refused.AsTask());
        Assert.Equal("x", error.InputName);

        // 16 callers × at least 50 requests, some of them queued behind a running batch: each answer is the caller's own
        // rows, and a copy of a task that completed asynchronously cannot be read a second time (its pooled request moved on).
        int staleChecked = 0;
        int merged = 0;
        int waited = 0;
        using var start = new Barrier(16);
        await Task.WhenAll(Enumerable.Range(0, 16).Select(c => Task.Factory.StartNew(async () =>
        {
            start.SignalAndWait();
            // Until a few requests have waited for a batch (the callers' threads may start one after another on 2 cores).
            for (int r = 0; r < 50 || (Volatile.Read(ref waited) < 8 && r < 4000); r++)
            {
                float[] x = PoolTestModels.Row((c * 10000) + r);
                ValueTask<InferenceResult> run = host.Pool.RunAsync(reference, [TestModels.Float("x", x, 1, 3)]);
                ValueTask<InferenceResult> copy = run;
                bool pending = !run.IsCompleted;
                InferenceResult result = await run;
                if (result.BatchSize > 1)
                {
                    Interlocked.Increment(ref merged);
                }

                if (pending)
                {
                    Interlocked.Increment(ref waited);
                }

                Assert.Equal(1, result.ModelVersion.Version);
                Assert.Equal(x.Select(v => v * 2f).ToArray(), ((Tensor<float>)result.Outputs[0].Value).Span.ToArray());
                if (pending && Interlocked.Increment(ref staleChecked) <= 3)
                {
                    await Assert.ThrowsAsync<InvalidOperationException>(async () => await copy);
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()));
        Assert.True(staleChecked > 0, $"no request waited for a batch, so the hot path's pooled requests were not exercised ({waited} waited, {merged} merged)");

        // Every request above, the refused one included, gave its reference back: after a reload the old generation is
        // disposed at once, and exactly one generation is left.
        await host.Registry.SetAliasAsync("scale", "production", v2.Version);
        Assert.Equal(2, (await host.Pool.ReloadAsync(reference)).Version);
        Assert.Equal(1, host.Pool.LiveGenerationCount);
        Assert.Equal(2, (await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)])).ModelVersion.Version);
    }

    internal static Tensor Make(TensorElementType type, int seed)
    {
        long rows = 1 + (seed % 3);
        int n = (int)rows * 2;
        return type switch
        {
            TensorElementType.Float => Tensor.Create<float>(Enumerable.Range(0, n).Select(i => (seed * 7 + i) * 0.37f - 3f).ToArray(), rows, 2),
            TensorElementType.Float16 => Tensor.Create<Half>(Enumerable.Range(0, n).Select(i => (Half)((seed + i) * 0.5f)).ToArray(), rows, 2),
            TensorElementType.BFloat16 => Tensor.Create<BFloat16>(Enumerable.Range(0, n).Select(i => (BFloat16)((seed - i) * 1.25f)).ToArray(), rows, 2),
            TensorElementType.Double => Tensor.Create<double>(Enumerable.Range(0, n).Select(i => Math.PI * (seed + i)).ToArray(), rows, 2),
            TensorElementType.Int8 => Tensor.Create<sbyte>(Enumerable.Range(0, n).Select(i => (sbyte)(seed * 13 - i)).ToArray(), rows, 2),
            TensorElementType.Int16 => Tensor.Create<short>(Enumerable.Range(0, n).Select(i => (short)(seed * 1000 - i)).ToArray(), rows, 2),
            TensorElementType.Int32 => Tensor.Create<int>(Enumerable.Range(0, n).Select(i => seed * 100000 - i).ToArray(), rows, 2),
            TensorElementType.Int64 => Tensor.Create<long>(Enumerable.Range(0, n).Select(i => (long)seed << 40 | (long)i).ToArray(), rows, 2),
            TensorElementType.UInt8 => Tensor.Create<byte>(Enumerable.Range(0, n).Select(i => (byte)(seed * 31 + i)).ToArray(), rows, 2),
            TensorElementType.UInt16 => Tensor.Create<ushort>(Enumerable.Range(0, n).Select(i => (ushort)(seed * 4000 + i)).ToArray(), rows, 2),
            TensorElementType.UInt32 => Tensor.Create<uint>(Enumerable.Range(0, n).Select(i => (uint)(seed * 400000 + i)).ToArray(), rows, 2),
            TensorElementType.UInt64 => Tensor.Create<ulong>(Enumerable.Range(0, n).Select(i => ulong.MaxValue - (ulong)(seed * 10 + i)).ToArray(), rows, 2),
            TensorElementType.Bool => Tensor.Create<bool>(Enumerable.Range(0, n).Select(i => (seed + i) % 3 == 0).ToArray(), rows, 2),
            TensorElementType.String => StringTensor.Create(Enumerable.Range(0, n).Select(i => $"s{seed}-{i} é").ToArray(), rows, 2),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
    }

    private static async Task<InferenceResult> WaitUntilAsync(ServingHost host, ModelReference reference, Func<InferenceResult, bool> condition)
    {
        for (int i = 0; i < 600; i++)
        {
            InferenceResult result = await host.Pool.RunAsync(reference, [TestModels.Float("x", [1f, 1f, 1f], 1, 3)]);
            if (condition(result))
            {
                return result;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("The condition was not met within 30 seconds.");
    }

    private static MeterListener Listen(ScopedMeterFactory meters, string name, Action<long> onValue)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meters) && instrument.Name == name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => onValue(value));
        listener.Start();
        return listener;
    }

    private sealed class ListObserver : IInferenceObserver
    {
        public List<InferenceObservation> Seen { get; } = [];

        public void OnInferenceCompleted(InferenceObservation observation)
        {
            lock (Seen)
            {
                Seen.Add(observation);
            }
        }
    }
}
