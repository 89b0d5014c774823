using ModelKit.Training.Interop;

namespace ModelKit.Training.Tests.Layers;

/// <summary>
/// The cross-entropy loss of a training step and its gradient, observed through one plain SGD step (learning rate 1) of a
/// single <c>Linear(3, 4)</c>: the returned loss must equal PyTorch's definition of <c>F.cross_entropy</c> (mean over the batch;
/// label smoothing ε puts <c>1 − ε</c> on the label and <c>ε / C</c> on every class; class weights <c>w</c> weight each
/// sample's term by <c>w[y]</c> and divide by the sum of those), and the parameters must move by the gradient of that
/// formula, computed here in double from the softmax: <c>∂L/∂z = (p − t) / N</c> unweighted.
/// </summary>
public sealed class CrossEntropyStepTests
{
    private const int In = 3;
    private const int Classes = 4;

    public static TheoryData<double, float[]?> Cases() => new()
    {
        { 0.0, null },
        { 0.1, null },
        { 0.35, null },
        { 0.0, [1f, 2f, 0.5f, 1f] },
        { 0.2, [1f, 2f, 0.5f, 1f] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Step_ReturnsTheCrossEntropy_AndMovesTheParametersByItsGradient(double smoothing, float[]? classWeights)
    {
        float[] x = [0.5f, -1.2f, 2.0f, 1.5f, 0.3f, -0.7f, -2.2f, 0.9f, 0.1f, 0.0f, 1.0f, -1.0f, 3.0f, -0.5f, 0.25f];
        long[] labels = [2, 0, 3, 2, 1];
        int n = labels.Length;
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(In, Classes)], new TensorSpec("x", TensorElementType.Float, [-1, In]), seed: 3);
        IReadOnlyList<NamedParameter> before = network.GetParameters();
        float[] w = before[0].Data, b = before[1].Data;

        // The expected loss and gradient, from the logits z = x W^T + b.
        double expectedLoss = 0, weightSum = 0;
        var dz = new double[n, Classes];
        for (int i = 0; i < n; i++)
        {
            var z = new double[Classes];
            for (int c = 0; c < Classes; c++)
            {
                z[c] = b[c];
                for (int k = 0; k < In; k++)
                {
                    z[c] += (double)x[(i * In) + k] * w[(c * In) + k];
                }
            }

            double max = z.Max();
            double logSum = Math.Log(z.Sum(v => Math.Exp(v - max)));
            double sampleWeight = classWeights is null ? 1 : classWeights[labels[i]];
            weightSum += sampleWeight;
            for (int c = 0; c < Classes; c++)
            {
                double logP = z[c] - max - logSum;
                double classWeight = classWeights is null ? 1 : classWeights[c];
                double target = (c == labels[i] ? 1 - smoothing : 0) * sampleWeight + (smoothing / Classes * classWeight);
                expectedLoss -= target * logP;
                double targetMass = ((1 - smoothing) * sampleWeight) + (smoothing * (classWeights?.Sum() ?? Classes) / Classes);
                dz[i, c] = (Math.Exp(logP) * targetMass) - target;
            }
        }

        double denominator = classWeights is null ? n : weightSum;
        expectedLoss /= denominator;

        float loss = Step(network, x, labels, smoothing, classWeights);

        Assert.Equal(expectedLoss, loss, 5);
        IReadOnlyList<NamedParameter> after = network.GetParameters();
        for (int c = 0; c < Classes; c++)
        {
            double db = 0;
            for (int i = 0; i < n; i++)
            {
                db += dz[i, c] / denominator;
            }

            Assert.True(Math.Abs(b[c] - db - after[1].Data[c]) <= 1e-5, $"bias[{c}]: {after[1].Data[c]}, expected {b[c] - db}");
            for (int k = 0; k < In; k++)
            {
                double dw = 0;
                for (int i = 0; i < n; i++)
                {
                    dw += dz[i, c] * x[(i * In) + k] / denominator;
                }

                float actual = after[0].Data[(c * In) + k];
                Assert.True(Math.Abs(w[(c * In) + k] - dw - actual) <= 1e-5, $"weight[{c},{k}]: {actual}, expected {w[(c * In) + k] - dw}");
            }
        }
    }

    [Fact]
    public void Step_OnExtremeLogits_StaysFinite()
    {
        // Logits of ±1e4 overflow exp() unless the row maximum is subtracted first (log-sum-exp).
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(1, 2)], new TensorSpec("x", TensorElementType.Float, [-1, 1]), seed: 4);
        IReadOnlyList<NamedParameter> p = network.GetParameters();
        network.LoadParameters([p[0] with { Data = [1e4f, -1e4f] }, p[1] with { Data = [0f, 0f] }]);

        float loss = Step(network, [1f], [1], smoothing: 0, classWeights: null);

        Assert.Equal(2e4, loss, 1);
        Assert.All(network.GetParameters().SelectMany(q => q.Data), v => Assert.True(float.IsFinite(v)));
    }

    private static unsafe float Step(SequentialNetwork network, float[] x, long[] labels, double smoothing, float[]? classWeights)
    {
        using NetworkOptimizer sgd = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1 });
        var args = new MkTraining.StepArgs
        {
            LossKind = MkTraining.LossCrossEntropy,
            LabelSmoothing = smoothing,
            LossScale = 1,
            ZeroGrad = 1,
            Step = 1,
            ClassWeightCount = classWeights?.Length ?? 0,
        };
        fixed (float* pWeights = classWeights)
        fixed (long* pLabels = labels)
        {
            args.ClassWeights = pWeights;
            return network.Step(sgd, null, ref args, x, [labels.Length, x.Length / labels.Length], pLabels, labels.Length);
        }
    }
}
