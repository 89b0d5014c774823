using MathNet.Numerics.Distributions;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Tests;

/// <summary>A tabular classifier (3 columns → 4 classes, fixed linear scores) and data for it.</summary>
internal static class TestData
{
    public static readonly double[,] Weights = { { 1.5, 0, 0 }, { 0, 1.5, 0 }, { 0, 0, 1.5 }, { -1, -1, -1 } };

    public static ModelVersion Classifier(string name = "tabular", int version = 1, string? digest = null) => new()
    {
        Name = name,
        Version = version,
        Digest = digest ?? "sha256:" + new string((char)('a' + (version % 6)), 64),
        SizeBytes = 100,
        Format = ModelFormats.Onnx,
        Signature = new ModelSignature(
            [new TensorSpec("x", TensorElementType.Float, [-1, 3])],
            [new TensorSpec("logits", TensorElementType.Float, [-1, 4])]),
        CreatedAt = DateTimeOffset.UnixEpoch,
    };

    /// <summary>Rows of N(shift, 1) columns, their logits and the label the "true" process gives (argmax of noisy logits).</summary>
    public static (float[] X, float[] Logits, double[] Labels) Rows(Random random, int rows, double shift = 0)
    {
        var x = new float[rows * 3];
        var logits = new float[rows * 4];
        var labels = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < 3; c++)
            {
                x[(r * 3) + c] = (float)Normal.Sample(random, c == 0 ? shift : 0, 1);
            }

            int best = 0;
            double bestNoisy = double.NegativeInfinity;
            for (int k = 0; k < 4; k++)
            {
                double s = 0;
                for (int c = 0; c < 3; c++)
                {
                    s += Weights[k, c] * x[(r * 3) + c];
                }

                logits[(r * 4) + k] = (float)s;
                double noisy = s + Normal.Sample(random, 0, 1);
                if (noisy > bestNoisy)
                {
                    bestNoisy = noisy;
                    best = k;
                }
            }

            labels[r] = best;
        }

        return (x, logits, labels);
    }

    public static NamedTensor[] Inputs(float[] x) => [new NamedTensor("x", Tensor.Create<float>(x, x.Length / 3, 3))];

    public static NamedTensor[] Outputs(float[] logits) => [new NamedTensor("logits", Tensor.Create<float>(logits, logits.Length / 4, 4))];

    public static ReferenceProfile Profile(ModelVersion version, int rows = 5000, int seed = 1)
    {
        var random = new Random(seed);
        var builder = new ReferenceProfileBuilder(version);
        (float[] x, float[] logits, double[] labels) = Rows(random, rows);
        builder.Add(Inputs(x), Outputs(logits), labels);
        return builder.Build("dataset", DateTimeOffset.UnixEpoch);
    }

    public static InferenceObservation Observation(ModelVersion version, float[] x, float[] logits, DateTimeOffset at, string? requestId = null, double seconds = 0.001) =>
        new(version.Reference.ToString(), version, Inputs(x), Outputs(logits), TimeSpan.FromSeconds(seconds), at) { RequestId = requestId };
}

/// <summary>A profile store in memory, for tests that are not about storage.</summary>
internal sealed class MemoryProfileStore : IReferenceProfileStore
{
    private readonly Dictionary<(string, int), ReferenceProfile> _profiles = [];

    public Task<ReferenceProfile?> GetAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        lock (_profiles)
        {
            return Task.FromResult(_profiles.GetValueOrDefault((version.Name, version.Version)));
        }
    }

    public Task SaveAsync(ModelVersion version, ReferenceProfile profile, CancellationToken cancellationToken = default)
    {
        lock (_profiles)
        {
            _profiles[(version.Name, version.Version)] = profile;
        }

        return Task.CompletedTask;
    }
}
