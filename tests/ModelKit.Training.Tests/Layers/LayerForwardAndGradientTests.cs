using static ModelKit.Training.Tests.Layers.LayerTestSupport;

namespace ModelKit.Training.Tests.Layers;

/// <summary>
/// Layer forward passes against values computed here from the parameters (independent C# formulas), and gradients against
/// finite differences: one plain SGD step moves a parameter by <c>−lr·∂L/∂θ</c>, and <c>∂L/∂θ</c> is also estimated by central
/// differences of the cross-entropy of the eval forward.
/// </summary>
public sealed class LayerForwardAndGradientTests
{
    public static TheoryData<string, Func<float, float>> Activations() => new()
    {
        { "relu", x => MathF.Max(x, 0) },
        { "leaky relu 0.1", x => x >= 0 ? x : 0.1f * x },
        { "gelu", x => (float)(0.5 * x * (1 + Erf(x / Math.Sqrt(2)))) },
        { "silu", x => x / (1 + MathF.Exp(-x)) },
        { "sigmoid", x => 1 / (1 + MathF.Exp(-x)) },
        { "tanh", MathF.Tanh },
    };

    [Theory]
    [MemberData(nameof(Activations))]
    public void Activation_Forward_MatchesItsFormula(string name, Func<float, float> formula)
    {
        LayerSpec activation = name switch
        {
            "relu" => new ReluLayer(),
            "leaky relu 0.1" => new LeakyReluLayer(0.1),
            "gelu" => new GeluLayer(),
            "silu" => new SiluLayer(),
            "sigmoid" => new SigmoidLayer(),
            _ => new TanhLayer(),
        };
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([new LinearLayer(3, 4), activation], new TensorSpec("x", TensorElementType.Float, [-1, 3]), 1);
        float[] x = Random(5 * 3, 3, scale: 3);
        (float[] w, float[] b) = (network.GetParameters()[0].Data, network.GetParameters()[1].Data);

        float[] actual = Torch(network, x, [5, 3], 20);

        for (int n = 0; n < 5; n++)
        {
            for (int o = 0; o < 4; o++)
            {
                float z = b[o];
                for (int i = 0; i < 3; i++)
                {
                    z += x[(n * 3) + i] * w[(o * 3) + i];
                }

                Assert.Equal(formula(z), actual[(n * 4) + o], 1e-5f);
            }
        }
    }

    [Fact]
    public void Conv2d_Forward_MatchesDirectConvolution()
    {
        var conv = new Conv2dLayer(2, 3, 3, Stride: 2, Padding: 1, Dilation: 1);
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([conv], new TensorSpec("x", TensorElementType.Float, [-1, 2, 7, 7]), 5);
        float[] x = Random(2 * 2 * 7 * 7, 8);
        float[] w = network.GetParameters()[0].Data; // [3, 2, 3, 3]
        float[] b = network.GetParameters()[1].Data;

        float[] actual = Torch(network, x, [2, 2, 7, 7], 2 * 3 * 4 * 4);

        for (int n = 0; n < 2; n++)
        {
            for (int o = 0; o < 3; o++)
            {
                for (int oy = 0; oy < 4; oy++)
                {
                    for (int ox = 0; ox < 4; ox++)
                    {
                        double sum = b[o];
                        for (int c = 0; c < 2; c++)
                        {
                            for (int ky = 0; ky < 3; ky++)
                            {
                                for (int kx = 0; kx < 3; kx++)
                                {
                                    int iy = (oy * 2) - 1 + ky;
                                    int ix = (ox * 2) - 1 + kx;
                                    if (iy is >= 0 and < 7 && ix is >= 0 and < 7)
                                    {
                                        sum += x[(((n * 2) + c) * 49) + (iy * 7) + ix] * w[(((o * 2) + c) * 9) + (ky * 3) + kx];
                                    }
                                }
                            }
                        }

                        Assert.Equal((float)sum, actual[(((n * 3) + o) * 16) + (oy * 4) + ox], 1e-5f);
                    }
                }
            }
        }
    }

