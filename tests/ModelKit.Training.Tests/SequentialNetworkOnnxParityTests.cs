using Microsoft.Extensions.Options;
using ModelKit.Onnx;
using ModelKit.Serving;
using ModelKit.Training.Data;

namespace ModelKit.Training.Tests;

/// <summary>
/// The exported ONNX model must compute what the trained libtorch network computes: the same random inputs go through
/// libtorch's eval forward and through ONNX Runtime on the exported model, and the logits agree within 1e-5 (max
/// absolute difference).
/// </summary>
public sealed class SequentialNetworkOnnxParityTests : IDisposable
{
    private const float Tolerance = 1e-5f;
    private readonly OnnxRuntimeSessionFactory _sessions = new(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = 1 }));

    public void Dispose() => _sessions.Dispose();

    [Fact]
    public async Task ExportedMlp_AfterTraining_MatchesLibtorchForwardWithin1e5()
    {
        // The quick start's architecture, trained for one short epoch on random images so the weights are not the init.
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]);
        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(layers, input, seed: 3);
        LabeledDataset train = RandomImages(256, seed: 11);
        await TestTorch.Trainer.TrainAsync(network, train, null, new TrainingRunOptions { Epochs = 1, BatchSize = 64, LearningRate = 1e-2 });

        float maxDifference = MaxDifference(network, RandomImages(37, seed: 12).Features.ToArray(), [37, 1, 28, 28]);

        Assert.InRange(maxDifference, 0f, Tolerance);
    }

    [Fact]
    public void ExportedDeeperMlp_OnRank2Input_MatchesLibtorchForwardWithin1e5()
    {
        LayerSpec[] layers = [new LinearLayer(20, 64), new ReluLayer(), new LinearLayer(64, 32), new ReluLayer(), new DropoutLayer(0.5), new LinearLayer(32, 5)];
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(layers, new TensorSpec("features", TensorElementType.Float, [-1, 20]), seed: 5);
        var random = new Random(99);
        float[] features = new float[9 * 20];
        for (int i = 0; i < features.Length; i++)
        {
            features[i] = (float)((random.NextDouble() * 8) - 4);
        }

        float maxDifference = MaxDifference(network, features, [9, 20]);

        Assert.InRange(maxDifference, 0f, Tolerance);
    }

    [Fact]
    public void ExportedModel_SignatureMatchesNetworkInputAndOutput()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx);

        using IInferenceSession session = _sessions.Create(onnx.ToArray());

        Assert.Equal(network.Input, session.Signature.Inputs.Single());
        Assert.Equal(new TensorSpec("logits", TensorElementType.Float, [-1, 3]), session.Signature.Outputs.Single());
        Assert.Equal(session.Signature, OnnxModel.Load(onnx.ToArray()).ReadSignature());
    }

    private float MaxDifference(SequentialNetwork network, float[] features, long[] shape)
    {
        int batch = (int)shape[0];
        float[] expected = new float[batch * network.ClassCount];
        network.Forward(features, shape, expected);

        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx, opset: 17);
        using IInferenceSession session = _sessions.Create(onnx.ToArray());
        IReadOnlyList<NamedTensor> outputs = session.Run([new NamedTensor(network.Input.Name, Tensor.Create<float>(features, shape))]);
        ReadOnlySpan<float> actual = ((Tensor<float>)outputs[0].Value).Span;

        Assert.Equal(expected.Length, actual.Length);
        float max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(float.IsFinite(expected[i]), $"libtorch logit {i} is {expected[i]}");
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }

    private static LabeledDataset RandomImages(int count, int seed)
    {
        var random = new Random(seed);
        float[] pixels = new float[count * 784];
        long[] labels = new long[count];
        for (int i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (float)random.NextDouble();
        }

        for (int i = 0; i < count; i++)
        {
            labels[i] = random.Next(10);
        }

        return new LabeledDataset("random-images", pixels, labels, [1, 28, 28], 10, "sha256:test");
    }
}
