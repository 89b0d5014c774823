using Google.Protobuf;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Training.Distributed;

namespace ModelKit.Training.Tests.Distributed;

/// <summary>Two ranks on 127.0.0.1 (tasks of this process, each with its own c10d Gloo group over a TCPStore).</summary>
public sealed class DataParallelTrainingTests
{
    [Fact]
    public async Task TwoRanks_FullBatchSteps_LossSequenceEqualsSingleProcessWithin1e5()
    {
        // Global batch = the whole set: each epoch is one step on the same 48 samples, split 24 + 24 over the ranks.
        TrainingJob job = TestRanks.BlobsJob(samples: 48, batch: 48, epochs: 6);

        var ranks = await TestRanks.RunAsync(job, world: 2);
        var single = await TestRanks.RunSingleAsync(job);

        Assert.Equal(6, single.Epochs.Count);
        for (int e = 0; e < 6; e++)
        {
            Assert.Equal(single.Epochs[e].TrainLoss, ranks[0].Epochs[e].TrainLoss, 1e-5);
            Assert.Equal(ranks[0].Epochs[e].TrainLoss, ranks[1].Epochs[e].TrainLoss);
        }

        Assert.True(single.Epochs[^1].TrainLoss < single.Epochs[0].TrainLoss - 0.1, "the runs must actually train");
    }

    [Fact]
    public async Task TwoRanks_AfterSeveralSteps_HoldBitIdenticalParameters_CloseToSingleProcess()
    {
        TrainingJob job = TestRanks.BlobsJob(samples: 96, batch: 16, epochs: 2);

        var ranks = await TestRanks.RunAsync(job, world: 2);
        var single = await TestRanks.RunSingleAsync(job);

        Assert.Equal(2, ranks[0].Result.WorldSize);
        Assert.Equal(ranks[0].Result.RunId, ranks[1].Result.RunId);
        Dictionary<string, float[]> rank0 = Initializers(ranks[0].Result.OnnxModel);
        Dictionary<string, float[]> rank1 = Initializers(ranks[1].Result.OnnxModel);
        Dictionary<string, float[]> alone = Initializers(single.Result.OnnxModel);
        Assert.Equal(rank0.Keys, rank1.Keys);
        foreach ((string name, float[] values) in rank0)
        {
            Assert.Equal(values, rank1[name]); // bit-identical on every rank
            for (int i = 0; i < values.Length; i++)
            {
                Assert.Equal(alone[name][i], values[i], 1e-4f);
            }
        }

        Assert.Equal("2", ranks[0].Result.Parameters["world_size"]);
        Assert.True(ranks[0].Epochs[0].AllReduceWait >= TimeSpan.Zero);
    }

    [Fact]
    public async Task TwoRanks_ValidationAccuracy_IsTheSameOnEveryRank()
    {
        TrainingJob job = TestRanks.BlobsJob(samples: 96, batch: 32, epochs: 2) with { Validation = TestTorch.Blobs(31, seed: 8, name: "validation") };

        var ranks = await TestRanks.RunAsync(job, world: 2);

        Assert.Equal(ranks[0].Epochs[^1].ValidationAccuracy, ranks[1].Epochs[^1].ValidationAccuracy);
        Assert.InRange(ranks[0].Epochs[^1].ValidationAccuracy, 0.9, 1.0);
    }

    [Fact]
    public async Task RankThatNeverTakesPart_MakesTheOtherFailWithinTheTimeout_NamingOperationRankAndTimeout()
    {
        int port = TestRanks.FreePort();
        TrainingJob job = TestRanks.BlobsJob(samples: 48, batch: 16, epochs: 1) with { Distributed = TestRanks.Settings(port, 0, 2, timeoutSeconds: 2) };
        using var joined = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Task silent = Task.Run(() =>
        {
            // Rank 1 joins the group, then hangs: it never runs a collective.
            using ProcessGroup group = ProcessGroup.Join(TestRanks.Settings(port, 1, 2, timeoutSeconds: 2));
            joined.Set();
            release.Wait(TimeSpan.FromSeconds(60));
        });

        var ex = await Assert.ThrowsAsync<NativeEngineException>(() => TestTorch.Trainer.TrainAsync(job));
        release.Set();
        await silent;

        Assert.True(joined.IsSet);
        Assert.Contains("failed on rank 0 of 2 (collective timeout 2.0 s)", ex.Message, StringComparison.Ordinal);
        Assert.Matches("(broadcast|all-reduce)", ex.Message);
    }

    [Fact]
    public async Task RankThatLeaves_MakesTheOtherFailWithAClearError()
    {
        int port = TestRanks.FreePort();
        TrainingJob job = TestRanks.BlobsJob(samples: 48, batch: 16, epochs: 1) with { Distributed = TestRanks.Settings(port, 0, 2, timeoutSeconds: 20) };
        Task leaver = Task.Run(() =>
        {
            ProcessGroup group = ProcessGroup.Join(TestRanks.Settings(port, 1, 2, timeoutSeconds: 20));
            group.Dispose(); // closes its connections, as a killed process would
        });

        var ex = await Assert.ThrowsAsync<NativeEngineException>(() => TestTorch.Trainer.TrainAsync(job));
        await leaver;

        Assert.Contains("on rank 0 of 2 (collective timeout 20.0 s)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Another rank has probably exited", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PortInUse_RankZeroFailsSayingSo()
    {
        using var occupied = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        occupied.Start();
        int port = ((System.Net.IPEndPoint)occupied.LocalEndpoint).Port;
        TrainingJob job = TestRanks.BlobsJob(samples: 48, batch: 16, epochs: 1) with { Distributed = TestRanks.Settings(port, 0, 2, timeoutSeconds: 5) };

        var ex = await Assert.ThrowsAsync<NativeEngineException>(() => TestTorch.Trainer.TrainAsync(job));

        Assert.Contains($"could not host the rendezvous TCPStore at 127.0.0.1:{port} as rank 0 of 2: the port is already in use", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GlobalBatchNotDivisibleByWorldSize_IsRejectedBeforeJoining()
    {
        TrainingJob job = TestRanks.BlobsJob(samples: 48, batch: 15, epochs: 1) with { Distributed = TestRanks.Settings(1, 0, 2) };

        var ex = Assert.Throws<ArgumentException>(() => { _ = TestTorch.Trainer.TrainAsync(job); });

        Assert.Contains("BatchSize 15 (the global batch) does not divide over 2 ranks", ex.Message, StringComparison.Ordinal);
    }

    internal static Dictionary<string, float[]> Initializers(byte[] onnx)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(OnnxModel.Load(onnx).ToArray());
        var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (TensorProto t in model.Graph.Initializer)
        {
            byte[] raw = t.RawData.ToByteArray();
            float[] values = new float[raw.Length / 4];
            Buffer.BlockCopy(raw, 0, values, 0, raw.Length);
            result[t.Name] = values;
        }

        return result;
    }
}
