namespace ModelKit.Training.Tests.Layers;

/// <summary>
/// Dropout in training mode, observed through one plain SGD step of <c>Dropout(p) → Linear(D, 2)</c> on an input of ones:
/// the gradient of weight column <c>j</c> is <c>∂L/∂y · mask_j</c>, so the columns that a step leaves unchanged are exactly the
/// dropped elements, and the kept ones all move by <c>lr · ∂L/∂y_c / (1 − p)</c> (inverted dropout, as
/// <c>torch.nn.functional.dropout</c> defines it). <c>∂L/∂y</c> is computed here from the kept set (softmax − one-hot).
/// </summary>
public sealed class DropoutTrainingTests
{
    private const int Features = 20_000;

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    public void TrainingStep_KeepsOneMinusPOfTheElements_AndScalesThemByItsInverse(double p)
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new DropoutLayer(p), new LinearLayer(Features, 2)], new TensorSpec("x", TensorElementType.Float, [-1, Features]), seed: 5);
        using NetworkOptimizer sgd = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1 });
        float[] w = network.GetParameters()[0].Data;
        float b0 = network.GetParameters()[1].Data[0], b1 = network.GetParameters()[1].Data[1];

        network.TrainStep(sgd, Ones(), [1, Features], [0]);

        AssertDropoutStep(p, learningRate: 1, w, network.GetParameters()[0].Data, b0, b1, tolerance: 1e-4);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void TrainingStep_AfterLinearAndRelu_KeepsOneMinusPAndScales(double p)
    {
        // Linear -> ReLU -> Dropout runs as one fused node in the shim: the same observation through the second Linear, with
        // the first set so that every hidden unit is relu(1 * 1 + 0) = 1 before dropout.
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(1, Features), new ReluLayer(), new DropoutLayer(p), new LinearLayer(Features, 2)],
            new TensorSpec("x", TensorElementType.Float, [-1, 1]),
            seed: 7);
        IReadOnlyList<NamedParameter> initial = network.GetParameters();
        network.LoadParameters(
        [
            initial[0] with { Data = Enumerable.Repeat(1f, Features).ToArray() },
            initial[1] with { Data = new float[Features] },
            initial[2],
            initial[3],
        ]);
        using NetworkOptimizer sgd = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1e-3 });
        float[] w = network.GetParameters()[2].Data;
        float b0 = initial[3].Data[0], b1 = initial[3].Data[1];

        network.TrainStep(sgd, [1f], [1, 1], [0]);

        AssertDropoutStep(p, learningRate: 1e-3, w, network.GetParameters()[2].Data, b0, b1, tolerance: 1e-6);
    }

    [Fact]
    public void TrainingSteps_DrawANewMaskEachStep_IndependentOfTheLast()
    {
        const double p = 0.5;
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new DropoutLayer(p), new LinearLayer(Features, 2)], new TensorSpec("x", TensorElementType.Float, [-1, Features]), seed: 6);
        using NetworkOptimizer sgd = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1e-4 });

        float[] w0 = network.GetParameters()[0].Data;
        network.TrainStep(sgd, Ones(), [1, Features], [0]);
        float[] w1 = network.GetParameters()[0].Data;
        network.TrainStep(sgd, Ones(), [1, Features], [0]);
        bool[] first = KeptColumns(w0, w1);
        bool[] second = KeptColumns(w1, network.GetParameters()[0].Data);

        // A small learning rate, so that the loss does not saturate after the first step (its gradient stays non-zero).
        // Independent masks keep a column twice with probability (1 - p)^2: 5,000 of 20,000 expected, sigma 61.
        int both = Enumerable.Range(0, Features).Count(j => first[j] && second[j]);
        Assert.InRange(both, 5_000 - 310, 5_000 + 310);
    }

    /// <summary>
    /// Checks one SGD step of a <c>Linear(D, 2)</c> whose input was 1 before dropout, from its weight before and after: the
    /// kept count is Binomial(D, 1 − p) within 5 standard deviations, and every kept column moved by
    /// <c>lr · ∂L/∂y_0 / (1 − p)</c> (the forward the step ran: <c>y_c = b_c + Σ_kept w_cj / (1 − p)</c>, then
    /// <c>∂L/∂y_0 = softmax(y)_0 − 1</c> for label 0), every dropped one not at all.
    /// </summary>
    private static void AssertDropoutStep(double p, double learningRate, float[] before, float[] after, float b0, float b1, double tolerance)
    {
        bool[] kept = KeptColumns(before, after);
        int count = kept.Count(k => k);
        double sigma = Math.Sqrt(Features * p * (1 - p));
        Assert.InRange(count, (Features * (1 - p)) - (5 * sigma), (Features * (1 - p)) + (5 * sigma));

        double scale = 1 / (1 - p);
        double y0 = b0, y1 = b1;
        for (int j = 0; j < Features; j++)
        {
            if (kept[j])
            {
                y0 += before[j] * scale;
                y1 += before[Features + j] * scale;
            }
        }

        double g0 = (1 / (1 + Math.Exp(y1 - y0))) - 1;
        for (int j = 0; j < Features; j += 97)
        {
            Assert.Equal(kept[j] ? learningRate * g0 * scale : 0, before[j] - after[j], tolerance);
        }
    }

    private static float[] Ones() => Enumerable.Repeat(1f, Features).ToArray();

    // Row 0 of the weight: a column moved iff its element was kept (the gradient is never exactly 0 for a kept element here).
    private static bool[] KeptColumns(float[] before, float[] after) =>
        [.. Enumerable.Range(0, Features).Select(j => before[j] != after[j])];
}
