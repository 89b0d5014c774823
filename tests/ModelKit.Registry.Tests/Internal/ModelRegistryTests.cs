using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.Internal;

public sealed class ModelRegistryTests : IDisposable
{
    private readonly TestDataDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Register_ThenOpenArtifact_ReadsBackIdenticalBytes()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        byte[] bytes = TestModels.Relu();

        ModelVersion version = await registry.RegisterAsync("relu", bytes);

        Assert.Equal(bytes, await registry.ReadArtifactAsync(version));
        Assert.Equal(bytes.Length, version.SizeBytes);
    }

    [Fact]
    public async Task Register_Digest_IsSha256OfTheBytesAndNamesTheBlobPath()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        byte[] bytes = TestModels.Relu();
        string hex = Convert.ToHexStringLower(SHA256.HashData(bytes));

        ModelVersion version = await registry.RegisterAsync("relu", bytes);

        Assert.Equal("sha256:" + hex, version.Digest);
        string blob = Path.Combine(_dir.DataDirectory, "blobs", "sha256", hex[..2], hex);
        Assert.Equal([blob], _dir.BlobFiles());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(blob));
    }

    [Fact]
    public async Task Register_SameContentTwice_ReturnsSameDigestTwoVersionsOneBlob()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        byte[] bytes = TestModels.Relu();

        ModelVersion first = await registry.RegisterAsync("relu", bytes);
        ModelVersion second = await registry.RegisterAsync("relu", bytes);
        ModelVersion other = await registry.RegisterAsync("relu-copy", bytes);

        Assert.Equal(first.Digest, second.Digest);
        Assert.Equal(first.Digest, other.Digest);
        Assert.Equal((1, 2, 1), (first.Version, second.Version, other.Version));
        Assert.Single(_dir.BlobFiles());
        Assert.Empty(_dir.TempFiles());
    }

    [Fact]
    public async Task Register_ThreeTimes_NumbersVersionsOneTwoThreeAndListsThemOldestFirst()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);

        for (int width = 1; width <= 3; width++)
        {
            ModelVersion v = await registry.RegisterAsync("widths", TestModels.Relu(width));
            Assert.Equal(width, v.Version);
        }

        await registry.RegisterAsync("another", TestModels.Relu());

        IReadOnlyList<ModelVersion> versions = await registry.Registry.ListVersionsAsync("widths");
        Assert.Equal([1, 2, 3], versions.Select(v => v.Version));
        Assert.Equal([1L, 2L, 3L], versions.Select(v => v.Signature.Inputs[0].Shape[1]));
        Assert.Equal(4, _dir.BlobFiles().Length);
        Assert.Equal(["another", "widths"], await registry.Registry.ListModelsAsync());
        Assert.Empty(await registry.Registry.ListVersionsAsync("missing"));
    }

    [Fact]
    public async Task Register_StoresSignatureMetricsTagsLineageAndDescription_AndReadsThemBackAfterReopen()
    {
        byte[] bytes = TestModels.Relu();
        var lineage = new ModelLineage
        {
            TrainingRunId = "run-42",
            DatasetDigest = "sha256:" + new string('0', 64),
            CompressionRecipe = "dynamic-int8",
            Parameters = new Dictionary<string, string> { ["lr"] = "0.01", ["epochs"] = "3" },
        };
        ModelVersion registered;
        using (var registry = new TestRegistry(_dir.DataDirectory))
        {
            await registry.RegisterAsync("relu", bytes);
            registered = await registry.RegisterAsync("relu", bytes, new ModelRegistration("relu")
            {
                Metrics = new Dictionary<string, double> { ["test_accuracy"] = 0.8765432109876543, ["loss"] = -1.5e-300 },
                Tags = new Dictionary<string, string> { ["team"] = "vision", ["note"] = "" },
                Lineage = lineage with { ParentVersion = 1 },
                Description = "ReLU, int8",
            });
        }

        using var reopened = new TestRegistry(_dir.DataDirectory);
        ModelVersion read = await reopened.Registry.ResolveAsync(ModelReference.Parse("relu/2"));

        Assert.Equal(TestModels.ReluSignature(), read.Signature);
        Assert.Equal(0.8765432109876543, read.Metrics["test_accuracy"]);
        Assert.Equal(-1.5e-300, read.Metrics["loss"]);
        Assert.Equal("vision", read.Tags["team"]);
        Assert.Equal("", read.Tags["note"]);
        Assert.Equal(1, read.Lineage.ParentVersion);
        Assert.Equal("run-42", read.Lineage.TrainingRunId);
        Assert.Equal(lineage.DatasetDigest, read.Lineage.DatasetDigest);
        Assert.Equal("dynamic-int8", read.Lineage.CompressionRecipe);
        Assert.Equal("0.01", read.Lineage.Parameters["lr"]);
        Assert.Equal("ReLU, int8", read.Description);
        Assert.Equal(ModelFormats.Onnx, read.Format);
        Assert.Equal(registered.CreatedAt, read.CreatedAt);
        Assert.Equal(TimeSpan.Zero, read.CreatedAt.Offset);
        Assert.InRange(DateTimeOffset.UtcNow - read.CreatedAt, TimeSpan.Zero, TimeSpan.FromMinutes(5));
    }

    [Fact]
    public async Task Register_JsonColumns_UseStableCamelCaseNames()
    {
        using (var registry = new TestRegistry(_dir.DataDirectory))
        {
            await registry.RegisterAsync("relu", TestModels.Relu(), new ModelRegistration("relu")
            {
                Lineage = new ModelLineage { TrainingRunId = "run-1" },
            });
        }

        using var connection = new SqliteConnection($"Data Source={_dir.DatabasePath};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT signature_json, lineage_json FROM model_versions;";
        using SqliteDataReader reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal(
            """{"inputs":[{"name":"x","elementType":"Float","shape":[-1,4]}],"outputs":[{"name":"y","elementType":"Float","shape":[-1,4]}]}""",
            reader.GetString(0));
        Assert.Equal("""{"trainingRunId":"run-1","parameters":{}}""", reader.GetString(1));
    }

    [Fact]
    public async Task Register_InvalidName_ThrowsArgumentExceptionAndStoresNothing()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => registry.RegisterAsync("Fashion MNIST", TestModels.Relu()));

        Assert.Equal("registration", ex.ParamName);
        Assert.StartsWith("Invalid model name 'Fashion MNIST': expected 1 to 128 characters matching [a-z0-9][a-z0-9._-]*", ex.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.DataDirectory), "Nothing may be written for a rejected name.");

        await registry.RegisterAsync("valid", TestModels.Relu());
        await Assert.ThrowsAsync<ArgumentException>(() => registry.RegisterAsync("-bad", TestModels.Relu(8)));
        Assert.Equal(1, _dir.CountRows("model_versions"));
        Assert.Equal(1, _dir.CountRows("models"));
        Assert.Single(_dir.BlobFiles());
        Assert.Empty(_dir.TempFiles());
    }

    public static TheoryData<string, byte[]> NotOnnx()
    {
        var random = new byte[4096];
        new Random(1234).NextBytes(random);
        return new TheoryData<string, byte[]>
        {
            { "text", Encoding.UTF8.GetBytes("this is a README, not a model\n") },
            { "random", random },
            { "empty", [] },
        };
    }

    [Theory]
    [MemberData(nameof(NotOnnx))]
    public async Task Register_NotOnnx_ThrowsInvalidModelExceptionAndStoresNothing(string kind, byte[] bytes)
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("existing", TestModels.Relu());

        InvalidModelException ex = await Assert.ThrowsAsync<InvalidModelException>(() => registry.RegisterAsync("broken", bytes));

        Assert.False(string.IsNullOrWhiteSpace(ex.Message), kind);
        Assert.Equal(["existing"], await registry.Registry.ListModelsAsync());
        Assert.Empty(await registry.Registry.ListVersionsAsync("broken"));
        Assert.Equal(1, _dir.CountRows("model_versions"));
        Assert.Single(_dir.BlobFiles());
        Assert.Empty(_dir.TempFiles());
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public async Task Register_NonFiniteMetric_ThrowsQuotingKeyAndValue(double value, string shown)
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        var registration = new ModelRegistration("relu") { Metrics = new Dictionary<string, double> { ["accuracy"] = 0.9, ["loss"] = value } };

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => registry.RegisterAsync("relu", TestModels.Relu(), registration));

        Assert.Equal(
            $"Metric 'loss' of model 'relu' has the value {shown}; metrics must be finite numbers. Remove the metric or record a finite value. (Parameter 'registration')",
            ex.Message);
        Assert.False(Directory.Exists(_dir.DataDirectory));
    }

    [Theory]
    [InlineData("")]
    [InlineData("  ")]
    public async Task Register_EmptyTagKey_ThrowsArgumentException(string key)
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        var registration = new ModelRegistration("relu") { Tags = new Dictionary<string, string> { [key] = "x" } };

        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => registry.RegisterAsync("relu", TestModels.Relu(), registration));

        Assert.StartsWith($"Tag name '{key}' of model 'relu' is invalid: expected 1 to 128 characters from [A-Za-z0-9_.:/-], starting with a letter or digit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WithoutInspectorForFormat_ThrowsNamingAddOnnx()
    {
        using var registry = new TestRegistry(_dir.DataDirectory, addOnnx: false);

        ModelKitException ex = await Assert.ThrowsAsync<ModelKitException>(() => registry.RegisterAsync("relu", TestModels.Relu()));

        Assert.Equal(
            "No inspector is registered for format 'onnx'; call AddOnnx() (package ModelKit.Onnx) on the ModelKit builder, " +
            "for example services.AddModelKit().AddModelRegistry().AddOnnx(), or register an IModelFormatInspector for 'onnx'. " +
            "Registered formats: (none).",
            ex.Message);
        Assert.False(Directory.Exists(_dir.DataDirectory));
    }

    [Fact]
    public async Task Register_UnknownFormat_ThrowsListingRegisteredFormats()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);

        ModelKitException ex = await Assert.ThrowsAsync<ModelKitException>(
            () => registry.RegisterAsync("relu", TestModels.Relu(), new ModelRegistration("relu") { Format = "safetensors" }));

        Assert.StartsWith("No inspector is registered for format 'safetensors';", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith("Registered formats: onnx.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_CancelledWhileReading_StoresNothing()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("existing", TestModels.Relu());
        using var cts = new CancellationTokenSource();
        var content = new CancelOnReadStream(new byte[300_000], cts);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => registry.Registry.RegisterAsync(new ModelRegistration("cancelled"), content, cts.Token));

        Assert.True(content.Reads >= 1);
        Assert.Empty(await registry.Registry.ListVersionsAsync("cancelled"));
        Assert.Equal(1, _dir.CountRows("model_versions"));
        Assert.Single(_dir.BlobFiles());
        Assert.Empty(_dir.TempFiles());
    }

    [Fact]
    public async Task Register_MissingLineageParent_ThrowsModelNotFoundAndStoresNothing()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("relu", TestModels.Relu());
        var registration = new ModelRegistration("relu") { Lineage = new ModelLineage { ParentVersion = 5 } };

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(() => registry.RegisterAsync("relu", TestModels.Relu(8), registration));

        Assert.Equal("relu/5", ex.Reference);
        Assert.Equal("The lineage parent does not exist. Model 'relu' has no version 5; the latest is 1.", ex.Message);
        Assert.Single(_dir.BlobFiles());
        Assert.Empty(_dir.TempFiles());
    }

    [Theory]
    [InlineData("relu", 3)]
    [InlineData("relu/2", 2)]
    [InlineData("relu@production", 1)]
    [InlineData("models:/relu/2", 2)]
    [InlineData("models:/relu@production", 1)]
    [InlineData("models:/relu", 3)]
    public async Task Resolve_EveryReferenceForm_ReturnsTheVersionItNames(string text, int expected)
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        for (int width = 1; width <= 3; width++)
        {
            await registry.RegisterAsync("relu", TestModels.Relu(width));
        }

        await registry.Registry.SetAliasAsync("relu", "production", 1);

        ModelVersion version = await registry.Registry.ResolveAsync(ModelReference.Parse(text));

        Assert.Equal("relu", version.Name);
        Assert.Equal(expected, version.Version);
        Assert.Equal(TestModels.ReluSignature(expected), version.Signature);
    }

    [Fact]
    public async Task Resolve_UnknownAlias_ThrowsListingTheAliases()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("relu", TestModels.Relu());
        await registry.Registry.SetAliasAsync("relu", "staging", 1);
        await registry.Registry.SetAliasAsync("relu", "champion", 1);

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.ResolveAsync(ModelReference.Parse("models:/relu@production")));

        Assert.Equal("relu@production", ex.Reference);
        Assert.Equal("Model 'relu' has no alias 'production'; its aliases are: champion, staging. Set one with SetAliasAsync.", ex.Message);
    }

    [Fact]
    public async Task Resolve_AliasOfModelWithoutAliases_SaysNone()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("relu", TestModels.Relu());

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.ResolveAsync(ModelReference.ForAlias("relu", "production")));

        Assert.Equal("Model 'relu' has no alias 'production'; its aliases are: (none). Set one with SetAliasAsync.", ex.Message);
    }

    [Fact]
    public async Task Resolve_UnknownVersion_ThrowsNamingTheLatest()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("relu", TestModels.Relu(1));
        await registry.RegisterAsync("relu", TestModels.Relu(2));
        await registry.RegisterAsync("relu", TestModels.Relu(3));

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.ResolveAsync(ModelReference.ForVersion("relu", 7)));

        Assert.Equal("relu/7", ex.Reference);
        Assert.Equal("Model 'relu' has no version 7; the latest is 3.", ex.Message);
    }

    [Fact]
    public async Task Resolve_UnknownModel_ThrowsListingRegisteredModels()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("b", TestModels.Relu());
        await registry.RegisterAsync("a", TestModels.Relu());

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.ResolveAsync(ModelReference.Parse("x@production")));

        Assert.Equal("x@production", ex.Reference);
        Assert.Equal("No model named 'x' is registered; registered models: a, b. Check the name.", ex.Message);
    }

    [Fact]
    public async Task Resolve_EmptyRegistry_SaysItHoldsNoModels()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.ResolveAsync(ModelReference.Latest("x")));

        Assert.Equal(
            $"No model named 'x' is registered; the registry (SQLite database '{_dir.DatabasePath}') holds no models yet. Register one with RegisterAsync.",
            ex.Message);
    }

    [Fact]
    public async Task SetAlias_MovedTwice_ResolvesToNewVersionAndRecordsEveryMove()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("relu", TestModels.Relu(1));
        await registry.RegisterAsync("relu", TestModels.Relu(2));

        await registry.Registry.SetAliasAsync("relu", "production", 1);
        await registry.Registry.SetAliasAsync("relu", "staging", 2);
        Assert.Equal(1, (await registry.Registry.ResolveAsync(ModelReference.Parse("relu@production"))).Version);
        await registry.Registry.SetAliasAsync("relu", "production", 2);
        await registry.Registry.SetAliasAsync("relu", "production", 2);

        Assert.Equal(2, (await registry.Registry.ResolveAsync(ModelReference.Parse("relu@production"))).Version);
        IReadOnlyDictionary<string, int> aliases = await registry.Registry.GetAliasesAsync("relu");
        Assert.Equal(new Dictionary<string, int> { ["production"] = 2, ["staging"] = 2 }, aliases);
        IReadOnlyList<AliasChangeView> history = (await registry.Registry.GetAliasHistoryAsync("relu", "production"))
            .Select(c => new AliasChangeView(c.Alias, c.OldVersion, c.NewVersion)).ToList();
        Assert.Equal([new AliasChangeView("production", null, 1), new AliasChangeView("production", 1, 2)], history);
        Assert.Equal(3, _dir.CountRows("alias_changes"));
    }

    [Fact]
    public async Task SetAlias_MissingVersion_ThrowsModelNotFoundAndRecordsNothing()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.RegisterAsync("relu", TestModels.Relu());

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.SetAliasAsync("relu", "production", 2));
        ModelNotFoundException unknownModel = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.SetAliasAsync("nope", "production", 1));

        Assert.Equal("relu/2", ex.Reference);
        Assert.Equal("The alias target does not exist. Model 'relu' has no version 2; the latest is 1.", ex.Message);
        Assert.StartsWith("The alias target does not exist. No model named 'nope' is registered; registered models: relu.", unknownModel.Message, StringComparison.Ordinal);
        Assert.Empty(await registry.Registry.GetAliasesAsync("relu"));
        Assert.Equal(0, _dir.CountRows("alias_changes"));
    }

    [Fact]
    public async Task SetAlias_InvalidArguments_ThrowArgumentExceptions()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);

        Assert.Equal("alias", (await Assert.ThrowsAsync<ArgumentException>(() => registry.Registry.SetAliasAsync("relu", "Prod", 1))).ParamName);
        Assert.Equal("name", (await Assert.ThrowsAsync<ArgumentException>(() => registry.Registry.SetAliasAsync("Relu", "prod", 1))).ParamName);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => registry.Registry.SetAliasAsync("relu", "prod", 0));
    }

    [Fact]
    public async Task OpenArtifact_CorruptedBlob_ThrowsNamingExpectedAndFoundDigest()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        byte[] bytes = TestModels.Relu();
        ModelVersion version = await registry.RegisterAsync("relu", bytes);
        string blob = Assert.Single(_dir.BlobFiles());
        byte[] damaged = (byte[])bytes.Clone();
        damaged[^3] ^= 0x5A;
        await File.WriteAllBytesAsync(blob, damaged);
        string found = Convert.ToHexStringLower(SHA256.HashData(damaged));

        ArtifactCorruptedException ex = await Assert.ThrowsAsync<ArtifactCorruptedException>(() => registry.ReadArtifactAsync(version));

        Assert.Equal(
            $"The artifact of model 'relu' version 1 is corrupted: expected {version.Digest} ({bytes.Length} bytes), found sha256:{found} " +
            $"in '{blob}'. Restore it from a backup, or delete it and register the model again.",
            ex.Message);
    }

    [Fact]
    public async Task OpenArtifact_TruncatedBlob_ThrowsCorrupted()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        byte[] bytes = TestModels.Relu();
        ModelVersion version = await registry.RegisterAsync("relu", bytes);
        await File.WriteAllBytesAsync(Assert.Single(_dir.BlobFiles()), bytes[..^10]);

        ArtifactCorruptedException ex = await Assert.ThrowsAsync<ArtifactCorruptedException>(() => registry.ReadArtifactAsync(version));

        Assert.Contains($"is corrupted: expected {version.Digest} ({bytes.Length} bytes), found {bytes.Length - 10} bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenArtifact_MissingBlob_ThrowsModelNotFoundNamingDigestAndPath()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        ModelVersion version = await registry.RegisterAsync("relu", TestModels.Relu());
        string blob = Assert.Single(_dir.BlobFiles());
        File.Delete(blob);

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(() => registry.Registry.OpenArtifactAsync(version));

        Assert.Equal("relu/1", ex.Reference);
        Assert.Equal(
            $"The artifact of model 'relu' version 1 ({version.Digest}) is missing: the file store '{Path.Combine(_dir.DataDirectory, "blobs")}' has no file '{blob}'. " +
            "Restore it from a backup, or register the model again.",
            ex.Message);
    }

    [Fact]
    public async Task OpenArtifact_DeletedThenRegisteredAgain_IsRestored()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        byte[] bytes = TestModels.Relu();
        ModelVersion version = await registry.RegisterAsync("relu", bytes);
        File.Delete(Assert.Single(_dir.BlobFiles()));

        await registry.RegisterAsync("relu", bytes);

        Assert.Equal(bytes, await registry.ReadArtifactAsync(version));
    }

    [Fact]
    public async Task OpenArtifact_UnknownVersion_ThrowsModelNotFound()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        ModelVersion version = await registry.RegisterAsync("relu", TestModels.Relu());

        ModelNotFoundException ex = await Assert.ThrowsAsync<ModelNotFoundException>(
            () => registry.Registry.OpenArtifactAsync(version with { Version = 9 }));

        Assert.Equal("Model 'relu' has no version 9; the latest is 1.", ex.Message);
    }

    [Fact]
    public async Task Register_ConcurrentlyFromTasksAndTwoInstances_GetsDistinctConsecutiveVersions()
    {
        using var first = new TestRegistry(_dir.DataDirectory);
        using var second = new TestRegistry(_dir.DataDirectory);
        const int Count = 12;

        ModelVersion[] versions = await Task.WhenAll(Enumerable.Range(1, Count).Select(i => Task.Run(
            () => (i % 2 == 0 ? first : second).RegisterAsync("busy", TestModels.Relu(i % 4 + 1)))));

        Assert.Equal(Enumerable.Range(1, Count), versions.Select(v => v.Version).Order());
        Assert.Equal(Enumerable.Range(1, Count), (await first.Registry.ListVersionsAsync("busy")).Select(v => v.Version));
        Assert.Equal(4, _dir.BlobFiles().Length);
        Assert.Empty(_dir.TempFiles());
        foreach (ModelVersion v in versions)
        {
            Assert.Equal(TestModels.Relu((int)v.Signature.Inputs[0].Shape[1]), await second.ReadArtifactAsync(v));
        }
    }

    [Fact]
    public async Task Reopen_NewInstanceOnSameDirectory_SeesModelsVersionsAliasesAndArtifacts()
    {
        byte[] bytes = TestModels.Relu();
        using (var registry = new TestRegistry(_dir.DataDirectory))
        {
            await registry.RegisterAsync("relu", bytes);
            await registry.RegisterAsync("relu", TestModels.Relu(8));
            await registry.Registry.SetAliasAsync("relu", "production", 1);
        }

        using var reopened = new TestRegistry(_dir.DataDirectory);

        Assert.Equal(["relu"], await reopened.Registry.ListModelsAsync());
        Assert.Equal(2, (await reopened.Registry.ResolveAsync(ModelReference.Latest("relu"))).Version);
        ModelVersion production = await reopened.Registry.ResolveAsync(ModelReference.Parse("relu@production"));
        Assert.Equal(bytes, await reopened.ReadArtifactAsync(production));
        ModelVersion third = await reopened.RegisterAsync("relu", bytes);
        Assert.Equal(3, third.Version);
    }

    [Fact]
    public async Task FirstUse_CreatesWalDatabaseWithSchemaVersionThree_AndWritesNothingOutsideTheDataDirectory()
    {
        using var registry = new TestRegistry(_dir.DataDirectory);
        Assert.False(Directory.Exists(_dir.DataDirectory), "Building the registry must not touch the disk.");

        await registry.RegisterAsync("relu", TestModels.Relu());
        await registry.Registry.SetAliasAsync("relu", "production", 1);

        Assert.Equal([_dir.DataDirectory], Directory.GetFileSystemEntries(_dir.Root));
        using var connection = new SqliteConnection($"Data Source={_dir.DatabasePath};Pooling=False");
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal(3L, command.ExecuteScalar());
        command.CommandText = "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name);";
        Assert.Equal("aliases,artifact_deletions,artifact_pins,changes,model_attachments,model_versions,models", command.ExecuteScalar());
    }

    [Fact]
    public async Task FirstUse_DatabaseFromNewerSchema_ThrowsAskingToUpgrade()
    {
        Directory.CreateDirectory(_dir.DataDirectory);
        using (var connection = new SqliteConnection($"Data Source={_dir.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 7;";
            command.ExecuteNonQuery();
        }

        using var registry = new TestRegistry(_dir.DataDirectory);

        ModelKitException ex = await Assert.ThrowsAsync<ModelKitException>(() => registry.Registry.ListModelsAsync());

        Assert.Equal(
            $"The registry database '{_dir.DatabasePath}' has schema version 7, newer than this ModelKit.Registry understands (3). " +
            "Upgrade the ModelKit.Registry package, or point ModelKitOptions.DataDirectory at another directory.",
            ex.Message);
    }

    [Fact]
    public async Task CollectGarbage_StaleStagingFile_IsDeleted_AndFreshOneKept()
    {
        string tmp = _dir.TempBlobDirectory;
        Directory.CreateDirectory(tmp);
        string stale = Path.Combine(tmp, "stale.tmp");
        string fresh = Path.Combine(tmp, "fresh.tmp");
        await File.WriteAllTextAsync(stale, "left by a crashed process");
        await File.WriteAllTextAsync(fresh, "being written by another process");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-2));

        using var registry = new TestRegistry(_dir.DataDirectory);
        await registry.Registry.CollectGarbageAsync(TimeSpan.FromDays(1));

        Assert.Equal([fresh], _dir.TempFiles());
    }

    [Fact]
    public async Task Register_RecordsRegistrationsCounterWithModelNameTag()
    {
        string name = "metered-" + Guid.NewGuid().ToString("N")[..8];
        var seen = new List<(string Instrument, string? Unit, long Value, object? Name)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "ModelKit.Registry")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            object? modelName = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "modelkit.model.name")
                {
                    modelName = tag.Value;
                }
            }

            if (Equals(modelName, name))
            {
                lock (seen)
                {
                    seen.Add((instrument.Name, instrument.Unit, value, modelName));
                }
            }
        });
        listener.Start();
        using var registry = new TestRegistry(_dir.DataDirectory);

        await registry.RegisterAsync(name, TestModels.Relu());
        await registry.RegisterAsync(name, TestModels.Relu());

        Assert.Equal([("modelkit.registry.registrations", "{registration}", 1L, (object?)name), ("modelkit.registry.registrations", "{registration}", 1L, name)], seen);
    }

    [Fact]
    public async Task Register_WithListener_StartsActivityTaggedWithModelNameAndVersion()
    {
        string name = "traced-" + Guid.NewGuid().ToString("N")[..8];
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "ModelKit.Registry",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem("modelkit.model.name"), name))
                {
                    lock (activities)
                    {
                        activities.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var registry = new TestRegistry(_dir.DataDirectory);

        await registry.RegisterAsync(name, TestModels.Relu());
        await Assert.ThrowsAsync<ModelNotFoundException>(() => registry.Registry.ResolveAsync(ModelReference.ForVersion(name, 4)));

        Activity register = Assert.Single(activities, a => a.OperationName == "modelkit.registry.register");
        Assert.Equal(1, register.GetTagItem("modelkit.model.version"));
        Activity resolve = Assert.Single(activities, a => a.OperationName == "modelkit.registry.resolve");
        Assert.Equal(ActivityStatusCode.Error, resolve.Status);
        Assert.Equal(typeof(ModelNotFoundException).FullName, resolve.GetTagItem("error.type"));
    }

    private sealed record AliasChangeView(string Alias, int? OldVersion, int? NewVersion);

    /// <summary>Hands out its bytes in small reads and cancels the token on the second read.</summary>
    private sealed class CancelOnReadStream(byte[] bytes, CancellationTokenSource cts) : MemoryStream(bytes)
    {
        public int Reads { get; private set; }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Reads++;
            if (Reads == 2)
            {
                cts.Cancel();
            }

            cancellationToken.ThrowIfCancellationRequested();
            return base.ReadAsync(buffer[..Math.Min(buffer.Length, 1024)], cancellationToken);
        }
    }
}