    [Fact]
    public void Pools_Forward_MatchWindowMaximumAndMean()
    {
        // A 1x1 convolution with weight 1 and bias 0 passes the input through, then the pool.
        var input = new TensorSpec("x", TensorElementType.Float, [-1, 1, 4, 4]);
        using SequentialNetwork max = TestTorch.Trainer.CreateNetwork([new Conv2dLayer(1, 1, 1), new MaxPool2dLayer(2)], input, 1);
        using SequentialNetwork avg = TestTorch.Trainer.CreateNetwork([new Conv2dLayer(1, 1, 1), new AvgPool2dLayer(3, 1, 1)], input, 1);
        foreach (SequentialNetwork net in new[] { max, avg })
        {
            net.LoadParameters([new NamedParameter("0.weight", [1f], [1, 1, 1, 1]), new NamedParameter("0.bias", [0f], [1])]);
        }

        float[] x = [.. Enumerable.Range(0, 16).Select(i => (float)((i * 7) % 16))];

        float[] pooled = Torch(max, x, [1, 1, 4, 4], 4);
        float[] averaged = Torch(avg, x, [1, 1, 4, 4], 16);

        Assert.Equal([MathF.Max(MathF.Max(x[0], x[1]), MathF.Max(x[4], x[5])), MathF.Max(MathF.Max(x[2], x[3]), MathF.Max(x[6], x[7])), MathF.Max(MathF.Max(x[8], x[9]), MathF.Max(x[12], x[13])), MathF.Max(MathF.Max(x[10], x[11]), MathF.Max(x[14], x[15]))], pooled);
        Assert.Equal((x[0] + x[1] + x[4] + x[5]) / 9f, averaged[0], 1e-5f); // zero padding counted (count_include_pad)
        Assert.Equal((x[0] + x[1] + x[2] + x[4] + x[5] + x[6] + x[8] + x[9] + x[10]) / 9f, averaged[5], 1e-5f);
    }

