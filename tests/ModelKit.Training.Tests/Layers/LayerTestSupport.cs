using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelKit.Training.Tests.Layers;

/// <summary>Builds classifier networks around a layer under test and runs exported models on ONNX Runtime.</summary>
internal static class LayerTestSupport
{
    /// <summary>Appends Flatten (when needed) and Linear(→3) so that the network trains with cross-entropy.</summary>
    public static LayerSpec[] Classifier(LayerSpec[] layers, long[] inputShape)
    {
        long[] output = SequentialLayout.InferOutputShape(layers, inputShape);
        if (output.Length == 2)
        {
            return [.. layers, new LinearLayer((int)output[1], 3)];
        }

        long flat = 1;
        for (int d = 1; d < output.Length; d++)
        {
            flat *= output[d];
        }

        return [.. layers, new FlattenLayer(), new LinearLayer((int)flat, 3)];
    }

    public static float[] Random(int count, int seed, double scale = 2, bool integers = false, int bound = 10)
    {
        var random = new Random(seed);
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = integers ? random.Next(bound) : (float)((random.NextDouble() * 2 - 1) * scale);
        }

        return values;
    }

    /// <summary>A few SGD steps on random data so that parameters and BatchNorm statistics leave their initial values.</summary>
    public static void Perturb(SequentialNetwork network, long[] shape, bool integers = false)
    {
        using NetworkOptimizer optimizer = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.05 });
        int count = (int)shape.Aggregate(1L, (a, b) => a * b);
        for (int step = 0; step < 3; step++)
        {
            float[] features = Random(count, 100 + step, integers: integers);
            long[] labels = [.. Enumerable.Range(0, (int)shape[0]).Select(i => (long)((i + step) % 3))];
            network.TrainStep(optimizer, features, shape, labels);
        }
    }

    public static float[] RunOnnx(byte[] model, string inputName, float[] features, long[] shape)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1 };
        using var session = new InferenceSession(model, options);
        var tensor = new DenseTensor<float>(features, [.. shape.Select(d => (int)d)]);
        using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = session.Run([NamedOnnxValue.CreateFromTensor(inputName, tensor)]);
        return [.. ((DenseTensor<float>)outputs[0].Value).Buffer.ToArray()];
    }

    public static float[] Torch(SequentialNetwork network, float[] features, long[] shape, int outputCount)
    {
        float[] output = new float[outputCount];
        network.Forward(features, shape, output);
        return output;
    }

    public static byte[] Export(SequentialNetwork network)
    {
        using var stream = new MemoryStream();
        network.ExportOnnx(stream, opset: 17);
        return stream.ToArray();
    }
}
