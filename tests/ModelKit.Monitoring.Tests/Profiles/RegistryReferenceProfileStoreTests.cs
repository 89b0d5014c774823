using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Profiles;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Tests.Profiles;

/// <summary>Reference profiles stored as version attachments in a real registry (SQLite + files in a temporary data directory).</summary>
public sealed class RegistryReferenceProfileStoreTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"modelkit-profile-registry-{Guid.NewGuid():N}");
    private ServiceProvider _provider = null!;
    private IModelRegistry _registry = null!;
    private ModelVersion _version = null!;

    public async Task InitializeAsync()
    {
        _provider = Build();
        _registry = _provider.GetRequiredService<IModelRegistry>();
        using var content = new MemoryStream(Model());
        _version = await _registry.RegisterAsync(new ModelRegistration("tabular"), content);
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private ServiceProvider Build()
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _directory).AddOnnx().AddModelRegistry().AddMonitoring(o =>
        {
            o.WindowSize = 100;
            o.BaselineSize = 100;
        });
        return services.BuildServiceProvider();
    }

    private static byte[] Model() =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("W", [1.5f, 0, 0, 0, 1.5f, 0, 0, 0, 1.5f, -1, -1, -1], 4, 3)
            .AddNode("Gemm", ["x", "W"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 4)
            .ToBytes();

    private RegistryReferenceProfileStore Store() => new(_registry, Options.Create(new MonitoringOptions()));

    [Fact]
    public async Task AddMonitoring_WithARegistry_StoresProfilesWithTheVersion()
    {
        Assert.IsType<RegistryReferenceProfileStore>(_provider.GetRequiredService<IReferenceProfileStore>());
        ReferenceProfile profile = TestData.Profile(_version, 2000);
        await _provider.GetRequiredService<ModelMonitor>().SetReferenceProfileAsync(_version, profile);

        ModelAttachment attachment = Assert.Single(await _registry.ListAttachmentsAsync("tabular", _version.Version));
        Assert.Equal(RegistryReferenceProfileStore.AttachmentName, attachment.Name);
        Assert.Equal("application/json", attachment.MediaType);
        Assert.StartsWith("sha256:", attachment.Digest, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_directory, "monitoring", "profiles")));
    }

    [Fact]
    public async Task SaveAsync_ThenGetAsync_ReturnsTheSameProfile_AndNullForAVersionWithout()
    {
        RegistryReferenceProfileStore store = Store();
        Assert.Null(await store.GetAsync(_version));
        ReferenceProfile profile = TestData.Profile(_version, 2000);
        await store.SaveAsync(_version, profile);

        ReferenceProfile? read = await store.GetAsync(_version);
        Assert.NotNull(read);
        Assert.Equal(2000, read.RowCount);
        Assert.Equal(profile.Accuracy, read.Accuracy);
        Assert.Equal(profile.Features.Select(f => f.Name), read.Features.Select(f => f.Name));
        Assert.Equal(profile.Features[0].BinEdges, read.Features[0].BinEdges);
        Assert.Equal(profile.Features[3].Categories, read.Features[3].Categories);
    }

    [Fact]
    public async Task ANewMonitor_LoadsTheRegisteredProfile_InsteadOfBuildingABaseline()
    {
        await Store().SaveAsync(_version, TestData.Profile(_version, 2000));
        await using ServiceProvider other = Build();
        ModelMonitor monitor = other.GetRequiredService<ModelMonitor>();
        ModelVersion version = await other.GetRequiredService<IModelRegistry>().ResolveAsync(ModelReference.Parse("tabular/1"));
        (float[] x, float[] logits, _) = TestData.Rows(new Random(3), 1);
        monitor.OnInferenceCompleted(TestData.Observation(version, x, logits, DateTimeOffset.UtcNow));
        await monitor.FlushAsync();

        MonitoredModelState state = monitor.GetState().Single();
        Assert.Equal("dataset", state.ProfileSource);
        Assert.Equal(2000, state.ProfileRows);
        Assert.False(state.InBaseline);
        Assert.Equal(2000, monitor.GetReferenceProfile("tabular", 1)!.RowCount);
    }

    [Fact]
    public async Task GetAsync_StoredProfileWhoseFeaturesDoNotMatchTheSignature_ThrowsNamingBothFeatureLists()
    {
        ReferenceProfile profile = TestData.Profile(_version, 500);
        profile.Features.RemoveAt(2);
        string json = System.Text.Json.JsonSerializer.Serialize(profile, ModelKit.Monitoring.Internal.MonitoringJsonContext.Default.ReferenceProfile);
        using (var content = new MemoryStream(Encoding.UTF8.GetBytes(json)))
        {
            await _registry.PutAttachmentAsync("tabular", _version.Version, RegistryReferenceProfileStore.AttachmentName, "application/json", content);
        }

        var ex = await Assert.ThrowsAsync<ReferenceProfileMismatchException>(() => Store().GetAsync(_version));
        Assert.Contains("[x[0], x[1], logits.class, logits.confidence]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("[x[0], x[1], x[2], logits.class, logits.confidence]", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SaveAsync_ProfileOfAnotherSignature_ThrowsAndStoresNothing()
    {
        ModelVersion wide = _version with { Signature = new ModelSignature([new TensorSpec("x", TensorElementType.Float, [-1, 5])], _version.Signature.Outputs) };
        ReferenceProfile profile = TestData.Profile(_version, 500);
        var ex = await Assert.ThrowsAsync<ReferenceProfileMismatchException>(() => Store().SaveAsync(wide, profile));
        Assert.Contains("x[4]", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await _registry.ListAttachmentsAsync("tabular", _version.Version));
    }

    [Fact]
    public async Task GetAsync_CorruptJson_ThrowsInvalidDataNamingTheAttachment()
    {
        using (var content = new MemoryStream("{not json"u8.ToArray()))
        {
            await _registry.PutAttachmentAsync("tabular", _version.Version, RegistryReferenceProfileStore.AttachmentName, "application/json", content);
        }

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => Store().GetAsync(_version));
        Assert.Contains("'monitoring/reference-profile.json' of tabular/1", ex.Message, StringComparison.Ordinal);
    }
}
