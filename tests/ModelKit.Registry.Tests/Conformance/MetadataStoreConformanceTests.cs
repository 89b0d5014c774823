using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.Conformance;

/// <summary>What every <see cref="IModelMetadataStore"/> must do; each implementation's test project derives from this class.</summary>
public abstract class MetadataStoreConformanceTests
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 8, 0, 0, TimeSpan.Zero);

    /// <summary>Creates a store over empty storage. Calling it again with <paramref name="shareWith"/> opens another store instance over the same storage.</summary>
    protected abstract IModelMetadataStore CreateStore(IModelMetadataStore? shareWith = null);

    [Fact]
    public async Task AddVersion_NumbersEachModelFromOne_AndReturnsWhatIsReadBack()
    {
        IModelMetadataStore store = CreateStore();

        ModelVersion a1 = await AddAsync(store, "a", "sha256:" + new string('1', 64), metrics: new() { ["acc"] = 0.5 }, tags: new() { ["team"] = "x" });
        ModelVersion a2 = await AddAsync(store, "a");
        ModelVersion b1 = await AddAsync(store, "b");

        Assert.Equal((1, 2, 1), (a1.Version, a2.Version, b1.Version));
        ModelVersion read = (await store.FindVersionAsync(ModelReference.ForVersion("a", 1)))!;
        Assert.Equal((a1.Digest, a1.SizeBytes, a1.CreatedAt, 0.5, "x"), (read.Digest, read.SizeBytes, read.CreatedAt, read.Metrics["acc"], read.Tags["team"]));
        Assert.Equal(TestModels.ReluSignature(), read.Signature);
        Assert.Equal(["a", "b"], await store.ListModelsAsync());
        Assert.Equal([1, 2], (await store.ListVersionsAsync("a")).Select(v => v.Version));
    }

    [Fact]
    public async Task AddVersion_32ConcurrentWritersOnTwoInstances_GetConsecutiveNumbersWithoutGapsOrDuplicates()
    {
        IModelMetadataStore first = CreateStore();
        IModelMetadataStore second = CreateStore(first);

        ModelVersion[] added = await Task.WhenAll(Enumerable.Range(0, 32).Select(i => Task.Run(() => AddAsync(i % 2 == 0 ? first : second, "busy"))));

        Assert.Equal(Enumerable.Range(1, 32), added.Select(v => v.Version).Order());
        Assert.Equal(Enumerable.Range(1, 32), (await second.ListVersionsAsync("busy")).Select(v => v.Version));
    }

    [Fact]
    public async Task AddVersion_MissingLineageParent_ThrowsModelNotFoundAndStoresNothing()
    {
        IModelMetadataStore store = CreateStore();

        await Assert.ThrowsAsync<ModelNotFoundException>(() => AddAsync(store, "a", lineage: new ModelLineage { ParentVersion = 3 }));

        Assert.Empty(await store.ListVersionsAsync("a"));
    }

    [Fact]
    public async Task FindVersion_Latest_SkipsArchivedVersions()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        await AddAsync(store, "a");

        await store.ArchiveVersionAsync("a", 2, T0);

        Assert.Equal(1, (await store.FindVersionAsync(ModelReference.Latest("a")))!.Version);
        Assert.True((await store.FindVersionAsync(ModelReference.ForVersion("a", 2)))!.IsArchived);
        Assert.Null(await store.FindVersionAsync(ModelReference.ForAlias("a", "prod")));
    }

    [Fact]
    public async Task SetAlias_RecordsWhoWhenFromToAndWhy_InOrder()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        await AddAsync(store, "a");

        AliasChange? created = await store.SetAliasAsync("a", "prod", 1, compare: false, null, new AliasChangeInfo("ci", "first release"), T0);
        AliasChange? moved = await store.SetAliasAsync("a", "prod", 2, compare: true, 1, new AliasChangeInfo("alice", "better accuracy"), T0.AddHours(1));
        AliasChange? same = await store.SetAliasAsync("a", "prod", 2, compare: false, null, new AliasChangeInfo("bob"), T0.AddHours(2));
        AliasChange? removed = await store.RemoveAliasAsync("a", "prod", new AliasChangeInfo("carol", "retired"), T0.AddHours(3));

        Assert.Null(same);
        IReadOnlyList<AliasChange> history = await store.GetAliasHistoryAsync("a", "prod");
        Assert.Equal([created!, moved!, removed!], history);
        Assert.Equal(
            [("prod", (int?)null, (int?)1, T0, "ci", "first release"), ("prod", 1, 2, T0.AddHours(1), "alice", "better accuracy"), ("prod", 2, null, T0.AddHours(3), "carol", "retired")],
            history.Select(h => (h.Alias, h.OldVersion, h.NewVersion, h.ChangedAt, h.ChangedBy, h.Reason)));
        Assert.True(history[0].Sequence < history[1].Sequence && history[1].Sequence < history[2].Sequence);
        Assert.Empty(await store.GetAliasesAsync("a"));
    }

    [Fact]
    public async Task SetAlias_CompareFails_ThrowsConflictNamingExpectedAndActualVersion_AndChangesNothing()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        await AddAsync(store, "a");
        await AddAsync(store, "a");
        await store.SetAliasAsync("a", "prod", 2, compare: false, null, new AliasChangeInfo(), T0);

        AliasConflictException ex = await Assert.ThrowsAsync<AliasConflictException>(
            () => store.SetAliasAsync("a", "prod", 3, compare: true, 1, new AliasChangeInfo(), T0));
        AliasConflictException absent = await Assert.ThrowsAsync<AliasConflictException>(
            () => store.SetAliasAsync("a", "prod", 3, compare: true, null, new AliasChangeInfo(), T0));

        Assert.Equal(("a", "prod", (int?)1, (int?)2), (ex.Name, ex.Alias, ex.ExpectedVersion, ex.ActualVersion));
        Assert.Equal("Alias 'prod' of model 'a' was expected to point at version 1 but points at version 2; another writer moved it first. " +
            "Read the alias again, decide whether your move still applies, and retry with the version it points at now.", ex.Message);
        Assert.Contains("expected to point at no version (the alias did not exist) but points at version 2", absent.Message, StringComparison.Ordinal);
        Assert.Equal(2, (await store.GetAliasesAsync("a"))["prod"]);
        Assert.Single(await store.GetAliasHistoryAsync("a", null));
    }

    [Fact]
    public async Task SetAlias_SixteenConcurrentMoversExpectingTheSameVersion_ExactlyOneWinsAndTheLedgerHoldsEachSuccessfulMoveInOrder()
    {
        IModelMetadataStore first = CreateStore();
        IModelMetadataStore second = CreateStore(first);
        for (int i = 0; i < 17; i++)
        {
            await AddAsync(first, "a");
        }

        await first.SetAliasAsync("a", "prod", 1, compare: false, null, new AliasChangeInfo("setup"), T0);

        Task<AliasChange?>[] movers = Enumerable.Range(2, 16).Select(target => Task.Run(
            () => (target % 2 == 0 ? first : second).SetAliasAsync("a", "prod", target, compare: true, 1, new AliasChangeInfo($"mover-{target}"), T0))).ToArray();
        int won = 0, lost = 0;
        foreach (Task<AliasChange?> mover in movers)
        {
            try
            {
                await mover;
                won++;
            }
            catch (AliasConflictException ex) when (ex.ExpectedVersion == 1 && ex.ActualVersion is >= 2)
            {
                lost++;
            }
        }

        Assert.Equal((1, 15), (won, lost));
        IReadOnlyList<AliasChange> history = await second.GetAliasHistoryAsync("a", "prod");
        Assert.Equal(2, history.Count);
        Assert.Equal((1, (await first.GetAliasesAsync("a"))["prod"]), (history[1].OldVersion!.Value, history[1].NewVersion!.Value));
    }

    [Fact]
    public async Task SetAlias_MissingOrArchivedTarget_IsRefused()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        await AddAsync(store, "a");
        await store.ArchiveVersionAsync("a", 1, T0);

        await Assert.ThrowsAsync<ModelNotFoundException>(() => store.SetAliasAsync("a", "prod", 5, false, null, new AliasChangeInfo(), T0));
        ModelKitException archived = await Assert.ThrowsAsync<ModelKitException>(() => store.SetAliasAsync("a", "prod", 1, false, null, new AliasChangeInfo(), T0));

        Assert.Contains("the version is archived", archived.Message, StringComparison.Ordinal);
        Assert.Empty(await store.GetAliasesAsync("a"));
    }

    [Fact]
    public async Task ArchiveAndDelete_WhileAliased_AreRefusedNamingTheAlias()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        await store.SetAliasAsync("a", "prod", 1, false, null, new AliasChangeInfo(), T0);
        await store.SetAliasAsync("a", "canary", 1, false, null, new AliasChangeInfo(), T0);

        ModelVersionInUseException delete = await Assert.ThrowsAsync<ModelVersionInUseException>(() => store.DeleteVersionAsync("a", 1, T0));
        ModelVersionInUseException archive = await Assert.ThrowsAsync<ModelVersionInUseException>(() => store.ArchiveVersionAsync("a", 1, T0));

        Assert.Equal(["canary", "prod"], delete.Aliases);
        Assert.Equal("Cannot delete model 'a' version 1: canary, prod point(s) at it. Move those aliases to another version (or remove them) first.", delete.Message);
        Assert.StartsWith("Cannot archive model 'a' version 1", archive.Message, StringComparison.Ordinal);
        Assert.False((await store.FindVersionAsync(ModelReference.ForVersion("a", 1)))!.IsArchived);
    }

    [Fact]
    public async Task DeleteVersion_RemovesIt_AndItsNumberIsNeverGivenOutAgain()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        await AddAsync(store, "a");

        ModelVersion deleted = await store.DeleteVersionAsync("a", 2, T0);
        ModelVersion next = await AddAsync(store, "a");

        Assert.Equal(2, deleted.Version);
        Assert.Equal(3, next.Version);
        Assert.Equal([1, 3], (await store.ListVersionsAsync("a")).Select(v => v.Version));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => store.DeleteVersionAsync("a", 2, T0));
    }

    [Fact]
    public async Task UpdateVersion_SetsAndRemovesTagsAndMetrics()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a", metrics: new() { ["acc"] = 0.5, ["loss"] = 1 }, tags: new() { ["team"] = "x", ["stage"] = "dev" });

        ModelVersion updated = await store.UpdateVersionAsync("a", 1, new ModelVersionUpdate
        {
            SetTags = new Dictionary<string, string> { ["stage"] = "prod" },
            RemoveTags = ["team"],
            SetMetrics = new Dictionary<string, double> { ["latency_p99_s"] = 0.0125 },
            RemoveMetrics = ["loss"],
        }, T0);

        ModelVersion read = (await store.FindVersionAsync(ModelReference.ForVersion("a", 1)))!;
        foreach (ModelVersion v in new[] { updated, read })
        {
            Assert.Equal(new Dictionary<string, string> { ["stage"] = "prod" }, v.Tags);
            Assert.Equal(new Dictionary<string, double> { ["acc"] = 0.5, ["latency_p99_s"] = 0.0125 }, v.Metrics);
        }
    }

    [Fact]
    public async Task Search_FiltersByPrefixTagMetricAndLineage_OrdersByMetric_AndPages()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "mnist-mlp", metrics: new() { ["acc"] = 0.88 }, tags: new() { ["team"] = "vision" }, lineage: new ModelLineage { TrainingRunId = "run-1", DatasetDigest = "sha256:d1" });
        await AddAsync(store, "mnist-mlp", metrics: new() { ["acc"] = 0.91 }, tags: new() { ["team"] = "vision" }, lineage: new ModelLineage { TrainingRunId = "run-2", DatasetDigest = "sha256:d1" });
        await AddAsync(store, "mnist-cnn", metrics: new() { ["acc"] = 0.93 }, tags: new() { ["team"] = "research" });
        await AddAsync(store, "mnist-cnn", tags: new() { ["team"] = "vision" });
        await AddAsync(store, "speech", metrics: new() { ["acc"] = 0.99 }, tags: new() { ["team"] = "vision" });

        ModelSearchResult byMetric = await store.SearchAsync(new ModelSearchQuery
        {
            NamePrefix = "mnist",
            OrderBy = ModelSearchOrder.MetricDescending,
            OrderByMetric = "acc",
        });
        ModelSearchResult vision = await store.SearchAsync(new ModelSearchQuery
        {
            NamePrefix = "mnist-",
            Tags = new Dictionary<string, string> { ["team"] = "vision" },
            Metrics = [new MetricFilter("acc", 0.9)],
        });
        ModelSearchResult dataset = await store.SearchAsync(new ModelSearchQuery { DatasetDigest = "sha256:d1", OrderBy = ModelSearchOrder.CreatedAscending });
        ModelSearchResult page1 = await store.SearchAsync(new ModelSearchQuery { OrderBy = ModelSearchOrder.MetricAscending, OrderByMetric = "acc", Take = 2 });
        ModelSearchResult page3 = await store.SearchAsync(new ModelSearchQuery { OrderBy = ModelSearchOrder.MetricAscending, OrderByMetric = "acc", Take = 2, Skip = 4 });

        Assert.Equal(["mnist-cnn/1", "mnist-mlp/2", "mnist-mlp/1", "mnist-cnn/2"], byMetric.Versions.Select(v => v.Reference.ToString()));
        Assert.Equal(["mnist-mlp/2"], vision.Versions.Select(v => v.Reference.ToString()));
        Assert.Equal(["mnist-mlp/1", "mnist-mlp/2"], dataset.Versions.Select(v => v.Reference.ToString()));
        Assert.Equal(["mnist-mlp/1", "mnist-mlp/2"], page1.Versions.Select(v => v.Reference.ToString()));
        Assert.True(page1.HasMore);
        Assert.Equal(["mnist-cnn/2"], page3.Versions.Select(v => v.Reference.ToString()));
        Assert.False(page3.HasMore);
    }

    [Fact]
    public async Task Changes_AreNumberedWithoutGapsInCommitOrder_AndReadableFromAnyInstance()
    {
        IModelMetadataStore store = CreateStore();
        IModelMetadataStore other = CreateStore(store);
        long start = await store.GetLatestChangeSequenceAsync();
        await AddAsync(store, "a");
        await AddAsync(other, "a");
        await store.SetAliasAsync("a", "prod", 2, false, null, new AliasChangeInfo(), T0);
        await other.UpdateVersionAsync("a", 1, new ModelVersionUpdate { SetTags = new Dictionary<string, string> { ["k"] = "v" } }, T0);
        await store.ArchiveVersionAsync("a", 1, T0);
        await other.RemoveAliasAsync("a", "prod", new AliasChangeInfo(), T0);
        await store.DeleteVersionAsync("a", 1, T0);

        IReadOnlyList<RegistryChange> changes = await other.ReadChangesAsync(start, 100);

        Assert.Equal(Enumerable.Range(1, 7).Select(i => start + i), changes.Select(c => c.Sequence));
        Assert.Equal(
            [(RegistryChangeKind.VersionRegistered, (int?)1, (string?)null, (int?)null), (RegistryChangeKind.VersionRegistered, 2, null, null),
             (RegistryChangeKind.AliasMoved, 2, "prod", null), (RegistryChangeKind.VersionUpdated, 1, null, null),
             (RegistryChangeKind.VersionArchived, 1, null, null), (RegistryChangeKind.AliasRemoved, null, "prod", 2),
             (RegistryChangeKind.VersionDeleted, 1, null, null)],
            changes.Select(c => (c.Kind, c.Version, c.Alias, c.OldVersion)));
        Assert.Equal(start + 7, await other.GetLatestChangeSequenceAsync());
        Assert.Equal(2, (await store.ReadChangesAsync(start + 5, 100)).Count);
    }

    [Fact]
    public async Task WaitForChanges_ReturnsWhenAnotherInstanceCommits()
    {
        IModelMetadataStore watcher = CreateStore();
        IModelMetadataStore writer = CreateStore(watcher);
        long seq = await watcher.GetLatestChangeSequenceAsync();

        Task wait = watcher.WaitForChangesAsync(seq, TimeSpan.FromMinutes(2));
        await Task.Delay(50);
        await AddAsync(writer, "a");
        Task done = await Task.WhenAny(wait, Task.Delay(TimeSpan.FromSeconds(60)));

        Assert.Same(wait, done);
        Assert.Single(await watcher.ReadChangesAsync(seq, 10));
    }

    [Fact]
    public async Task ArtifactDeletion_IsRefusedWhileReferencedOrPinned_AndAbandonedPinsExpire()
    {
        IModelMetadataStore store = CreateStore();
        string referenced = "sha256:" + new string('1', 64);
        string pinned = "sha256:" + new string('2', 64);
        string orphan = "sha256:" + new string('3', 64);
        await AddAsync(store, "a", referenced);
        await store.PinArtifactAsync(pinned, T0);
        await store.PinArtifactAsync(orphan, T0.AddDays(-3));

        Assert.Equal(ArtifactDeletionCheck.Referenced, await store.TryBeginArtifactDeletionAsync(referenced, T0.AddDays(-1)));
        Assert.Equal(ArtifactDeletionCheck.Pinned, await store.TryBeginArtifactDeletionAsync(pinned, T0.AddDays(-1)));
        Assert.Equal(ArtifactDeletionCheck.MayDelete, await store.TryBeginArtifactDeletionAsync(orphan, T0.AddDays(-1)));
        await store.EndArtifactDeletionAsync(orphan);
    }

    [Fact]
    public async Task PinArtifact_WhileGarbageCollectionDeletesTheDigest_WaitsUntilTheDeletionEnds()
    {
        IModelMetadataStore store = CreateStore();
        IModelMetadataStore collector = CreateStore(store);
        string digest = "sha256:" + new string('4', 64);
        Assert.Equal(ArtifactDeletionCheck.MayDelete, await collector.TryBeginArtifactDeletionAsync(digest, T0));

        Task<Guid> pin = store.PinArtifactAsync(digest, T0);
        await Task.Delay(300);
        Assert.False(pin.IsCompleted, "A pin must wait while the digest is being deleted.");
        await collector.EndArtifactDeletionAsync(digest);
        Guid id = await pin.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(ArtifactDeletionCheck.Pinned, await collector.TryBeginArtifactDeletionAsync(digest, T0.AddDays(-1)));
        await store.UnpinArtifactAsync(id);
        Assert.Equal(ArtifactDeletionCheck.MayDelete, await collector.TryBeginArtifactDeletionAsync(digest, T0.AddDays(-1)));
    }

    [Fact]
    public async Task PutAttachment_RecordsReplacesListsInOrderAndDeletes_EachWithAChange()
    {
        IModelMetadataStore store = CreateStore();
        IModelMetadataStore other = CreateStore(store);
        await AddAsync(store, "a");
        long start = await store.GetLatestChangeSequenceAsync();
        string d1 = "sha256:" + new string('a', 64), d2 = "sha256:" + new string('b', 64), d3 = "sha256:" + new string('c', 64);

        ModelAttachment profile = await PutAttachmentAsync(store, "a", 1, "monitoring/profile.json", d1, 10);
        await PutAttachmentAsync(store, "a", 1, "card.md", d2, 20, "text/markdown");
        ModelAttachment replaced = await PutAttachmentAsync(store, "a", 1, "monitoring/profile.json", d3, 30);

        Assert.Equal(["card.md", "monitoring/profile.json"], (await other.ListAttachmentsAsync("a", 1))!.Select(x => x.Name));
        ModelAttachment read = (await other.FindAttachmentAsync("a", 1, "monitoring/profile.json"))!;
        Assert.Equal(replaced, read);
        Assert.Equal((d3, 30L, "application/json", "a", 1), (read.Digest, read.SizeBytes, read.MediaType, read.Model, read.Version));
        Assert.NotEqual(profile.Digest, read.Digest);
        Assert.Equal(replaced, await store.DeleteAttachmentAsync("a", 1, "monitoring/profile.json", T0));
        Assert.Null(await store.DeleteAttachmentAsync("a", 1, "monitoring/profile.json", T0));
        Assert.Null(await other.FindAttachmentAsync("a", 1, "monitoring/profile.json"));
        IReadOnlyList<RegistryChange> changes = await other.ReadChangesAsync(start, 100);
        Assert.Equal(
            [
                (RegistryChangeKind.AttachmentAdded, "monitoring/profile.json"), (RegistryChangeKind.AttachmentAdded, "card.md"),
                (RegistryChangeKind.AttachmentAdded, "monitoring/profile.json"), (RegistryChangeKind.AttachmentDeleted, "monitoring/profile.json"),
            ],
            changes.Select(c => (c.Kind, c.Attachment!)));
        Assert.All(changes, c => Assert.Equal(("a", (int?)1), (c.Name, c.Version)));
    }

    [Fact]
    public async Task Attachments_OfAMissingVersion_AreRefusedOrAbsent()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");

        await Assert.ThrowsAsync<ModelNotFoundException>(() => PutAttachmentAsync(store, "a", 2, "x.json", "sha256:" + new string('d', 64), 1));
        await Assert.ThrowsAsync<ModelNotFoundException>(() => store.DeleteAttachmentAsync("a", 2, "x.json", T0));

        Assert.Null(await store.ListAttachmentsAsync("a", 2));
        Assert.Null(await store.ListAttachmentsAsync("b", 1));
        Assert.Empty((await store.ListAttachmentsAsync("a", 1))!);
        Assert.Null(await store.FindAttachmentAsync("a", 2, "x.json"));
    }

    [Fact]
    public async Task ArtifactDeletion_IsRefusedWhileAnAttachmentReferencesTheDigest_AndDeletingTheVersionRemovesItsAttachments()
    {
        IModelMetadataStore store = CreateStore();
        await AddAsync(store, "a");
        string digest = "sha256:" + new string('e', 64);
        await PutAttachmentAsync(store, "a", 1, "monitoring/profile.json", digest, 5);

        Assert.Equal(ArtifactDeletionCheck.Referenced, await store.TryBeginArtifactDeletionAsync(digest, T0.AddDays(1)));
        await store.DeleteVersionAsync("a", 1, T0);

        Assert.Null(await store.ListAttachmentsAsync("a", 1));
        Assert.Equal(ArtifactDeletionCheck.MayDelete, await store.TryBeginArtifactDeletionAsync(digest, T0.AddDays(1)));
        await store.EndArtifactDeletionAsync(digest);
    }

    protected static async Task<ModelAttachment> PutAttachmentAsync(
        IModelMetadataStore store, string name, int version, string attachment, string digest, long size, string mediaType = "application/json")
    {
        Guid pin = await store.PinArtifactAsync(digest, T0);
        return await store.PutAttachmentAsync(new ModelAttachment(name, version, attachment, mediaType, digest, size, DateTimeOffset.UtcNow), pin);
    }

    protected static async Task<ModelVersion> AddAsync(
        IModelMetadataStore store, string name, string? digest = null, Dictionary<string, double>? metrics = null,
        Dictionary<string, string>? tags = null, ModelLineage? lineage = null)
    {
        digest ??= "sha256:" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        var registration = new ModelRegistration(name)
        {
            Metrics = metrics ?? [],
            Tags = tags ?? [],
            Lineage = lineage ?? new ModelLineage(),
        };
        Guid pin = await store.PinArtifactAsync(digest, T0);
        await Task.Delay(2);
        return await store.AddVersionAsync(new ModelVersionDraft(registration, digest, 123, TestModels.ReluSignature(), DateTimeOffset.UtcNow), pin);
    }
}
