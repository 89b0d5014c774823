using Microsoft.Extensions.Options;
using ModelKit.Training.Data;

namespace ModelKit.Training.Tests;

/// <summary>A shared trainer over the shim copied next to the tests, and tiny synthetic data sets.</summary>
internal static class TestTorch
{
    public static readonly Trainer Trainer = new(Options.Create(new TorchTrainingOptions { ThreadCount = 2 }));

    /// <summary>Input [-1, 4]: four float32 features per sample.</summary>
    public static readonly TensorSpec Input4 = new("input", TensorElementType.Float, [-1, 4]);

    /// <summary>4 → 16 → ReLU → 3.</summary>
    public static LayerSpec[] SmallMlp() => [new LinearLayer(4, 16), new ReluLayer(), new LinearLayer(16, 3)];

    public static SequentialNetwork CreateSmallMlp(long seed = 7) => Trainer.CreateNetwork(SmallMlp(), Input4, seed);

    /// <summary>
    /// Three well separated Gaussian blobs in four dimensions (centres ±3 apart, noise σ = 0.5), so a linear model
    /// separates them: <paramref name="count"/> samples, labels 0..2 cycling.
    /// </summary>
    public static LabeledDataset Blobs(int count, int seed, string name = "blobs")
    {
        float[][] centres =
        [
            [3f, 0f, -3f, 0f],
            [-3f, 3f, 0f, 0f],
            [0f, -3f, 3f, 3f],
        ];
        var random = new Random(seed);
        float[] features = new float[count * 4];
        long[] labels = new long[count];
        for (int i = 0; i < count; i++)
        {
            int label = i % 3;
            labels[i] = label;
            for (int f = 0; f < 4; f++)
            {
                features[(i * 4) + f] = centres[label][f] + (float)(NextGaussian(random) * 0.5);
            }
        }

        return new LabeledDataset(name, features, labels, [4], 3, $"sha256:test-{name}-{seed}");
    }

    private static double NextGaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
