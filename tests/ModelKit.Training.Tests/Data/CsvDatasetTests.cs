using ModelKit.Training.Data;
using ModelKit.Training.Distributed;

namespace ModelKit.Training.Tests.Data;

/// <summary>
/// The CSV loader against scikit-learn's bundled CSVs (iris, wine, breast_cancer; extracted by eng/setup.sh from Debian's
/// python3-sklearn into artifacts/datasets/sklearn) and against small files written here for each error.
/// </summary>
public sealed class CsvDatasetTests : IDisposable
{
    private static readonly CsvDatasetOptions Sklearn = new() { Header = CsvHeader.Sklearn };
    private readonly string _dir = Directory.CreateTempSubdirectory("mk-csv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    internal static string SklearnCsv(string file)
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                string path = Path.Combine(dir.FullName, "artifacts", "datasets", "sklearn", file);
                Assert.True(File.Exists(path), $"'{path}' is missing: run 'bash eng/setup.sh', which extracts the sklearn CSVs.");
                return path;
            }
        }

        throw new InvalidOperationException($"No ModelKit.sln above '{AppContext.BaseDirectory}'.");
    }

    [Theory]
    [InlineData("iris.csv", 150, 4, 3, new[] { 50, 50, 50 }, "setosa")]
    [InlineData("wine_data.csv", 178, 13, 3, new[] { 59, 71, 48 }, "class_0")]
    [InlineData("breast_cancer.csv", 569, 30, 2, new[] { 212, 357 }, "malignant")]
    public void Load_SklearnFormat_HasTheDocumentedSizesClassesAndFirstRow(string file, int samples, int features, int classes, int[] perClass, string firstClass)
    {
        TabularDataset table = CsvDataset.Load(SklearnCsv(file), Sklearn);

        Assert.Equal(samples, table.Dataset.Count);
        Assert.Equal([(long)features], table.Dataset.SampleShape);
        Assert.Equal(classes, table.Dataset.ClassCount);
        Assert.Equal(firstClass, table.ClassNames[0]);
        Assert.Equal("label", table.LabelColumn);
        Assert.Equal(features, table.FeatureNames.Count);
        Assert.Equal(perClass, Enumerable.Range(0, classes).Select(c => table.Dataset.Labels.ToArray().Count(l => l == c)));
        Assert.StartsWith("sha256:", table.Dataset.Digest, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_Iris_FirstAndLastRowsMatchTheFile()
    {
        TabularDataset iris = CsvDataset.Load(SklearnCsv("iris.csv"), Sklearn);

        // iris.csv line 2: 5.1,3.5,1.4,0.2,0; last line: 5.9,3.0,5.1,1.8,2.
        Assert.Equal([5.1f, 3.5f, 1.4f, 0.2f], iris.Dataset.Features.Span[..4].ToArray());
        Assert.Equal([5.9f, 3.0f, 5.1f, 1.8f], iris.Dataset.Features.Span[^4..].ToArray());
        Assert.Equal(0, iris.Dataset.Labels.Span[0]);
        Assert.Equal(2, iris.Dataset.Labels.Span[^1]);
    }

    [Fact]
    public void Load_ColumnNames_LabelByNameInTheMiddle_WithClassNamesAndQuotes()
    {
        string path = Write("a,species,\"b, quoted\"\n1.5,cat,2\n-3e-1,dog,\"4.25\"\n 7 ,cat,8\n");

        TabularDataset t = CsvDataset.Load(path, new CsvDatasetOptions { LabelColumn = "species" });

        Assert.Equal(["a", "b, quoted"], t.FeatureNames);
        Assert.Equal("species", t.LabelColumn);
        Assert.Equal(["cat", "dog"], t.ClassNames);
        Assert.Equal([1.5f, 2f, -0.3f, 4.25f, 7f, 8f], t.Dataset.Features.ToArray());
        Assert.Equal([0L, 1, 0], t.Dataset.Labels.ToArray());
    }

    [Fact]
    public void Load_NoHeader_LabelByIndex_IntegerLabels()
    {
        string path = Write("1;0;2\n3;1;4\n5;2;6\n");

        TabularDataset t = CsvDataset.Load(path, new CsvDatasetOptions { Header = CsvHeader.None, LabelColumnIndex = 1, Delimiter = ';' });

        Assert.Equal(["column_0", "column_2"], t.FeatureNames);
        Assert.Equal(3, t.Dataset.ClassCount);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], t.Dataset.Features.ToArray());
        Assert.Equal([0L, 1, 2], t.Dataset.Labels.ToArray());
    }

    [Fact]
    public void Load_DifferentLabelColumn_GivesADifferentDigest()
    {
        string path = Write("x,y,z\n1,0,1\n2,1,0\n");

        string last = CsvDataset.Load(path).Dataset.Digest;
        string middle = CsvDataset.Load(path, new CsvDatasetOptions { LabelColumn = "y" }).Dataset.Digest;

        Assert.NotEqual(last, middle);
        Assert.Equal(last, CsvDataset.Load(path).Dataset.Digest);
    }

    [Fact]
    public void Load_NonNumericFeature_NamesLineColumnAndValue()
    {
        string path = Write("a,b,label\n1,2,0\n3,oops,1\n");

        var ex = Assert.Throws<InvalidDataException>(() => CsvDataset.Load(path));

        Assert.Contains("line 3, column 2 ('b'): 'oops' is not a finite number", ex.Message, StringComparison.Ordinal);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a,b,label\n1,,0\n3,4,1\n", "line 2, column 2 ('b'): '' is not a finite number")]
    [InlineData("a,b,label\n1,NaN,0\n3,4,1\n", "line 2, column 2 ('b'): 'NaN' is not a finite number")]
    [InlineData("a,b,label\n1,1e39,0\n3,4,1\n", "line 2, column 2 ('b'): '1e39' is not a finite number")]
    [InlineData("a,b,label\n1,2,0\n3,4\n", "line 3 has 2 cells; the header has 3 columns (a, b, label)")]
    public void Load_BadCells_AreNamed(string text, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => CsvDataset.Load(Write(text)));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_LabelOutsideTheSklearnClasses_NamesLineAndClasses()
    {
        string path = Write("2,2,no,yes\n1,2,0\n3,4,2\n");

        var ex = Assert.Throws<InvalidDataException>(() => CsvDataset.Load(path, Sklearn));

        Assert.Contains("line 3, column 'label': label '2' is neither one of the 2 class names (no, yes) nor an index in [0, 2)", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("3,2,no,yes\n1,2,0\n3,4,1\n", "declares 3 samples but the file holds 2")]
    [InlineData("2,3,no,yes\n1,2,0\n3,4,1\n", "line 2 has 3 cells; the header has 4 columns (feature_0, feature_1, feature_2, label)")]
    [InlineData("a,b,label\n1,2,0\n", "is not an sklearn header")]
    public void Load_SklearnHeaderDisagreesWithData_IsAnError(string text, string expected)
    {
        var ex = Assert.Throws<InvalidDataException>(() => CsvDataset.Load(Write(text), Sklearn));

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadOptions_AreClearErrors()
    {
        string path = Write("a,b,label\n1,2,0\n3,4,1\n");

        Assert.Contains("'nope' is not among the columns", Assert.Throws<ArgumentException>(() => CsvDataset.Load(path, new CsvDatasetOptions { LabelColumn = "nope" })).Message, StringComparison.Ordinal);
        Assert.Contains("index 3 lies outside the 3 columns", Assert.Throws<ArgumentException>(() => CsvDataset.Load(path, new CsvDatasetOptions { LabelColumnIndex = 3 })).Message, StringComparison.Ordinal);
        Assert.Contains("Both LabelColumn", Assert.Throws<ArgumentException>(() => CsvDataset.Load(path, new CsvDatasetOptions { LabelColumn = "a", LabelColumnIndex = 0 })).Message, StringComparison.Ordinal);
        Assert.Contains("1 class(es)", Assert.Throws<ArgumentException>(() => CsvDataset.Load(Write("a,label\n1,0\n2,0\n"))).Message, StringComparison.Ordinal);
        Assert.Throws<DatasetNotFoundException>(() => CsvDataset.Load(Path.Combine(_dir, "missing.csv")));
        Assert.Contains("is empty", Assert.Throws<InvalidDataException>(() => CsvDataset.Load(Write(string.Empty))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainTest_IsStratifiedDisjointCompleteAndSeeded()
    {
        LabeledDataset wine = CsvDataset.Load(SklearnCsv("wine_data.csv"), Sklearn).Dataset;

        TrainTestSplit split = DatasetSplit.TrainTest(wine, 0.25, seed: 11);
        TrainTestSplit again = DatasetSplit.TrainTest(wine, 0.25, seed: 11);
        TrainTestSplit other = DatasetSplit.TrainTest(wine, 0.25, seed: 12);

        // round(59/4) + round(71/4) + round(48/4) = 15 + 18 + 12 held out.
        Assert.Equal(45, split.Test.Count);
        Assert.Equal(178 - 45, split.Train.Count);
        Assert.Equal([15, 18, 12], Enumerable.Range(0, 3).Select(c => split.Test.Labels.ToArray().Count(l => l == c)));
        Assert.Equal(split.Test.Features.ToArray(), again.Test.Features.ToArray());
        Assert.NotEqual(split.Test.Features.ToArray(), other.Test.Features.ToArray());
        var rows = new HashSet<string>(StringComparer.Ordinal);
        foreach (LabeledDataset part in (LabeledDataset[])[split.Train, split.Test])
        {
            for (int i = 0; i < part.Count; i++)
            {
                Assert.True(rows.Add(string.Join(',', part.Features.Span.Slice(i * 13, 13).ToArray())), "a sample is in both parts");
            }
        }

        Assert.Equal(178, rows.Count);
        Assert.NotEqual(split.Train.Digest, split.Test.Digest);
        Assert.Throws<ArgumentOutOfRangeException>(() => DatasetSplit.TrainTest(wine, 1.0, 1));
    }

    [Fact]
    public void Standardizer_UsesTheTrainingSplitsStatisticsOnly()
    {
        LabeledDataset train = new("t", [1f, 10f, 3f, 10f, 5f, 10f], [0, 1, 0], [2], 2, "sha256:t");
        LabeledDataset test = new("v", [3f, 20f], [1], [2], 2, "sha256:v");

        FeatureStandardizer s = FeatureStandardizer.Fit(train);
        LabeledDataset z = s.Transform(test);

        // Feature 0: mean 3, population std sqrt(8/3); feature 1 is constant: mean 10, scale 1.
        Assert.Equal([3f, 10f], s.Mean);
        Assert.Equal((float)Math.Sqrt(8.0 / 3.0), s.Scale[0], 6);
        Assert.Equal(1f, s.Scale[1]);
        Assert.Equal([0f, 10f], z.Features.ToArray());
        Assert.Equal([1L], z.Labels.ToArray());
        Assert.Equal("sha256:v|standardized(sha256:t)", z.Digest);
        Assert.Contains("3 features per sample", Assert.Throws<ArgumentException>(() => s.Transform(new LabeledDataset("w", [1f, 2f, 3f], [0], [3], 2, "d"))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DistributedSampler_ShardsACsvDataSetIntoDisjointCompleteShards()
    {
        LabeledDataset iris = CsvDataset.Load(SklearnCsv("iris.csv"), Sklearn).Dataset;
        var seen = new List<int>();

        for (int rank = 0; rank < 2; rank++)
        {
            seen.AddRange(new DistributedSampler(iris.Count, 2, rank, shuffle: true, seed: 5).Indices(epoch: 3));
        }

        Assert.Equal(Enumerable.Range(0, 150), seen.Order());
    }

    [Theory]
    [InlineData("iris.csv", 4, 3, 0.93)]
    [InlineData("wine_data.csv", 13, 3, 0.93)]
    public async Task Mlp_TrainedOnAStandardisedSklearnCsv_ReachesASensibleTestAccuracy(string file, int features, int classes, double minimum)
    {
        LabeledDataset all = CsvDataset.Load(SklearnCsv(file), Sklearn).Dataset;
        TrainTestSplit split = DatasetSplit.TrainTest(all, 0.3, seed: 1);
        FeatureStandardizer standardizer = FeatureStandardizer.Fit(split.Train);
        LabeledDataset train = standardizer.Transform(split.Train);
        LabeledDataset test = standardizer.Transform(split.Test);
        using SequentialNetwork network = TestTorch.Trainer.CreateNetwork(
            [new LinearLayer(features, 32), new ReluLayer(), new LinearLayer(32, classes)],
            new TensorSpec("input", TensorElementType.Float, [-1, features]),
            seed: 2);

        TrainingReport report = await TestTorch.Trainer.TrainAsync(
            network, train, test, new TrainingRunOptions { Epochs = 60, BatchSize = 16, LearningRate = 0.01, Seed = 3 });

        // Published hold-out accuracies for small MLPs / logistic regression on these sets are 0.95–1.0.
        Assert.True(report.FinalValidationAccuracy >= minimum, $"{file}: test accuracy {report.FinalValidationAccuracy:F4}");
        Assert.Equal(train.Digest, report.TrainDatasetDigest);
    }

    private string Write(string text)
    {
        string path = Path.Combine(_dir, $"{Guid.NewGuid():N}.csv");
        File.WriteAllText(path, text);
        return path;
    }
}
