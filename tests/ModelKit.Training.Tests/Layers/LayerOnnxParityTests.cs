using static ModelKit.Training.Tests.Layers.LayerTestSupport;

namespace ModelKit.Training.Tests.Layers;

/// <summary>
/// Every layer exported to ONNX computes what libtorch computes: libtorch's eval forward against ONNX Runtime on random
/// inputs, after a few training steps (so weights and BatchNorm statistics are not their initial values). Tolerance: max
/// absolute difference 1e-5, or 1e-4 relative to the output's magnitude for convolutions.
/// </summary>
public sealed class LayerOnnxParityTests
{
    public static TheoryData<string, long[], LayerSpec[], bool> Cases() => new()
    {
        { "linear without bias", [-1, 6], [new LinearLayer(6, 5, Bias: false), new ReluLayer()], false },
        { "conv2d stride 2 padding 1", [-1, 2, 9, 9], [new Conv2dLayer(2, 4, 3, Stride: 2, Padding: 1)], true },
        { "conv2d dilation 2 groups 2 no bias", [-1, 4, 10, 10], [new Conv2dLayer(4, 6, 3, Dilation: 2, Groups: 2, Bias: false)], true },
        { "conv1d padding 1", [-1, 3, 12], [new Conv1dLayer(3, 5, 3, Padding: 1), new TanhLayer()], true },
        { "maxpool2d", [-1, 2, 8, 8], [new Conv2dLayer(2, 3, 1), new MaxPool2dLayer(2)], true },
        { "maxpool2d 3/2/1", [-1, 2, 9, 9], [new Conv2dLayer(2, 3, 1), new MaxPool2dLayer(3, 2, 1)], true },
        { "avgpool2d 3/2/1", [-1, 2, 9, 9], [new Conv2dLayer(2, 3, 1), new AvgPool2dLayer(3, 2, 1)], true },
        { "global average pool", [-1, 2, 7, 5], [new Conv2dLayer(2, 4, 3), new GlobalAvgPool2dLayer()], true },
        { "batchnorm2d", [-1, 2, 6, 6], [new Conv2dLayer(2, 4, 3), new BatchNorm2dLayer(4)], true },
        { "batchnorm1d", [-1, 6], [new LinearLayer(6, 8), new BatchNorm1dLayer(8)], false },
        { "layernorm", [-1, 8], [new LinearLayer(8, 8), new LayerNormLayer(8)], false },
        { "leaky relu", [-1, 6], [new LinearLayer(6, 6), new LeakyReluLayer(0.1)], false },
        { "gelu", [-1, 6], [new LinearLayer(6, 6), new GeluLayer()], false },
        { "silu", [-1, 6], [new LinearLayer(6, 6), new SiluLayer()], false },
        { "sigmoid", [-1, 6], [new LinearLayer(6, 6), new SigmoidLayer()], false },
        { "softmax", [-1, 6], [new LinearLayer(6, 6), new SoftmaxLayer()], false },
        { "log softmax", [-1, 6], [new LinearLayer(6, 6), new LogSoftmaxLayer(1)], false },
        { "dropout", [-1, 6], [new LinearLayer(6, 6), new DropoutLayer(0.5)], false },
        { "residual identity", [-1, 6], [new LinearLayer(6, 6), new ResidualBlock([new LinearLayer(6, 6), new ReluLayer(), new LinearLayer(6, 6)]), new ReluLayer()], false },
        { "residual projection", [-1, 2, 8, 8], [new ResidualBlock([new Conv2dLayer(2, 4, 3, Stride: 2, Padding: 1), new ReluLayer()], new Conv2dLayer(2, 4, 1, Stride: 2))], true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExportedLayer_MatchesLibtorchForward(string name, long[] inputShape, LayerSpec[] layers, bool convolution)
    {
        var input = new TensorSpec("input", TensorElementType.Float, inputShape);
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(Classifier(layers, inputShape), input, seed: 4);
        long[] shape = [7, .. inputShape[1..]];
        Perturb(network, shape);

        AssertParity(name, network, shape, convolution, integers: false);
    }

    [Fact]
    public void ExportedEmbedding_MatchesLibtorchForward()
    {
        long[] inputShape = [-1, 5];
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            Classifier([new EmbeddingLayer(10, 4)], inputShape), new TensorSpec("input", TensorElementType.Float, inputShape), seed: 2);
        Perturb(network, [7, 5], integers: true);

        AssertParity("embedding", network, [7, 5], convolution: false, integers: true);
    }

    [Fact]
    public void ExportedSmallResNet_WithDynamicImageSize_MatchesLibtorchForwardAtTwoSizes()
    {
        LayerSpec[] layers =
        [
            new Conv2dLayer(1, 8, 3, Padding: 1, Bias: false), new BatchNorm2dLayer(8), new ReluLayer(),
            new ResidualBlock([new Conv2dLayer(8, 8, 3, Padding: 1, Bias: false), new BatchNorm2dLayer(8), new ReluLayer(), new Conv2dLayer(8, 8, 3, Padding: 1, Bias: false), new BatchNorm2dLayer(8)]),
            new ReluLayer(),
            new ResidualBlock(
                [new Conv2dLayer(8, 16, 3, Stride: 2, Padding: 1, Bias: false), new BatchNorm2dLayer(16), new ReluLayer(), new Conv2dLayer(16, 16, 3, Padding: 1, Bias: false), new BatchNorm2dLayer(16)],
                new Conv2dLayer(8, 16, 1, Stride: 2, Bias: false)),
            new ReluLayer(), new GlobalAvgPool2dLayer(), new FlattenLayer(), new LinearLayer(16, 3),
        ];
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, -1, -1]);
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(layers, input, seed: 9);
        Perturb(network, [6, 1, 12, 12]);

        AssertParity("resnet 12x12", network, [5, 1, 12, 12], convolution: true, integers: false);
        AssertParity("resnet 9x15", network, [3, 1, 9, 15], convolution: true, integers: false);
    }

    private static void AssertParity(string name, SequentialNetwork network, long[] shape, bool convolution, bool integers)
    {
        float[] features = Random((int)shape.Aggregate(1L, (a, b) => a * b), 7, integers: integers);
        float[] expected = Torch(network, features, shape, (int)shape[0] * network.ClassCount);
        float[] actual = RunOnnx(Export(network), "input", features, shape);

        Assert.Equal(expected.Length, actual.Length);
        float scale = convolution ? Math.Max(1f, expected.Max(MathF.Abs)) : 1f;
        float tolerance = convolution ? 1e-4f * scale : 1e-5f;
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, MathF.Abs(expected[i] - actual[i]));
        }

        Assert.True(max <= tolerance, $"{name}: max |libtorch - ONNX Runtime| = {max} > {tolerance}");
    }
}
