using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using ModelKit.Training.Data;

namespace ModelKit.Training.Tests;

public sealed class TrainerTests
{
    [Fact]
    public async Task TrainAsync_SeparableBlobs_LossFallsAndAccuracyIsHigh()
    {
        LabeledDataset train = TestTorch.Blobs(300, seed: 1, "train");
        LabeledDataset validation = TestTorch.Blobs(150, seed: 2, "validation");
        using SequentialNetwork network = TestTorch.CreateSmallMlp(seed: 3);
        var reports = new List<EpochReport>();

        TrainingReport report = await TestTorch.Trainer.TrainAsync(
            network, train, validation, new TrainingRunOptions { Epochs = 8, BatchSize = 32, LearningRate = 0.01 }, new ListProgress(reports));

        Assert.Equal(8, report.Epochs.Count);
        Assert.Equal(report.Epochs, reports);
        Assert.Equal(Enumerable.Range(1, 8), report.Epochs.Select(e => e.Epoch));
        Assert.All(report.Epochs, e => Assert.Equal(8, e.Epochs));
        Assert.True(report.Epochs[^1].TrainLoss < report.Epochs[0].TrainLoss / 4, $"loss {report.Epochs[0].TrainLoss} -> {report.Epochs[^1].TrainLoss}");
        Assert.True(report.FinalValidationAccuracy >= 0.97, $"validation accuracy {report.FinalValidationAccuracy}");
        Assert.True(TestTorch.Trainer.Evaluate(network, validation, batchSize: 64) >= 0.97);
        Assert.Equal(32, report.RunId.Length);
        Assert.Equal(train.Digest, report.TrainDatasetDigest);
        Assert.Equal(300, report.TrainSampleCount);
    }

    [Fact]
    public async Task TrainAsync_Sgd_WithMomentum_LearnsToo()
    {
        LabeledDataset train = TestTorch.Blobs(300, seed: 4);
        using SequentialNetwork network = TestTorch.CreateSmallMlp(seed: 5);

        TrainingReport report = await TestTorch.Trainer.TrainAsync(
            network, train, train, new TrainingRunOptions { Epochs = 5, BatchSize = 16, Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, Momentum = 0.9 });

        Assert.True(report.FinalValidationAccuracy >= 0.97, $"accuracy {report.FinalValidationAccuracy}");
    }

    [Fact]
    public async Task TrainAsync_WithoutValidation_ReportsNaNAccuracy()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();

        TrainingReport report = await TestTorch.Trainer.TrainAsync(network, TestTorch.Blobs(30, 1), null, new TrainingRunOptions { Epochs = 1, BatchSize = 7 });

