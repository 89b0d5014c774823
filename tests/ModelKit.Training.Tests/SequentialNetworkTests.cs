using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Training.Data;

namespace ModelKit.Training.Tests;

public sealed class SequentialNetworkTests
{
    private static readonly OptimizerSettings Adam = new() { LearningRate = 0.01 };

    [Fact]
    public void GetParameters_NamesAndShapesFollowPyTorchSequential()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new FlattenLayer(), new LinearLayer(12, 5), new ReluLayer(), new DropoutLayer(0.2), new LinearLayer(5, 3)],
            new TensorSpec("input", TensorElementType.Float, [-1, 3, 4]),
            seed: 1);

        IReadOnlyList<NamedParameter> parameters = network.GetParameters();

        Assert.Equal(["1.weight", "1.bias", "4.weight", "4.bias"], parameters.Select(p => p.Name));
        Assert.Equal([5L, 12L], parameters[0].Shape);
        Assert.Equal([5L], parameters[1].Shape);
        Assert.Equal([3L, 5L], parameters[2].Shape);
        Assert.Equal([3L], parameters[3].Shape);
        Assert.Equal(60, parameters[0].Data.Length);
        Assert.Equal((12 * 5) + 5 + (5 * 3) + 3, network.ParameterCount);
        Assert.Equal(3, network.ClassCount);
        Assert.Equal(new TensorSpec("logits", TensorElementType.Float, [-1, 3]), network.Output);
    }

    [Fact]
    public void CreateNetwork_DefaultInitialisation_IsPyTorchsUniformWithinOneOverSqrtFanIn()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([new LinearLayer(100, 50)], new TensorSpec("x", TensorElementType.Float, [-1, 100]), seed: 3);

        IReadOnlyList<NamedParameter> parameters = network.GetParameters();

        float bound = 1f / MathF.Sqrt(100);
        foreach (NamedParameter p in parameters)
        {
            Assert.All(p.Data, v => Assert.InRange(v, -bound, bound));
            Assert.True(p.Data.Distinct().Count() > p.Data.Length / 2, $"{p.Name} looks constant");
        }

        // Uniform(-b, b) has standard deviation b/sqrt(3); 5,000 draws land well within 10% of it.
        double std = Math.Sqrt(parameters[0].Data.Select(v => (double)v * v).Average());
        Assert.InRange(std, 0.9 * bound / Math.Sqrt(3), 1.1 * bound / Math.Sqrt(3));
    }

    [Fact]
    public void CreateNetwork_Seed0_MatchesPyTorchManualSeed0Linear()
    {
        // PyTorch: torch.manual_seed(0); nn.Linear(1, 1) has weight -0.0075 and bias 0.5364 (bound 1/sqrt(1) = 1,
        // so 2·u − 1 for torch.rand's first two draws 0.4963 and 0.7682).
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([new LinearLayer(1, 1)], new TensorSpec("x", TensorElementType.Float, [-1, 1]), seed: 0);

        IReadOnlyList<NamedParameter> p = network.GetParameters();

        Assert.Equal(-0.0075, p[0].Data[0], 4);
        Assert.Equal(0.5364, p[1].Data[0], 4);
    }

    [Theory]
    [InlineData(OptimizerKind.Adam, 0.0)]
    [InlineData(OptimizerKind.Adam, 0.1)]
    [InlineData(OptimizerKind.AdamW, 0.1)]
    public void TrainStep_Adam_FollowsPyTorchsUpdateComputedHere(OptimizerKind kind, double weightDecay)
    {
        // One Linear 3 -> 4 under mean cross-entropy: the gradient has a closed form ((softmax - one-hot) / N times the
        // inputs), so three steps of PyTorch's Adam (L2 weight decay) or AdamW (decoupled) are computed here in double and
        // compared with the shim's one-pass update.
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork([new LinearLayer(3, 4)], new TensorSpec("x", TensorElementType.Float, [-1, 3]), seed: 5);
        var settings = new OptimizerSettings { Kind = kind, LearningRate = 0.05, Beta1 = 0.8, Beta2 = 0.9, Epsilon = 1e-3, WeightDecay = weightDecay };
        using NetworkOptimizer optimizer = network.CreateOptimizer(settings);
        float[] x = [0.5f, -1f, 2f, 1.5f, 0.25f, -0.75f];
        long[] y = [2, 0];
        IReadOnlyList<NamedParameter> start = network.GetParameters();
        double[][] p = [[.. start[0].Data.Select(v => (double)v)], [.. start[1].Data.Select(v => (double)v)]];
        double[][] m = [new double[12], new double[4]];
        double[][] v = [new double[12], new double[4]];
        for (int t = 1; t <= 3; t++)
        {
            network.TrainStep(optimizer, x, [2, 3], y);

            double[][] g = [new double[12], new double[4]];
            for (int n = 0; n < 2; n++)
            {
                double[] logits = new double[4];
                for (int j = 0; j < 4; j++)
                {
                    logits[j] = p[1][j] + Enumerable.Range(0, 3).Sum(k => p[0][(j * 3) + k] * x[(n * 3) + k]);
                }

                double max = logits.Max();
                double sum = logits.Sum(l => Math.Exp(l - max));
                for (int j = 0; j < 4; j++)
                {
                    double d = ((Math.Exp(logits[j] - max) / sum) - (y[n] == j ? 1 : 0)) / 2;
                    g[1][j] += d;
                    for (int k = 0; k < 3; k++)
                    {
                        g[0][(j * 3) + k] += d * x[(n * 3) + k];
                    }
                }
            }

            for (int i = 0; i < 2; i++)
            {
                for (int e = 0; e < p[i].Length; e++)
                {
                    double grad = g[i][e];
                    if (kind == OptimizerKind.AdamW)
                    {
                        p[i][e] *= 1 - (settings.LearningRate * weightDecay);
                    }
                    else
                    {
                        grad += weightDecay * p[i][e];
                    }

                    m[i][e] = (settings.Beta1 * m[i][e]) + ((1 - settings.Beta1) * grad);
                    v[i][e] = (settings.Beta2 * v[i][e]) + ((1 - settings.Beta2) * grad * grad);
                    double denom = (Math.Sqrt(v[i][e]) / Math.Sqrt(1 - Math.Pow(settings.Beta2, t))) + settings.Epsilon;
                    p[i][e] -= settings.LearningRate / (1 - Math.Pow(settings.Beta1, t)) * m[i][e] / denom;
                }
            }
        }

        IReadOnlyList<NamedParameter> end = network.GetParameters();
        for (int i = 0; i < 2; i++)
        {
            for (int e = 0; e < p[i].Length; e++)
            {
                Assert.True(Math.Abs(end[i].Data[e] - p[i][e]) <= 1e-5, $"{end[i].Name}[{e}]: shim {end[i].Data[e]}, expected {p[i][e]}");
                Assert.True(Math.Abs(end[i].Data[e] - start[i].Data[e]) > 1e-3, $"{end[i].Name}[{e}] did not move");
            }
        }
    }

    [Fact]
    public void TrainStep_Steady_DoesNotAllocateManagedMemory()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizer = network.CreateOptimizer(Adam);
        float[] features = new float[32 * 4];
        long[] labels = new long[32];
        long[] shape = [32, 4];
        network.TrainStep(optimizer, features, shape, labels);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 50; i++)
        {
            network.TrainStep(optimizer, features, shape, labels);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void CreateNetwork_SameSeed_GivesBitIdenticalParameters_DifferentSeedDoesNot()
    {
        using SequentialNetwork a = TestTorch.CreateSmallMlp(seed: 11);
        using SequentialNetwork b = TestTorch.CreateSmallMlp(seed: 11);
        using SequentialNetwork c = TestTorch.CreateSmallMlp(seed: 12);

        AssertBitIdentical(a.GetParameters(), b.GetParameters());
        Assert.NotEqual(a.GetParameters()[0].Data, c.GetParameters()[0].Data);
    }

    [Fact]
    public async Task TrainAsync_SameSeedTwice_GivesBitIdenticalParameters()
    {
        LabeledDataset data = TestTorch.Blobs(120, seed: 5);
        var options = new TrainingRunOptions { Epochs = 3, BatchSize = 16, LearningRate = 0.01, Seed = 9 };
        LayerSpec[] layers = [new LinearLayer(4, 16), new ReluLayer(), new DropoutLayer(0.3), new LinearLayer(16, 3)];

        using SequentialNetwork a = TestTorch.Trainer.CreateNetwork(layers, TestTorch.Input4, seed: 21);
        using SequentialNetwork b = TestTorch.Trainer.CreateNetwork(layers, TestTorch.Input4, seed: 21);
        TrainingReport ra = await TestTorch.Trainer.TrainAsync(a, data, null, options);
        TrainingReport rb = await TestTorch.Trainer.TrainAsync(b, data, null, options);

        AssertBitIdentical(a.GetParameters(), b.GetParameters());
        Assert.Equal(ra.Epochs.Select(e => e.TrainLoss), rb.Epochs.Select(e => e.TrainLoss));
    }

    [Fact]
    public void TrainStep_LabelCountDiffersFromBatch_ThrowsShimMessage_AndNetworkKeepsTraining()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizer = network.CreateOptimizer(Adam);
        float[] features = new float[4 * 4];

        var ex = Assert.Throws<NativeEngineException>(() => network.TrainStep(optimizer, features, [4, 4], [0, 1, 2]));

        Assert.Equal("libtorch", ex.Engine);
        Assert.Equal("mk_network_train_step_ex", ex.Operation);
        Assert.Equal(1, ex.ErrorCode);
        Assert.Contains("the batch has 4 samples but 3 labels were given", ex.Message, StringComparison.Ordinal);
        AssertKeepsTraining(network, optimizer);
    }

    [Fact]
    public void TrainStep_LabelOutOfRange_ThrowsShimMessage_AndNetworkKeepsTraining()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizer = network.CreateOptimizer(Adam);

        var ex = Assert.Throws<NativeEngineException>(() => network.TrainStep(optimizer, new float[8], [2, 4], [0, 7]));

        Assert.Contains("label 7 at position 1 is outside [0, 3): the network has 3 output classes", ex.Message, StringComparison.Ordinal);
        AssertKeepsTraining(network, optimizer);
    }

    [Fact]
    public void TrainStep_FeatureCountDiffersFromShape_ThrowsShimMessage()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizer = network.CreateOptimizer(Adam);

        var ex = Assert.Throws<NativeEngineException>(() => network.TrainStep(optimizer, new float[15], [4, 4], [0, 1, 2, 0]));

        Assert.Contains("the feature buffer holds 15 floats but shape [4, 4] needs 16", ex.Message, StringComparison.Ordinal);
        AssertKeepsTraining(network, optimizer);
    }

    [Fact]
    public void TrainStep_WrongFeatureCountForLinear_ThrowsLibtorchMessage_AndNetworkKeepsTraining()
    {
        // A dynamic feature dimension lets the batch through to libtorch, whose matmul rejects it.
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(4, 3)], new TensorSpec("input", TensorElementType.Float, [-1, -1]), seed: 1);
        using NetworkOptimizer optimizer = network.CreateOptimizer(Adam);

        var ex = Assert.Throws<NativeEngineException>(() => network.TrainStep(optimizer, new float[10], [2, 5], [0, 1]));

        Assert.Equal(2, ex.ErrorCode);
        Assert.Contains("mat1 and mat2 shapes cannot be multiplied (2x5 and 4x3)", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception raised from", ex.Message, StringComparison.Ordinal);
        AssertKeepsTraining(network, optimizer);
    }

    [Fact]
    public void TrainStep_ShapeDoesNotFitInput_ThrowsArgumentExceptionNamingBothShapes()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizer = network.CreateOptimizer(Adam);

        var ex = Assert.Throws<ArgumentException>(() => network.TrainStep(optimizer, new float[10], [2, 5], [0, 1]));

        Assert.Contains("A batch of shape [2, 5] does not fit the network input 'input' [-1, 4]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainStep_OptimizerOfAnotherNetwork_Throws()
    {
        using SequentialNetwork a = TestTorch.CreateSmallMlp();
        using SequentialNetwork b = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizerOfB = b.CreateOptimizer(Adam);

        var ex = Assert.Throws<ArgumentException>(() => a.TrainStep(optimizerOfB, new float[4], [1, 4], [0]));

        Assert.Contains("created on another network", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_LogitsBufferTooSmall_ThrowsWithRequiredSize()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();

        var ex = Assert.Throws<ArgumentException>(() => network.Forward(new float[8], [2, 4], new float[5]));

        Assert.Equal("logits", ex.ParamName);
        Assert.Contains("holds 5 floats but the output for a batch of shape [2, 4] is 2 × 3 = 6 floats; pass a buffer of at least 6", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_FeatureBufferDoesNotMatchShape_ThrowsShimMessage()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();

        var ex = Assert.Throws<NativeEngineException>(() => network.Forward(new float[7], [2, 4], new float[6]));

        Assert.Equal("mk_network_forward", ex.Operation);
        Assert.Contains("the feature buffer holds 7 floats but shape [2, 4] needs 8", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_IsDeterministicAndIgnoresDropout_AndMatchesManualLinearAlgebra()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(4, 3), new DropoutLayer(0.5)], TestTorch.Input4, seed: 4);
        float[] x = [1f, -2f, 0.5f, 3f, 0f, 1f, -1f, 2f];
        float[] first = new float[6];
        float[] second = new float[7];
        second[6] = 42f;

        network.Forward(x, [2, 4], first);
        network.Forward(x, [2, 4], second);

        Assert.Equal(first, second.AsSpan(0, 6).ToArray());
        Assert.Equal(42f, second[6]);
        IReadOnlyList<NamedParameter> p = network.GetParameters();
        for (int n = 0; n < 2; n++)
        {
            for (int o = 0; o < 3; o++)
            {
                double expected = p[1].Data[o];
                for (int i = 0; i < 4; i++)
                {
                    expected += (double)x[(n * 4) + i] * p[0].Data[(o * 4) + i];
                }

                Assert.Equal(expected, first[(n * 3) + o], 5);
            }
        }
    }

    [Fact]
    public void LoadParameters_RoundTripsValues_AndRejectsWrongShapes()
    {
        using SequentialNetwork source = TestTorch.CreateSmallMlp(seed: 1);
        using SequentialNetwork target = TestTorch.CreateSmallMlp(seed: 2);

        target.LoadParameters(source.GetParameters());

        AssertBitIdentical(source.GetParameters(), target.GetParameters());
        IReadOnlyList<NamedParameter> wrong = [.. source.GetParameters().Select(p => p.Name == "0.bias" ? p with { Shape = [15], Data = new float[15] } : p)];
        var ex = Assert.Throws<ArgumentException>(() => target.LoadParameters(wrong));
        Assert.Contains("Parameter '0.bias' has shape [15] and 15 values but the network's is [16] with 16 values", ex.Message, StringComparison.Ordinal);
        var missing = Assert.Throws<ArgumentException>(() => target.LoadParameters(source.GetParameters().Take(3).ToList()));
        Assert.Contains("Parameter '2.bias' is missing", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Dispose_IsIdempotent_AndLaterCallsThrowObjectDisposed()
    {
        SequentialNetwork network = TestTorch.CreateSmallMlp();
        NetworkOptimizer optimizer = network.CreateOptimizer(Adam);

        network.Dispose();
        network.Dispose();

        Assert.Throws<ObjectDisposedException>(() => network.Forward(new float[4], [1, 4], new float[3]));
        Assert.Throws<ObjectDisposedException>(() => network.TrainStep(optimizer, new float[4], [1, 4], [0]));
        Assert.Throws<ObjectDisposedException>(() => network.GetParameters());
        Assert.Throws<ObjectDisposedException>(() => network.CreateOptimizer(Adam));
        Assert.Throws<ObjectDisposedException>(() => network.ExportOnnx(new MemoryStream()));
        optimizer.Dispose();
        optimizer.Dispose();
    }

    [Fact]
    public void TrainStep_DisposedOptimizer_ThrowsObjectDisposed()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        NetworkOptimizer optimizer = network.CreateOptimizer(Adam);
        optimizer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => network.TrainStep(optimizer, new float[4], [1, 4], [0]));
        Assert.Throws<ObjectDisposedException>(() => optimizer.LearningRate = 0.1);
    }

    [Fact]
    public void ExportOnnx_WritesValidModelWithNetworkSignatureAndParameters()
    {
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new FlattenLayer(), new LinearLayer(4, 8), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(8, 3)],
            new TensorSpec("pixels", TensorElementType.Float, [-1, 2, 2]),
            seed: 5);
        using var stream = new MemoryStream();

        network.ExportOnnx(stream, opset: 17, new Dictionary<string, string> { ["run"] = "abc" });

        OnnxModel loaded = OnnxModel.Load(stream.ToArray());
        ModelProto model = ModelProto.Parser.ParseFrom(loaded.ToArray());
        ModelSignature signature = loaded.ReadSignature();
        Assert.Equal(network.Input, signature.Inputs.Single());
        Assert.Equal("logits", signature.Outputs.Single().Name);
        Assert.Equal(17, loaded.DefaultOpset);
        Assert.Contains(loaded.Metadata, p => p.Key == "run" && p.Value == "abc");
        NamedParameter weight = network.GetParameters()[0];
        TensorProto initializer = model.Graph.Initializer.Single(t => t.Name == weight.Name);
        Assert.Equal(weight.Shape, initializer.Dims);
    }

    private static void AssertKeepsTraining(SequentialNetwork network, NetworkOptimizer optimizer)
    {
        float[] before = network.GetParameters()[0].Data;
        float[] features = [1f, 0f, 0f, 0f, 0f, 1f, 0f, 0f, 0f, 0f, 1f, 0f];
        float loss = network.TrainStep(optimizer, features, [3, 4], [0, 1, 2]);
        Assert.True(float.IsFinite(loss) && loss > 0, $"loss {loss}");
        Assert.NotEqual(before, network.GetParameters()[0].Data);
    }

    private static void AssertBitIdentical(IReadOnlyList<NamedParameter> expected, IReadOnlyList<NamedParameter> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            Assert.True(
                expected[i].Data.AsSpan().SequenceEqual(actual[i].Data),
                $"{expected[i].Name} differs");
        }
    }
}
