using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;

namespace ModelKit.Monitoring.Tests.Profiles;

public sealed class FileReferenceProfileStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"modelkit-monitoring-{Guid.NewGuid():N}");

    private FileReferenceProfileStore Store() =>
        new(Options.Create(new ModelKitOptions { DataDirectory = _directory }), Options.Create(new MonitoringOptions()));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task SaveAsync_ThenGetAsync_ReturnsTheSameProfileKeyedByNameVersionAndDigest()
    {
        ModelVersion version = TestData.Classifier();
        ReferenceProfile profile = TestData.Profile(version, 2000);
        FileReferenceProfileStore store = Store();
        await store.SaveAsync(version, profile);

        string path = store.PathOf(version);
        Assert.EndsWith(Path.Combine("monitoring", "profiles", "tabular", "1-bbbbbbbbbbbbbbbb.json"), path, StringComparison.Ordinal);
        ReferenceProfile? read = await store.GetAsync(version);
        Assert.NotNull(read);
        Assert.Equal(profile.RowCount, read.RowCount);
        Assert.Equal(profile.Accuracy, read.Accuracy);
        Assert.Equal(profile.Features.Select(f => f.Name), read.Features.Select(f => f.Name));
        Assert.Equal(profile.Features[0].BinEdges, read.Features[0].BinEdges);
        Assert.Equal(profile.Features[3].Categories, read.Features[3].Categories);
        Assert.Equal(FeatureKind.Categorical, read.Features[3].Kind);
        Assert.Null(await store.GetAsync(TestData.Classifier(version: 2)));
    }

    [Fact]
    public async Task GetAsync_CorruptFile_ThrowsInvalidDataNamingTheFile()
    {
        ModelVersion version = TestData.Classifier();
        FileReferenceProfileStore store = Store();
        Directory.CreateDirectory(Path.GetDirectoryName(store.PathOf(version))!);
        await File.WriteAllTextAsync(store.PathOf(version), "{not json");
        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => store.GetAsync(version));
        Assert.Contains(store.PathOf(version), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SaveAsync_ProfileOfAnotherArtifact_ThrowsAndStoresNothing()
    {
        ModelVersion version = TestData.Classifier();
        ReferenceProfile profile = TestData.Profile(version, 500);
        ModelVersion other = TestData.Classifier(digest: "sha256:" + new string('f', 64));
        FileReferenceProfileStore store = Store();
        var ex = await Assert.ThrowsAsync<ReferenceProfileMismatchException>(() => store.SaveAsync(other, profile));
        Assert.Contains("sha256:ffff", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(store.PathOf(other)));
    }

    [Fact]
    public void Build_LabelledRows_RecordsAccuracyAndAMonotoneEnoughCalibration()
    {
        ReferenceProfile profile = TestData.Profile(TestData.Classifier(), 5000);
        Assert.NotNull(profile.Accuracy);
        Assert.Equal(5000, profile.LabelledCount);
        ConfidenceCalibration calibration = profile.Calibration!;
        Assert.Equal(20, calibration.Accuracy.Length);
        Assert.True(calibration.Calibrate(0.99) > calibration.Calibrate(0.3));
    }
}