        Assert.True(double.IsNaN(report.Epochs.Single().ValidationAccuracy));
        Assert.True(double.IsFinite(report.Epochs.Single().TrainLoss));
    }

    [Fact]
    public async Task TrainAsync_CancelledDuringRun_ThrowsOperationCanceled_AfterCompletedEpochs()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using var cts = new CancellationTokenSource();
        var reports = new List<EpochReport>();
        var progress = new ListProgress(reports, _ => cts.Cancel());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            TestTorch.Trainer.TrainAsync(network, TestTorch.Blobs(60, 1), null, new TrainingRunOptions { Epochs = 50, BatchSize = 8 }, progress, cts.Token));

        Assert.Single(reports);
    }

    [Fact]
    public async Task TrainAsync_AlreadyCancelled_ReturnsCanceledTask()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();

        Task<TrainingReport> task = TestTorch.Trainer.TrainAsync(network, TestTorch.Blobs(6, 1), null, new TrainingRunOptions(), null, new CancellationToken(canceled: true));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
        Assert.True(task.IsCanceled);
    }

    [Fact]
    public void TrainAsync_DataDoesNotFitInput_ThrowsNamingBothShapes()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        var data = new LabeledDataset("wide", new float[10], [0, 1], [5], 3, "sha256:x");

        var ex = Assert.Throws<ArgumentException>(() => { _ = TestTorch.Trainer.TrainAsync(network, data, null, new TrainingRunOptions()); });

        Assert.Contains("Data set 'wide' has samples of shape [5], which do not fit the network input 'input' [-1, 4]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainAsync_MoreClassesThanOutputs_Throws()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        var data = new LabeledDataset("five", new float[8], [0, 4], [4], 5, "sha256:x");

        var ex = Assert.Throws<ArgumentException>(() => { _ = TestTorch.Trainer.TrainAsync(network, data, null, new TrainingRunOptions()); });

        Assert.Contains("has 5 classes but the network has 3 outputs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainAsync_InvalidOptions_ThrowsSynchronously()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();

        var ex = Assert.Throws<ArgumentException>(() => { _ = TestTorch.Trainer.TrainAsync(network, TestTorch.Blobs(6, 1), null, new TrainingRunOptions { BatchSize = 0 }); });

        Assert.Contains("TrainingRunOptions.BatchSize is 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TrainAsync_RecordsEpochDurationInSeconds()
    {
        var durations = new List<double>();
        var optimizers = new List<object?>();
        long samples = 0;
        string? unit = null;
        using var listener = new MeterListener();
        using var trainer = new Trainer(Options.Create(new TorchTrainingOptions { ThreadCount = 2 }));
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "ModelKit.Training" && instrument.Name is "modelkit.training.epoch.duration" or "modelkit.training.samples")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, state) =>
        {
            lock (durations)
            {
                durations.Add(value);
                unit = instrument.Unit;
                // Never assert here: the callback also sees other tests' trainers (the meter name is shared) on their threads.
                optimizers.Add(tags.ToArray().SingleOrDefault(t => t.Key == "modelkit.training.optimizer").Value);
            }
        });
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, state) => Interlocked.Add(ref samples, value));
        listener.Start();
        using SequentialNetwork network = trainer.CreateNetwork(TestTorch.SmallMlp(), TestTorch.Input4, 1);

        await trainer.TrainAsync(network, TestTorch.Blobs(30, 1), null, new TrainingRunOptions { Epochs = 3, BatchSize = 10 });

        lock (durations)
        {
            // Other tests' trainers share the meter name; at least this run's three epochs are there.
            Assert.True(durations.Count >= 3);
            Assert.All(durations, d => Assert.True(d > 0));
            Assert.Equal("s", unit);
            Assert.Contains("adam", optimizers);
        }

        Assert.True(Interlocked.Read(ref samples) >= 90);
    }

    [Fact]
    public void Evaluate_CountsArgMaxMatches()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([new LinearLayer(2, 2)], new TensorSpec("x", TensorElementType.Float, [-1, 2]), seed: 1);
        // Identity weights, zero bias: the larger feature wins.
        network.LoadParameters([new NamedParameter("0.weight", [1f, 0f, 0f, 1f], [2, 2]), new NamedParameter("0.bias", [0f, 0f], [2])]);
        var data = new LabeledDataset("four", [2f, 1f, 0f, 3f, 5f, 4f, 1f, 0f], [0, 1, 1, 0], [2], 2, "sha256:x");

        Assert.Equal(0.75, TestTorch.Trainer.Evaluate(network, data, batchSize: 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => TestTorch.Trainer.Evaluate(network, data, batchSize: 0));
    }

    [Fact]
    public void CreateNetwork_LibraryMissing_ThrowsNamingPathAndSetupScript()
    {
        using var trainer = new Trainer(Options.Create(new TorchTrainingOptions { LibraryPath = "/nonexistent/dir/libmodelkit_torch.so" }));

        var ex = Assert.Throws<NativeEngineException>(() => trainer.CreateNetwork(TestTorch.SmallMlp(), TestTorch.Input4, 1));

        Assert.Equal("libtorch", ex.Engine);
        Assert.Equal("LoadLibrary", ex.Operation);
        Assert.Contains("'/nonexistent/dir/libmodelkit_torch.so'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("eng/setup.sh", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateNetwork_InvalidOptions_ThrowsOptionsValidationException()
    {
        using var trainer = new Trainer(Options.Create(new TorchTrainingOptions { ThreadCount = -3 }));

        var ex = Assert.Throws<OptionsValidationException>(() => trainer.CreateNetwork(TestTorch.SmallMlp(), TestTorch.Input4, 1));

        Assert.Contains("TorchTrainingOptions.ThreadCount is -3", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(InvalidLayers))]
    public void CreateNetwork_InvalidLayers_ThrowsClearMessage(LayerSpec[] layers, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => TestTorch.Trainer.CreateNetwork(layers, TestTorch.Input4, 1));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<LayerSpec[], string> InvalidLayers() => new()
    {
        { [new LinearLayer(0, 3)], "LinearLayer at index 0 has InFeatures 0; it must be 1 or greater." },
        { [new LinearLayer(4, 3), new DropoutLayer(1.5)], "DropoutLayer at index 1 has Probability 1.5; it must be in [0, 1)." },
        { [new LinearLayer(4, 8), new ReluLayer(), new LinearLayer(6, 3)], "LinearLayer at index 2 receives shape [-1, 8] but needs [N, 6]; put a FlattenLayer before it or fix InFeatures." },
        { [new LinearLayer(5, 3)], "LinearLayer at index 0 receives shape [-1, 4] but needs [N, 5]; put a FlattenLayer before it or fix InFeatures." },
        { [new ReluLayer()], "The network has no layer with parameters" },
        { [], "The network has no layers" },
    };

    [Fact]
    public void CreateNetwork_LinearOnImageWithoutFlatten_SaysToAddFlatten()
    {
        var ex = Assert.Throws<ArgumentException>(() => TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(784, 10)], new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]), 1));

        Assert.Contains("LinearLayer at index 0 receives shape [-1, 1, 28, 28] but needs [N, 784]; put a FlattenLayer before it or fix InFeatures.", ex.Message, StringComparison.Ordinal);
    }

    private sealed class ListProgress(List<EpochReport> reports, Action<EpochReport>? then = null) : IProgress<EpochReport>
    {
        public void Report(EpochReport value)
        {
            lock (reports)
            {
                reports.Add(value);
            }

            then?.Invoke(value);
        }
    }
}
