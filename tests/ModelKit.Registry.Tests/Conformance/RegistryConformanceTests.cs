using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Registry.Internal;
using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.Conformance;

/// <summary>
/// The whole registry over one combination of stores: what users see. Each store combination's test project derives from
/// this class; two registries built with the same <see cref="ConfigureStores"/> share the same storage, the way two
/// processes or hosts do.
/// </summary>
public abstract class RegistryConformanceTests : IDisposable
{
    private readonly List<ServiceProvider> _providers = [];

    protected RegistryConformanceTests()
    {
        DataDirectory = Path.Combine(Path.GetTempPath(), "modelkit-registry-conformance", Guid.NewGuid().ToString("N"));
    }

    /// <summary>The <see cref="ModelKitOptions.DataDirectory"/> of every registry of the test (SQLite and file stores live there).</summary>
    protected string DataDirectory { get; }

    /// <summary>Chooses the stores under test; called once per registry built, always with the same storage.</summary>
    protected abstract void ConfigureStores(IModelRegistryBuilder registry);

    public virtual void Dispose()
    {
        foreach (ServiceProvider provider in _providers)
        {
            provider.Dispose();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    private protected ModelRegistry CreateRegistry(TimeProvider? time = null, Action<ModelRegistryOptions>? options = null)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddModelKit(o => o.DataDirectory = DataDirectory)
            .AddModelRegistry(r =>
            {
                ConfigureStores(r);
                r.Configure(o =>
                {
                    o.ChangePollInterval = TimeSpan.FromMilliseconds(20);
                    options?.Invoke(o);
                });
            })
            .AddOnnx();
        ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        _providers.Add(provider);
        return (ModelRegistry)provider.GetRequiredService<IModelRegistry>();
    }

    [Fact]
    public async Task Register_ThenResolveEveryFormAndOpen_ReturnsTheSameBytes()
    {
        ModelRegistry registry = CreateRegistry();
        byte[] bytes = TestModels.Relu(3);

        ModelVersion v1 = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(bytes));
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(4)));
        await registry.SetAliasAsync("relu", "production", 1);

        Assert.Equal(2, (await registry.ResolveAsync(ModelReference.Parse("relu"))).Version);
        Assert.Equal(1, (await registry.ResolveAsync(ModelReference.Parse("relu@production"))).Version);
        Assert.Equal(bytes, await ReadAsync(registry, v1));
    }

    [Fact]
    public async Task Register_OverTheSizeLimit_ThrowsNamingTheLimit_StoresNothingAndLeavesNoStagedFile()
    {
        ModelRegistry registry = CreateRegistry(options: o => o.MaxArtifactSizeBytes = 64);

        ArtifactTooLargeException ex = await Assert.ThrowsAsync<ArtifactTooLargeException>(
            () => registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu())));

        Assert.Equal(64, ex.LimitBytes);
        Assert.StartsWith("The artifact of model 'relu' is larger than the limit of 64 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await registry.ListModelsAsync());
        Assert.Empty(Directory.Exists(registry.Artifacts.StagingDirectory) ? Directory.GetFiles(registry.Artifacts.StagingDirectory) : []);
        await foreach (StoredArtifact _ in registry.Artifacts.ListAsync())
        {
            Assert.Fail("Nothing may be stored.");
        }
    }

    [Fact]
    public async Task CompareAndSetAlias_EightConcurrentRegistries_ExactlyOneWinsAndTheConflictsNameBothVersions()
    {
        ModelRegistry[] registries = Enumerable.Range(0, 8).Select(_ => CreateRegistry()).ToArray();
        for (int width = 1; width <= 9; width++)
        {
            await registries[0].RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(width)));
        }

        await registries[0].CompareAndSetAliasAsync("relu", "production", null, 1, new AliasChangeInfo("setup", "first"));

        Task<AliasChange>[] movers = registries.Select((r, i) => Task.Run(
            () => r.CompareAndSetAliasAsync("relu", "production", 1, i + 2, new AliasChangeInfo($"gate-{i}", "promote")))).ToArray();
        var winners = new List<AliasChange>();
        var conflicts = new List<AliasConflictException>();
        foreach (Task<AliasChange> mover in movers)
        {
            try
            {
                winners.Add(await mover);
            }
            catch (AliasConflictException ex)
            {
                conflicts.Add(ex);
            }
        }

        AliasChange winner = Assert.Single(winners);
        Assert.Equal(7, conflicts.Count);
        Assert.All(conflicts, c => Assert.Equal((1, winner.NewVersion), (c.ExpectedVersion, c.ActualVersion)));
        IReadOnlyList<AliasChange> history = await registries[3].GetAliasHistoryAsync("relu", "production");
        Assert.Equal([(null, 1, "setup"), (1, winner.NewVersion, winner.ChangedBy)], history.Select(h => (h.OldVersion, h.NewVersion, h.ChangedBy)));
        Assert.Equal(winner.NewVersion, (await registries[5].ResolveAsync(ModelReference.Parse("relu@production"))).Version);
    }

    [Fact]
    public async Task Watch_DeliversRegistrationsAndAliasMovesCommittedByAnotherRegistry_InOrder()
    {
        ModelRegistry watcher = CreateRegistry();
        ModelRegistry writer = CreateRegistry();
        await writer.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        long start = await watcher.GetChangeSequenceAsync();
        await using IAsyncEnumerator<RegistryChange> changes = watcher.WatchAsync(start, cts.Token).GetAsyncEnumerator(cts.Token);
        Task<bool> first = changes.MoveNextAsync().AsTask();

        await writer.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        await writer.SetAliasAsync("relu", "production", 2);
        Assert.True(await first);
        RegistryChange registered = changes.Current;
        Assert.True(await changes.MoveNextAsync());
        RegistryChange moved = changes.Current;

        Assert.Equal((RegistryChangeKind.VersionRegistered, "relu", (int?)2), (registered.Kind, registered.Name, registered.Version));
        Assert.Equal((RegistryChangeKind.AliasMoved, "production", (int?)2, (int?)null), (moved.Kind, moved.Alias, moved.Version, moved.OldVersion));
        Assert.Equal((start + 1, start + 2), (registered.Sequence, moved.Sequence));
    }

    [Fact]
    public async Task Resolve_CachedAlias_FollowsAMoveCommittedByAnotherRegistry()
    {
        ModelRegistry reader = CreateRegistry();
        ModelRegistry writer = CreateRegistry();
        await writer.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        await writer.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        await writer.SetAliasAsync("relu", "production", 1);
        ModelReference production = ModelReference.Parse("relu@production");
        await WaitUntilAsync(async () => (await reader.ResolveAsync(production)).Version == 1 && reader.IsResolveCacheLive);

        await writer.SetAliasAsync("relu", "production", 2);

        // The cache must not keep serving version 1: the change feed clears it.
        await WaitUntilAsync(async () => (await reader.ResolveAsync(production)).Version == 2);
        Assert.Equal(2, (await reader.ResolveAsync(production)).Version);
    }

    [Fact]
    public async Task Resolve_AfterOwnAliasMove_NeverReturnsTheOldVersion()
    {
        ModelRegistry registry = CreateRegistry();
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        ModelReference production = ModelReference.Parse("relu@production");

        for (int round = 0; round < 20; round++)
        {
            int target = round % 2 + 1;
            await registry.SetAliasAsync("relu", "production", target);
            Assert.Equal(target, (await registry.ResolveAsync(production)).Version);
        }
    }

    [Fact]
    public async Task ArchiveAndDelete_RefusedWhileAliased_ThenAllowed_AndLatestSkipsArchived()
    {
        ModelRegistry registry = CreateRegistry();
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        await registry.SetAliasAsync("relu", "production", 2);

        await Assert.ThrowsAsync<ModelVersionInUseException>(() => registry.DeleteVersionAsync("relu", 2));
        await Assert.ThrowsAsync<ModelVersionInUseException>(() => registry.ArchiveVersionAsync("relu", 2));
        await registry.SetAliasAsync("relu", "production", 1);
        ModelVersion archived = await registry.ArchiveVersionAsync("relu", 2);

        Assert.True(archived.IsArchived);
        Assert.Equal(1, (await registry.ResolveAsync(ModelReference.Latest("relu"))).Version);
        ModelKitException refused = await Assert.ThrowsAsync<ModelKitException>(() => registry.SetAliasAsync("relu", "staging", 2));
        Assert.Contains("archived", refused.Message, StringComparison.Ordinal);
        await registry.DeleteVersionAsync("relu", 2);
        await Assert.ThrowsAsync<ModelNotFoundException>(() => registry.ResolveAsync(ModelReference.ForVersion("relu", 2)));
    }

    [Fact]
    public async Task Lineage_ReportsAncestorsDescendantsAndVersionsSharingRunOrDataset()
    {
        ModelRegistry registry = CreateRegistry();
        await registry.RegisterAsync(new ModelRegistration("mlp") { Lineage = new ModelLineage { TrainingRunId = "run-7", DatasetDigest = "sha256:data" } }, new MemoryStream(TestModels.Relu(1)));
        await registry.RegisterAsync(new ModelRegistration("mlp") { Lineage = new ModelLineage { ParentVersion = 1, CompressionRecipe = "int8-dynamic" } }, new MemoryStream(TestModels.Relu(2)));
        await registry.RegisterAsync(new ModelRegistration("mlp") { Lineage = new ModelLineage { ParentVersion = 2, CompressionRecipe = "prune-0.5" } }, new MemoryStream(TestModels.Relu(3)));
        await registry.RegisterAsync(new ModelRegistration("mlp"), new MemoryStream(TestModels.Relu(4)));
        await registry.RegisterAsync(new ModelRegistration("other") { Lineage = new ModelLineage { TrainingRunId = "run-7", DatasetDigest = "sha256:data" } }, new MemoryStream(TestModels.Relu(5)));

        ModelLineageGraph root = await registry.GetLineageAsync(ModelReference.Parse("mlp/1"));
        ModelLineageGraph leaf = await registry.GetLineageAsync(ModelReference.Parse("mlp/3"));

        Assert.Equal(["mlp/2", "mlp/3"], root.Descendants.Select(v => v.Reference.ToString()));
        Assert.Empty(root.Ancestors);
        Assert.Equal(["other/1"], root.SameTrainingRun.Select(v => v.Reference.ToString()));
        Assert.Equal(["other/1"], root.SameDataset.Select(v => v.Reference.ToString()));
        Assert.Equal(["mlp/2", "mlp/1"], leaf.Ancestors.Select(v => v.Reference.ToString()));
        Assert.Equal("prune-0.5", leaf.Version.Lineage.CompressionRecipe);
        Assert.Empty(leaf.Descendants);
    }

    [Fact]
    public async Task CollectGarbage_DeletesOnlyUnreferencedArtifactsOlderThanTheGracePeriod()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        ModelRegistry registry = CreateRegistry(time);
        ModelVersion kept = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        ModelVersion dropped = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        await registry.DeleteVersionAsync("relu", dropped.Version);

        ArtifactCollectionResult early = await registry.CollectGarbageAsync(TimeSpan.FromHours(1));
        time.Advance(TimeSpan.FromHours(2));
        ArtifactCollectionResult late = await registry.CollectGarbageAsync(TimeSpan.FromHours(1));

        Assert.Equal((2, 0, 2), (early.Examined, early.Deleted.Count, early.KeptYoung));
        Assert.Equal([dropped.Digest], late.Deleted);
        Assert.Equal(1, late.KeptReferenced);
        Assert.Equal(TestModels.Relu(1), await ReadAsync(registry, kept));
        Assert.False(await registry.Artifacts.ExistsAsync(dropped.Digest));
    }

    [Fact]
    public async Task CollectGarbage_NeverDeletesAnArtifactPinnedByARegistrationInProgress()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2));
        ModelRegistry registry = CreateRegistry(time);
        byte[] bytes = TestModels.Relu(6);
        await using StagedArtifact staged = await StagedArtifact.CreateAsync(new MemoryStream(bytes), registry.Artifacts.StagingDirectory, long.MaxValue, "test");
        Guid pin = await registry.Metadata.PinArtifactAsync(staged.Digest, time.GetUtcNow());
        await registry.Artifacts.PutAsync(staged);

        ArtifactCollectionResult result = await registry.CollectGarbageAsync(TimeSpan.FromHours(1));

        Assert.Equal((0, 1), (result.Deleted.Count, result.KeptInUpload));
        Assert.True(await registry.Artifacts.ExistsAsync(staged.Digest));
        await registry.Metadata.UnpinArtifactAsync(pin);
    }

    [Fact]
    public async Task UpdateVersion_ChangesTagsAndMetrics_AndSearchSeesThem()
    {
        ModelRegistry registry = CreateRegistry();
        await registry.RegisterAsync(new ModelRegistration("relu") { Metrics = new Dictionary<string, double> { ["acc"] = 0.8 } }, new MemoryStream(TestModels.Relu(1)));

        await registry.UpdateVersionAsync("relu", 1, new ModelVersionUpdate
        {
            SetMetrics = new Dictionary<string, double> { ["acc"] = 0.95 },
            SetTags = new Dictionary<string, string> { ["approved"] = "yes" },
        });
        ModelSearchResult found = await registry.SearchAsync(new ModelSearchQuery
        {
            Tags = new Dictionary<string, string> { ["approved"] = "yes" },
            Metrics = [new MetricFilter("acc", 0.9)],
        });

        Assert.Equal(["relu/1"], found.Versions.Select(v => v.Reference.ToString()));
        Assert.Equal(0.95, (await registry.ResolveAsync(ModelReference.Parse("relu/1"))).Metrics["acc"]);
        ArgumentException bad = await Assert.ThrowsAsync<ArgumentException>(() => registry.UpdateVersionAsync("relu", 1, new ModelVersionUpdate
        {
            SetTags = new Dictionary<string, string> { ["bad key"] = "x" },
        }));
        Assert.StartsWith("Tag name 'bad key' of model 'relu' is invalid", bad.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PutAttachment_ThenOpenListAndDelete_RoundTripsTheBytesAndFeedsTheChange()
    {
        ModelRegistry registry = CreateRegistry();
        ModelRegistry reader = CreateRegistry();
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        byte[] profile = System.Text.Encoding.UTF8.GetBytes("{\"features\":[{\"name\":\"pixels\",\"quantiles\":[0,0.5,1]}]}");
        long start = await registry.GetChangeSequenceAsync();

        ModelAttachment put = await registry.PutAttachmentAsync("relu", 1, "monitoring/profile.json", "application/json", new MemoryStream(profile));

        Assert.Equal(("relu", 1, "monitoring/profile.json", "application/json", (long)profile.Length), (put.Model, put.Version, put.Name, put.MediaType, put.SizeBytes));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(profile)), put.Digest);
        Assert.Equal([put], await reader.ListAttachmentsAsync("relu", 1));
        Assert.Equal(profile, await ReadAttachmentAsync(reader, "relu", 1, "monitoring/profile.json"));
        Assert.True(await registry.Artifacts.ExistsAsync(put.Digest));
        RegistryChange added = Assert.Single(await registry.Metadata.ReadChangesAsync(start, 10));
        Assert.Equal((RegistryChangeKind.AttachmentAdded, "monitoring/profile.json", (int?)1), (added.Kind, added.Attachment, added.Version));

        Assert.Equal(put, await registry.DeleteAttachmentAsync("relu", 1, "monitoring/profile.json"));
        Assert.Empty(await reader.ListAttachmentsAsync("relu", 1));
        ModelNotFoundException gone = await Assert.ThrowsAsync<ModelNotFoundException>(() => reader.OpenAttachmentAsync("relu", 1, "monitoring/profile.json"));
        Assert.Equal("Model 'relu' version 1 has no attachment 'monitoring/profile.json'; its attachments are: (none). Attach one with PutAttachmentAsync.", gone.Message);
    }

    [Fact]
    public async Task PutAttachment_BadNameMediaTypeMissingVersionOrTooLarge_IsRefusedAndStoresNothing()
    {
        ModelRegistry registry = CreateRegistry(options: o => o.MaxAttachmentSizeBytes = 8);
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));

        ArgumentException badName = await Assert.ThrowsAsync<ArgumentException>(
            () => registry.PutAttachmentAsync("relu", 1, "../etc/passwd", "text/plain", new MemoryStream([1])));
        ArgumentException badType = await Assert.ThrowsAsync<ArgumentException>(
            () => registry.PutAttachmentAsync("relu", 1, "notes.txt", "text", new MemoryStream([1])));
        ModelNotFoundException missing = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.PutAttachmentAsync("relu", 2, "notes.txt", "text/plain", new MemoryStream([1])));
        ArtifactTooLargeException large = await Assert.ThrowsAsync<ArtifactTooLargeException>(
            () => registry.PutAttachmentAsync("relu", 1, "notes.txt", "text/plain", new MemoryStream(new byte[9])));

        Assert.StartsWith("Invalid attachment name '../etc/passwd': expected 1 to 256 characters of segments separated by '/'", badName.Message, StringComparison.Ordinal);
        Assert.StartsWith("Invalid media type 'text': expected 'type/subtype'", badType.Message, StringComparison.Ordinal);
        Assert.Equal("Cannot attach 'notes.txt': Model 'relu' has no version 2; the latest is 1.", missing.Message);
        Assert.StartsWith("The artifact of attachment 'notes.txt' of model 'relu' version 1 is larger than the limit of 8 bytes", large.Message, StringComparison.Ordinal);
        Assert.Empty(await registry.ListAttachmentsAsync("relu", 1));
        Assert.Empty(Directory.Exists(registry.Artifacts.StagingDirectory) ? Directory.GetFiles(registry.Artifacts.StagingDirectory) : []);
    }

    [Fact]
    public async Task CollectGarbage_KeepsAttachmentBytes_UntilTheAttachmentOrItsVersionIsDeleted()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        ModelRegistry registry = CreateRegistry(time);
        await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(1)));
        ModelVersion v2 = await registry.RegisterAsync(new ModelRegistration("relu"), new MemoryStream(TestModels.Relu(2)));
        ModelAttachment kept = await registry.PutAttachmentAsync("relu", 1, "monitoring/profile.json", "application/json", new MemoryStream([1, 2, 3]));
        ModelAttachment dropped = await registry.PutAttachmentAsync("relu", 2, "monitoring/profile.json", "application/json", new MemoryStream([4, 5, 6]));
        time.Advance(TimeSpan.FromHours(2));

        ArtifactCollectionResult before = await registry.CollectGarbageAsync(TimeSpan.FromHours(1));
        await registry.DeleteVersionAsync("relu", 2);
        ArtifactCollectionResult after = await registry.CollectGarbageAsync(TimeSpan.FromHours(1));

        Assert.Equal((4, 0), (before.KeptReferenced, before.Deleted.Count));
        Assert.Equal(new[] { v2.Digest, dropped.Digest }.Order(StringComparer.Ordinal), after.Deleted.Order(StringComparer.Ordinal));
        Assert.Equal(2, after.KeptReferenced);
        Assert.Equal([1, 2, 3], await ReadAttachmentAsync(registry, "relu", 1, "monitoring/profile.json"));
        Assert.True(await registry.Artifacts.ExistsAsync(kept.Digest));
        Assert.False(await registry.Artifacts.ExistsAsync(dropped.Digest));
    }

    protected static async Task<byte[]> ReadAttachmentAsync(IModelRegistry registry, string name, int version, string attachment)
    {
        await using Stream stream = await registry.OpenAttachmentAsync(name, version, attachment);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    protected static async Task<byte[]> ReadAsync(IModelRegistry registry, ModelVersion version)
    {
        await using Stream stream = await registry.OpenArtifactAsync(version);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails after 60 s (a deadline for a broken feed, not a timing assertion).</summary>
    protected static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        DateTime deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "The condition did not hold within 60 s.");
            await Task.Delay(20);
        }
    }
}
