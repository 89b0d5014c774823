using ModelKit.Training.Data;

namespace ModelKit.Training.Tests;

/// <summary>
/// The shim trains single-process cross-entropy stacks of Linear, ReLU, Dropout and Flatten without autograd
/// (<c>native/modelkit_torch/src/mk_fused_step.cpp</c>: hand-written backward into buffers kept across steps). These tests
/// train the same network both ways: the fused one with ReLU, the autograd one with LeakyReLU(0), which computes the same
/// function and gradient (max(x, 0); slope 0 below zero) but is not a fused layer, so its steps take libtorch's autograd.
/// </summary>
public sealed class FusedStepTests
{
    private static readonly TensorSpec Input = new("input", TensorElementType.Float, [-1, 3, 4]);

    private static LayerSpec[] Layers(LayerSpec activation) =>
        [new FlattenLayer(), new LinearLayer(12, 16), activation, new DropoutLayer(0.3), new LinearLayer(16, 8, Bias: false), activation, new LinearLayer(8, 3)];

    [Theory]
    [InlineData(OptimizerKind.Adam)]
    [InlineData(OptimizerKind.Sgd)]
    public void TrainStep_FusedStep_MatchesAutogradStepByStep(OptimizerKind kind)
    {
        using SequentialNetwork fused = TestTorch.Trainer.CreateNetwork(Layers(new ReluLayer()), Input, seed: 4);
        using SequentialNetwork autograd = TestTorch.Trainer.CreateNetwork(Layers(new LeakyReluLayer(0)), Input, seed: 4);
        var settings = new OptimizerSettings { Kind = kind, LearningRate = 0.01, Momentum = kind == OptimizerKind.Sgd ? 0.9 : 0 };
        using NetworkOptimizer fusedOptimizer = fused.CreateOptimizer(settings);
        using NetworkOptimizer autogradOptimizer = autograd.CreateOptimizer(settings);
        IReadOnlyList<NamedParameter> start = fused.GetParameters();
        AssertClose(autograd.GetParameters(), start, 0);

        // Batch sizes that grow and shrink: the fused step's buffers are reallocated for 16 and reused (first rows) for 5.
        int[] batches = [7, 16, 16, 5, 16, 3];
        var random = new Random(8);
        for (int step = 0; step < batches.Length; step++)
        {
            int n = batches[step];
            float[] x = [.. Enumerable.Range(0, n * 12).Select(_ => (float)((random.NextDouble() * 4) - 2))];
            long[] y = [.. Enumerable.Range(0, n).Select(_ => (long)random.Next(3))];

            float lossFused = fused.TrainStep(fusedOptimizer, x, [n, 3, 4], y);
            float lossAutograd = autograd.TrainStep(autogradOptimizer, x, [n, 3, 4], y);

            Assert.True(Math.Abs(lossFused - lossAutograd) <= 1e-6 * Math.Max(1, Math.Abs(lossAutograd)), $"step {step}: loss {lossFused} (fused) vs {lossAutograd} (autograd)");
            AssertClose(autograd.GetParameters(), fused.GetParameters(), 1e-6);
        }

        Assert.All(fused.GetParameters(), p => Assert.NotEqual(start.First(s => s.Name == p.Name).Data, p.Data));
    }

    [Fact]
    public async Task TrainAsync_AccumulationAndClipping_FusedStepMatchesAutograd()
    {
        // Accumulation (zero_grad only on the first micro-batch, loss scaled by 1/2) and clipping by the global norm read
        // and write the .grad tensors that the fused step fills.
        LabeledDataset data = TestTorch.Blobs(96, seed: 3);
        var options = new TrainingRunOptions { Epochs = 2, BatchSize = 16, LearningRate = 0.01, Seed = 5, AccumulationSteps = 2, MaxGradientNorm = 0.5 };
        var input = TestTorch.Input4;
        LayerSpec[] Mlp(LayerSpec activation) => [new LinearLayer(4, 16), activation, new DropoutLayer(0.2), new LinearLayer(16, 3)];

        using SequentialNetwork fused = TestTorch.Trainer.CreateNetwork(Mlp(new ReluLayer()), input, seed: 6);
        using SequentialNetwork autograd = TestTorch.Trainer.CreateNetwork(Mlp(new LeakyReluLayer(0)), input, seed: 6);
        TrainingReport a = await TestTorch.Trainer.TrainAsync(fused, data, null, options);
        TrainingReport b = await TestTorch.Trainer.TrainAsync(autograd, data, null, options);

        for (int e = 0; e < a.Epochs.Count; e++)
        {
            Assert.True(Math.Abs(a.Epochs[e].TrainLoss - b.Epochs[e].TrainLoss) <= 1e-6, $"epoch {e}: {a.Epochs[e].TrainLoss} (fused) vs {b.Epochs[e].TrainLoss} (autograd)");
        }

        AssertClose(autograd.GetParameters(), fused.GetParameters(), 1e-6);
    }

    private static void AssertClose(IReadOnlyList<NamedParameter> expected, IReadOnlyList<NamedParameter> actual, double tolerance)
    {
        Assert.Equal(expected.Select(p => p.Name), actual.Select(p => p.Name));
        for (int i = 0; i < expected.Count; i++)
        {
            for (int e = 0; e < expected[i].Data.Length; e++)
            {
                double a = expected[i].Data[e];
                double f = actual[i].Data[e];
                Assert.True(Math.Abs(a - f) <= tolerance * Math.Max(1, Math.Abs(a)), $"{expected[i].Name}[{e}]: fused {f} vs autograd {a}");
            }
        }
    }
}
