using System.Globalization;
using ModelKit.Training.Internal;

namespace ModelKit.Training.Data;

/// <summary>A training split and a held-out split of one data set.</summary>
/// <param name="Train">The training samples.</param>
/// <param name="Test">The held-out samples.</param>
public sealed record TrainTestSplit(LabeledDataset Train, LabeledDataset Test);

/// <summary>Splits a data set into training and held-out parts, for tables that ship without a split (the sklearn CSVs).</summary>
public static class DatasetSplit
{
    /// <summary>
    /// A stratified, seeded split: each class's samples are shuffled (SplitMix64 from <paramref name="seed"/>, identical on
    /// every platform) and <c>round(count × testFraction)</c> of them go to the test part, so both parts keep the class
    /// proportions. Samples keep their original order inside each part.
    /// </summary>
    /// <param name="dataset">The data set to split.</param>
    /// <param name="testFraction">The held-out fraction, in (0, 1).</param>
    /// <param name="seed">The shuffle seed.</param>
    /// <returns>Copies of the two parts; their digests are the source digest followed by the split and the part.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="dataset"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="testFraction"/> is not in (0, 1).</exception>
    /// <exception cref="ArgumentException">A part would be empty.</exception>
    public static TrainTestSplit TrainTest(LabeledDataset dataset, double testFraction, long seed)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        if (!(testFraction > 0 && testFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "The test fraction must lie in (0, 1), for example 0.2.");
        }

        ReadOnlySpan<long> labels = dataset.Labels.Span;
        var byClass = new List<int>[dataset.ClassCount];
        for (int c = 0; c < byClass.Length; c++)
        {
            byClass[c] = [];
        }

        for (int i = 0; i < labels.Length; i++)
        {
            byClass[labels[i]].Add(i);
        }

        var random = new SplitMix64(seed);
        var isTest = new bool[dataset.Count];
        foreach (List<int> members in byClass)
        {
            int[] shuffled = [.. members];
            random.Shuffle(shuffled);
            int take = (int)Math.Round(shuffled.Length * testFraction, MidpointRounding.AwayFromZero);
            for (int k = 0; k < take; k++)
            {
                isTest[shuffled[k]] = true;
            }
        }

        int testCount = isTest.Count(t => t);
        if (testCount == 0 || testCount == dataset.Count)
        {
            throw new ArgumentException(
                $"Splitting the {dataset.Count} samples of '{dataset.Name}' at test fraction {testFraction} leaves a part empty; use a fraction nearer 0.5 or more data.",
                nameof(testFraction));
        }

        string tag = string.Create(CultureInfo.InvariantCulture, $"split({testFraction},{seed})");
        return new TrainTestSplit(Take(dataset, isTest, false, $"{tag}:train"), Take(dataset, isTest, true, $"{tag}:test"));
    }

    private static LabeledDataset Take(LabeledDataset dataset, bool[] isTest, bool test, string tag)
    {
        int d = dataset.SampleSize;
        int count = isTest.Count(t => t == test);
        var features = new float[count * d];
        var labels = new long[count];
        ReadOnlySpan<float> x = dataset.Features.Span;
        ReadOnlySpan<long> y = dataset.Labels.Span;
        int k = 0;
        for (int i = 0; i < isTest.Length; i++)
        {
            if (isTest[i] == test)
            {
                x.Slice(i * d, d).CopyTo(features.AsSpan(k * d, d));
                labels[k++] = y[i];
            }
        }

        return new LabeledDataset($"{dataset.Name}/{(test ? "test" : "train")}", features, labels, [.. dataset.SampleShape], dataset.ClassCount, $"{dataset.Digest}|{tag}");
    }
}
