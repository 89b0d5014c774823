using ModelKit.Monitoring.Features;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Tests.Features;

public sealed class FeatureExtractorTests
{
    /// <summary>Two images of 2 channels × 3 × 4 pixels; one pixel of the second image is NaN (counted, left out of every reduction).</summary>
    [Fact]
    public void Extract_ImageReducers_EqualExactComputationPerChannel_AndSkipNonFinitePixels()
    {
        var signature = new ModelSignature([new TensorSpec("image", TensorElementType.Float, [-1, 2, 3, 4])], []);
        var extractor = new FeatureExtractor(signature, TensorReducers.Default | TensorReducers.IntensityHistogram);
        var random = new Random(5);
        float[] pixels = [.. Enumerable.Range(0, 48).Select(_ => (float)random.NextDouble())];
        pixels[24 + 7] = float.NaN;

        double[] rows = extractor.Extract([new NamedTensor("image", Tensor.Create<float>(pixels, 2, 2, 3, 4))], [], out long nonFinite);

        Assert.Equal(1, nonFinite);
        Assert.Equal(
            ["image.c0.mean", "image.c0.std", "image.c1.mean", "image.c1.std", "image.l2", "image.hist0", "image.hist1", "image.hist2", "image.hist3", "image.roughness"],
            extractor.Features.Select(f => f.Name));
        int width = extractor.Features.Count;
        for (int r = 0; r < 2; r++)
        {
            double[] image = [.. pixels.Skip(r * 24).Take(24).Select(p => (double)p)];
            double[] finite = [.. image.Where(double.IsFinite)];
            for (int c = 0; c < 2; c++)
            {
                double[] channel = [.. image.Skip(c * 12).Take(12).Where(double.IsFinite)];
                double mean = channel.Average();
                Assert.Equal(mean, rows[(r * width) + (2 * c)], 12);
                Assert.Equal(Math.Sqrt(channel.Sum(v => (v - mean) * (v - mean)) / channel.Length), rows[(r * width) + (2 * c) + 1], 12);
            }

            Assert.Equal(Math.Sqrt(finite.Sum(v => v * v)), rows[(r * width) + 4], 12);
            for (int q = 0; q < 4; q++)
            {
                Assert.Equal((double)finite.Count(v => Math.Min(3, (int)(v / 0.25)) == q) / finite.Length, rows[(r * width) + 5 + q], 12);
            }

            double[] steps = [.. Enumerable.Range(0, 6).SelectMany(line => Enumerable.Range(1, 3).Select(i => image[(line * 4) + i] - image[(line * 4) + i - 1])).Where(double.IsFinite)];
            Assert.Equal(steps.Average(Math.Abs), rows[(r * width) + 9], 12);
        }
    }

    [Fact]
    public void Extract_ChannelWithLargeOffset_StandardDeviationStaysExact()
    {
        var signature = new ModelSignature([new TensorSpec("x", TensorElementType.Double, [-1, 1, 1, 4])], []);
        var extractor = new FeatureExtractor(signature, TensorReducers.Mean | TensorReducers.StandardDeviation);
        double[] values = [1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4];
        double[] rows = extractor.Extract([new NamedTensor("x", Tensor.Create<double>(values, 1, 1, 1, 4))], [], out _);
        Assert.Equal(1e9 + 2.5, rows[0], 6);
        Assert.Equal(Math.Sqrt(1.25), rows[1], 6);
    }

    /// <summary>The vectorised reducer (every finite image) equals the scalar two-pass one, on sizes with and without a vector remainder, and declines samples with NaN or infinities.</summary>
    [Theory]
    [InlineData(1, 28, 28)]
    [InlineData(3, 5, 7)]
    [InlineData(2, 1, 3)]
    public void ReduceVectorized_EqualsScalarReducer_AndDeclinesNonFinite(int channels, int height, int width)
    {
        var random = new Random(channels * 100 + width);
        double[] sample = [.. Enumerable.Range(0, channels * height * width).Select(_ => (random.NextDouble() * 1.2) - 0.1)];
        const TensorReducers all = TensorReducers.Default | TensorReducers.IntensityHistogram;
        var scalar = new double[(2 * channels) + 6];
        var vector = new double[scalar.Length];
        FeatureExtractor.Reduce(sample, channels, all, width, scalar);
        Assert.True(FeatureExtractor.ReduceVectorized(sample, channels, all, width, vector) || !System.Numerics.Vector.IsHardwareAccelerated);
        for (int i = 0; i < scalar.Length && System.Numerics.Vector.IsHardwareAccelerated; i++)
        {
            Assert.Equal(scalar[i], vector[i], 12);
        }

        sample[^1] = double.NaN;
        Assert.False(FeatureExtractor.ReduceVectorized(sample, channels, all, width, vector));
        sample[^1] = double.NegativeInfinity;
        Assert.False(FeatureExtractor.ReduceVectorized(sample, channels, all, width, vector));
    }
}
