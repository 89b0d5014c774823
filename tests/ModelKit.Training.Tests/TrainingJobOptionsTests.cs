using ModelKit.Training.Tests.Distributed;

namespace ModelKit.Training.Tests;

/// <summary>Losses, optimizers, schedules, clipping and accumulation of <see cref="ITrainer"/> jobs.</summary>
public sealed class TrainingJobOptionsTests
{
    [Fact]
    public void LearningRateAt_WarmsUpLinearlyThenFollowsTheSchedule()
    {
        var options = new TrainingRunOptions { LearningRate = 0.1, WarmupSteps = 4, Schedule = new StepSchedule(10, 0.5) };
        var cosine = options with { Schedule = new CosineSchedule(0.001) };

        Assert.Equal(0.02, options.LearningRateAt(0, 100), 12);
        Assert.Equal(0.08, options.LearningRateAt(3, 100), 12);
        Assert.Equal(0.1, options.LearningRateAt(4, 100), 12);
        Assert.Equal(0.05, options.LearningRateAt(14, 100), 12);
        Assert.Equal(0.1, cosine.LearningRateAt(4, 104), 12);
        Assert.Equal(0.0505, cosine.LearningRateAt(54, 104), 12);
        Assert.Equal(0.001, cosine.LearningRateAt(104, 104), 12);
    }

    [Fact]
    public async Task AccumulatingTwoHalfBatches_TrainsLikeTheFullBatch()
    {
        TrainingJob full = TestRanks.BlobsJob(samples: 96, batch: 32, epochs: 2) with { Options = TestRanks.BlobsJob(96, 32, 2).Options with { Momentum = 0 } };
        TrainingJob halves = full with { Options = full.Options with { BatchSize = 16, AccumulationSteps = 2 } };

        var a = await TestRanks.RunSingleAsync(full);
        var b = await TestRanks.RunSingleAsync(halves);

        Assert.Equal(a.Epochs[1].TrainLoss, b.Epochs[1].TrainLoss, 1e-5);
        float[] wa = DataParallelTrainingTests.Initializers(a.Result.OnnxModel)["0.weight"];
        float[] wb = DataParallelTrainingTests.Initializers(b.Result.OnnxModel)["0.weight"];
        for (int i = 0; i < wa.Length; i++)
        {
            Assert.Equal(wa[i], wb[i], 1e-5f);
        }
    }

    public static TheoryData<string, TrainingRunOptions> Variants() => new()
    {
        { "sgd nesterov + warm-up + cosine + clipping + smoothing + weights", new TrainingRunOptions { Optimizer = OptimizerKind.Sgd, Momentum = 0.9, Nesterov = true, LearningRate = 0.05, WarmupSteps = 3, Schedule = new CosineSchedule(), MaxGradientNorm = 1.0, Loss = new CrossEntropyLoss(0.1, [1f, 2f, 1f]) } },
        { "adamw + step schedule", new TrainingRunOptions { Optimizer = OptimizerKind.AdamW, WeightDecay = 0.01, LearningRate = 0.01, Schedule = new StepSchedule(5, 0.5) } },
        { "mse on one-hot targets", new TrainingRunOptions { Optimizer = OptimizerKind.Adam, LearningRate = 0.01, Loss = new MseLoss() } },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task Variant_Trains_LossFallsAndValidationAccuracyIsHigh(string name, TrainingRunOptions options)
    {
        TrainingJob job = TestRanks.BlobsJob(samples: 96, batch: 16, epochs: 6) with
        {
            Options = options with { Epochs = 6, BatchSize = 16, Seed = 3 },
            Validation = TestTorch.Blobs(60, seed: 9, name: "validation"),
        };

        var run = await TestRanks.RunSingleAsync(job);

        Assert.True(run.Epochs[^1].TrainLoss < run.Epochs[0].TrainLoss, $"{name}: loss {run.Epochs[0].TrainLoss} → {run.Epochs[^1].TrainLoss}");
        Assert.InRange(run.Epochs[^1].ValidationAccuracy, 0.9, 1.0);
    }

    [Fact]
    public async Task BceWithLogits_OnTwoClassesWithOneOutput_Trains()
    {
        var blobs = TestTorch.Blobs(90, seed: 4);
        long[] labels = [.. blobs.Labels.ToArray().Select(l => l == 0 ? 0L : 1L)];
        var binary = new ModelKit.Training.Data.LabeledDataset("binary", blobs.Features.ToArray(), labels, [4], 2, "sha256:binary");
        var job = new TrainingJob(new ModelSpec([new LinearLayer(4, 8), new ReluLayer(), new LinearLayer(8, 1)], TestTorch.Input4), binary,
            new TrainingRunOptions { Epochs = 5, BatchSize = 15, LearningRate = 0.02, Loss = new BceWithLogitsLoss() });

        var run = await TestRanks.RunSingleAsync(job);

        Assert.True(run.Epochs[^1].TrainLoss < run.Epochs[0].TrainLoss * 0.7);
    }
}
