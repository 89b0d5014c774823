using ModelKit.Training.Tests.Distributed;

namespace ModelKit.Training.Tests.Checkpoints;

/// <summary>Checkpoints written by the trainer and exact resume (bit for bit) from them.</summary>
public sealed class CheckpointResumeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "mk-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    // BatchNorm (buffers), dropout (random masks) and Adam (optimizer state): everything a resume must restore.
    private static LayerSpec[] Layers() => [new LinearLayer(4, 16), new BatchNorm1dLayer(16), new ReluLayer(), new DropoutLayer(0.2), new LinearLayer(16, 3)];

    private TrainingJob Job(string name, int epochs, bool resume, int everySteps = 2) =>
        TestRanks.BlobsJob(samples: 90, batch: 16, epochs: epochs, layers: Layers()) with
        {
            Options = TestRanks.BlobsJob(90, 16, epochs).Options with { Optimizer = OptimizerKind.Adam, Momentum = 0, LearningRate = 0.01 },
            Checkpoints = new CheckpointOptions(Path.Combine(_root, name)) { EverySteps = everySteps, KeepLast = 100, Resume = resume },
        };

    [Fact]
    public async Task Resume_MidEpoch_ContinuesBitForBitLikeAnUninterruptedRun()
    {
        var full = await TestRanks.RunSingleAsync(Job("full", epochs: 3, resume: false));

        // "Crash" after optimizer step 8 (in epoch 2): keep only the checkpoints up to it, then resume.
        string crashed = Path.Combine(_root, "crashed");
        Directory.CreateDirectory(crashed);
        string[] files = Directory.GetFiles(Path.Combine(_root, "full"), "checkpoint-*.mkckpt").Order(StringComparer.Ordinal).ToArray();
        string kept = files.First(f => Path.GetFileName(f).StartsWith("checkpoint-000000000008", StringComparison.Ordinal));
        Assert.Contains("-e1b2.mkckpt", kept, StringComparison.Ordinal); // epoch index 1 (the second), next batch 2: mid-epoch
        foreach (string f in files.Where(f => string.CompareOrdinal(f, kept) <= 0))
        {
            File.Copy(f, Path.Combine(crashed, Path.GetFileName(f)));
        }

        var resumed = await TestRanks.RunSingleAsync(Job("crashed", epochs: 3, resume: true));

        Assert.Equal(1, resumed.Result.ResumedFromEpoch);
        Assert.Equal([2, 3], resumed.Epochs.Select(e => e.Epoch));
        Assert.Equal(full.Epochs[1].TrainLoss, resumed.Epochs[0].TrainLoss); // bit for bit, the partial epoch included
        Assert.Equal(full.Epochs[2].TrainLoss, resumed.Epochs[1].TrainLoss);
        Assert.Equal(full.Result.RunId, resumed.Result.RunId);
        Assert.Equal(full.Result.OnnxModel, resumed.Result.OnnxModel);
    }

    [Fact]
    public async Task Checkpoints_KeepOnlyTheNewestK_AndLeaveNoTemporaryFiles()
    {
        TrainingJob job = Job("keep", epochs: 2, resume: false) with { Checkpoints = new CheckpointOptions(Path.Combine(_root, "keep")) { EverySteps = 1, KeepLast = 2 } };

        await TestRanks.RunSingleAsync(job);

        string[] files = Directory.GetFiles(Path.Combine(_root, "keep"));
        Assert.Equal(2, files.Length);
        Assert.All(files, f => Assert.EndsWith(".mkckpt", f, StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("-e2b0.mkckpt", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Resume_FromCorruptedCheckpoint_ThrowsNamingTheFile()
    {
        await TestRanks.RunSingleAsync(Job("corrupt", epochs: 1, resume: false));
        string latest = Directory.GetFiles(Path.Combine(_root, "corrupt")).Order(StringComparer.Ordinal).Last();
        byte[] bytes = await File.ReadAllBytesAsync(latest);
        bytes[^10] ^= 0x5A;
        await File.WriteAllBytesAsync(latest, bytes);

        var ex = await Assert.ThrowsAsync<ModelKitException>(() => TestRanks.RunSingleAsync(Job("corrupt", epochs: 2, resume: true)));

        Assert.Contains($"Checkpoint '{latest}' cannot be read: its payload does not match the SHA-256 in its header", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_WithAnotherModelSpec_ThrowsSayingSo()
    {
        await TestRanks.RunSingleAsync(Job("spec", epochs: 1, resume: false));
        TrainingJob other = Job("spec", epochs: 2, resume: true) with
        {
            Model = new ModelSpec([new LinearLayer(4, 8), new ReluLayer(), new LinearLayer(8, 3)], TestTorch.Input4),
        };

        var ex = await Assert.ThrowsAsync<ModelKitException>(() => TestRanks.RunSingleAsync(other));

        Assert.Contains("was written for another model spec", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Resume_OfATwoRankRun_ContinuesLikeTheUninterruptedTwoRankRun()
    {
        TrainingJob Make(string name, int epochs, bool resume) =>
            TestRanks.BlobsJob(samples: 96, batch: 16, epochs: epochs) with { Checkpoints = new CheckpointOptions(Path.Combine(_root, name)) { Resume = resume } };

        var full = await TestRanks.RunAsync(Make("ddp-full", 3, false), world: 2);
        await TestRanks.RunAsync(Make("ddp-part", 2, false), world: 2);
        var resumed = await TestRanks.RunAsync(Make("ddp-part", 3, true), world: 2);

        Assert.All(resumed, r => Assert.Equal(2, r.Result.ResumedFromEpoch));
        Assert.Equal(full[0].Epochs[2].TrainLoss, resumed[0].Epochs.Single().TrainLoss, 1e-6);
        Assert.Equal(resumed[0].Result.OnnxModel.Length, resumed[1].Result.OnnxModel.Length);
        Assert.Equal(DataParallelTrainingTests.Initializers(resumed[0].Result.OnnxModel)["2.weight"], DataParallelTrainingTests.Initializers(resumed[1].Result.OnnxModel)["2.weight"]);
    }
}