    [Fact]
    public void LayerNorm_And_Softmax_Forward_MatchTheirFormulas()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(4, 4), new LayerNormLayer(4), new SoftmaxLayer()], new TensorSpec("x", TensorElementType.Float, [-1, 4]), 3);
        network.LoadParameters(
        [
            new NamedParameter("0.weight", [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], [4, 4]), new NamedParameter("0.bias", [0, 0, 0, 0], [4]),
            new NamedParameter("1.weight", [1f, 2f, 0.5f, 1f], [4]), new NamedParameter("1.bias", [0f, 0.1f, -0.2f, 0.3f], [4]),
        ]);
        float[] x = [1f, 2f, 4f, -3f];

        float[] actual = Torch(network, x, [1, 4], 4);

        double mean = x.Average();
        double variance = x.Select(v => (v - mean) * (v - mean)).Average();
        double[] gamma = [1, 2, 0.5, 1];
        double[] beta = [0, 0.1, -0.2, 0.3];
        double[] normalized = [.. x.Select((v, i) => ((v - mean) / Math.Sqrt(variance + 1e-5) * gamma[i]) + beta[i])];
        double denominator = normalized.Sum(Math.Exp);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal((float)(Math.Exp(normalized[i]) / denominator), actual[i], 1e-6f);
        }
    }

    [Fact]
    public void Embedding_Forward_LooksUpRows()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([new EmbeddingLayer(5, 2)], new TensorSpec("ids", TensorElementType.Float, [-1, 3]), 3);
        float[] table = network.GetParameters()[0].Data;

        float[] actual = Torch(network, [4f, 0f, 2f], [1, 3], 6);

        Assert.Equal([table[8], table[9], table[0], table[1], table[4], table[5]], actual);
    }

    public static TheoryData<string, LayerSpec[], long[]> GradientCases() => new()
    {
        { "linear+gelu", [new LinearLayer(3, 4), new GeluLayer(), new LinearLayer(4, 3)], [-1, 3] },
        { "linear+silu+layernorm", [new LinearLayer(3, 4), new SiluLayer(), new LayerNormLayer(4), new LinearLayer(4, 3)], [-1, 3] },
        { "conv2d+tanh+avgpool", [new Conv2dLayer(1, 2, 3, Padding: 1), new TanhLayer(), new AvgPool2dLayer(2), new FlattenLayer(), new LinearLayer(8, 3)], [-1, 1, 4, 4] },
        { "conv1d+sigmoid", [new Conv1dLayer(2, 2, 3), new SigmoidLayer(), new FlattenLayer(), new LinearLayer(6, 3)], [-1, 2, 5] },
        { "residual+leaky relu", [new LinearLayer(3, 4), new ResidualBlock([new LinearLayer(4, 4), new LeakyReluLayer(0.2)]), new LinearLayer(4, 3)], [-1, 3] },
        { "log softmax", [new LinearLayer(3, 5), new LogSoftmaxLayer(), new LinearLayer(5, 3)], [-1, 3] },
    };

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Gradient_OfTheFirstLayerWeight_MatchesFiniteDifferences(string name, LayerSpec[] layers, long[] inputShape)
    {
        var input = new TensorSpec("x", TensorElementType.Float, inputShape);
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(layers, input, 11);
        long[] shape = [4, .. inputShape[1..]];
        float[] x = Random((int)shape.Aggregate(1L, (a, b) => a * b), 21);
        long[] labels = [0, 1, 2, 1];
        IReadOnlyList<NamedParameter> before = network.GetParameters();
        const float LearningRate = 0.5f;

        using (NetworkOptimizer sgd = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = LearningRate }))
        {
            network.TrainStep(sgd, x, shape, labels);
        }

        float[] after = network.GetParameters()[0].Data;
        network.LoadParameters(before);
        float[] weight = (float[])before[0].Data.Clone();
        for (int k = 0; k < Math.Min(weight.Length, 6); k++)
        {
            float libtorch = (before[0].Data[k] - after[k]) / LearningRate;
            double numeric = (Loss(network, before, k, weight[k] + 1e-2f, x, shape, labels) - Loss(network, before, k, weight[k] - 1e-2f, x, shape, labels)) / 2e-2;
            Assert.True(Math.Abs(libtorch - numeric) <= 2e-3 + (2e-2 * Math.Abs(numeric)), $"{name}: weight[{k}] gradient {libtorch} vs finite difference {numeric}");
        }
    }

    private static double Loss(SequentialNetwork network, IReadOnlyList<NamedParameter> parameters, int index, float value, float[] x, long[] shape, long[] labels)
    {
        float[] weight = (float[])parameters[0].Data.Clone();
        weight[index] = value;
        network.LoadParameters([parameters[0] with { Data = weight }, .. parameters.Skip(1)]);
        float[] logits = Torch(network, x, shape, labels.Length * 3);
        double loss = 0;
        for (int n = 0; n < labels.Length; n++)
        {
            double max = logits.Skip(n * 3).Take(3).Max();
            double sum = logits.Skip(n * 3).Take(3).Sum(v => Math.Exp(v - max));
            loss += -(logits[(n * 3) + (int)labels[n]] - max - Math.Log(sum));
        }

        return loss / labels.Length;
    }

    // Abramowitz and Stegun 7.1.26 has 1.5e-7 absolute error; enough for float32 comparisons at 1e-5.
    private static double Erf(double x)
    {
        double t = 1 / (1 + (0.3275911 * Math.Abs(x)));
        double y = 1 - ((((((((1.061405429 * t) - 1.453152027) * t) + 1.421413741) * t) - 0.284496736) * t) + 0.254829592) * t * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }
}
