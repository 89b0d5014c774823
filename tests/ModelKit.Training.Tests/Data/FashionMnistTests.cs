using ModelKit.Training.Data;

namespace ModelKit.Training.Tests.Data;

public sealed class FashionMnistTests
{
    [Fact]
    public void Load_MissingDirectory_ThrowsNamingFileAndDebianPackage()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mk-no-such-{Guid.NewGuid():N}");

        var ex = Assert.Throws<DatasetNotFoundException>(() => FashionMnist.Load(dir));

        Assert.Equal(Path.Combine(dir, "train-images-idx3-ubyte.gz"), ex.Path);
        Assert.Contains("apt-get install dataset-fashion-mnist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_InstalledPackage_HasTheDocumentedSizesAndScaledPixels()
    {
        FashionMnistSplits splits = FashionMnist.Load();

        Assert.Equal(60_000, splits.Train.Count);
        Assert.Equal(10_000, splits.Test.Count);
        Assert.Equal([1L, 28, 28], splits.Test.SampleShape);
        Assert.Equal(10, splits.Test.ClassCount);
        Assert.StartsWith("sha256:", splits.Train.Digest, StringComparison.Ordinal);
        Assert.NotEqual(splits.Train.Digest, splits.Test.Digest);
        float max = 0;
        foreach (float v in splits.Test.Features.Span)
        {
            Assert.InRange(v, 0f, 1f);
            max = Math.Max(max, v);
        }

        Assert.Equal(1f, max);
        // Each class has 1,000 test images (Xiao et al., 2017).
        var perClass = new int[10];
        foreach (long label in splits.Test.Labels.Span)
        {
            perClass[label]++;
        }

        Assert.All(perClass, c => Assert.Equal(1000, c));
    }
}
