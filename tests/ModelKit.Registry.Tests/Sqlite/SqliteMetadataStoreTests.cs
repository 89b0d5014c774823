using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry.Internal;
using ModelKit.Registry.Sqlite;
using ModelKit.Registry.Tests.Conformance;
using ModelKit.Registry.Tests.TestSupport;

namespace ModelKit.Registry.Tests.Sqlite;

public sealed class SqliteMetadataStoreTests : MetadataStoreConformanceTests, IDisposable
{
    private readonly TestDataDirectory _dir = new();
    private readonly List<SqliteMetadataStore> _stores = [];

    protected override IModelMetadataStore CreateStore(IModelMetadataStore? shareWith = null)
    {
        var store = new SqliteMetadataStore(_dir.DatabasePath, TimeSpan.FromMilliseconds(20), TimeProvider.System, () => Directory.CreateDirectory(_dir.DataDirectory));
        _stores.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (SqliteMetadataStore store in _stores)
        {
            store.Dispose();
        }

        _dir.Dispose();
    }

    [Fact]
    public async Task EveryConnection_UsesSynchronousFullAndWal()
    {
        var store = (SqliteMetadataStore)CreateStore();
        await store.ListModelsAsync();

        using var connection = new SqliteConnection(store.ConnectionString);
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", command.ExecuteScalar());
        SqliteConnection.ClearPool(connection);
        await store.GetLatestChangeSequenceAsync();
        // The store's own pooled connections set synchronous = FULL (2) when they open.
        using var pooled = new SqliteConnection(store.ConnectionString);
        pooled.Open();
        command.Connection = pooled;
        command.CommandText = "PRAGMA synchronous;";
        Assert.Equal(2L, command.ExecuteScalar());
    }

    [Fact]
    public async Task FirstUse_OnSchemaVersionOneDatabase_MigratesVersionsAliasesAndHistoryIntoTheChangeLedger()
    {
        Directory.CreateDirectory(_dir.DataDirectory);
        using (var connection = new SqliteConnection($"Data Source={_dir.DatabasePath};Pooling=False"))
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = SqliteMigrations.All[0].Sql + """
                PRAGMA user_version = 1;
                INSERT INTO models VALUES ('relu', '2026-01-01T00:00:00.0000000Z');
                INSERT INTO model_versions VALUES ('relu', 1, 'sha256:aa', 10, 'onnx', '{"inputs":[],"outputs":[]}', '{}', '{}', '{"trainingRunId":"run-1","parameters":{}}', NULL, '2026-01-01T00:00:00.0000000Z');
                INSERT INTO model_versions VALUES ('relu', 2, 'sha256:bb', 10, 'onnx', '{"inputs":[],"outputs":[]}', '{}', '{}', '{"parentVersion":1,"parameters":{}}', NULL, '2026-01-02T00:00:00.0000000Z');
                INSERT INTO aliases VALUES ('relu', 'production', 2, '2026-01-03T00:00:00.0000000Z');
                INSERT INTO alias_history (name, alias, old_version, new_version, changed_at) VALUES ('relu', 'production', NULL, 1, '2026-01-01T12:00:00.0000000Z');
                INSERT INTO alias_history (name, alias, old_version, new_version, changed_at) VALUES ('relu', 'production', 1, 2, '2026-01-03T00:00:00.0000000Z');
                """;
            command.ExecuteNonQuery();
        }

        IModelMetadataStore store = CreateStore();

        Assert.Equal(
            [(1L, RegistryChangeKind.VersionRegistered, (int?)1), (2, RegistryChangeKind.AliasMoved, 1), (3, RegistryChangeKind.VersionRegistered, 2), (4, RegistryChangeKind.AliasMoved, 2)],
            (await store.ReadChangesAsync(0, 10)).Select(c => (c.Sequence, c.Kind, c.Version)));
        Assert.Equal([(null, 1), (1, 2)], (await store.GetAliasHistoryAsync("relu", "production")).Select(h => (h.OldVersion, h.NewVersion)));
        Assert.Single((await store.SearchAsync(new ModelSearchQuery { TrainingRunId = "run-1" })).Versions);
        Assert.Equal(3, (await AddAsync(store, "relu")).Version);
    }

    [Fact]
    public async Task FirstUse_DataDirectoryOnANetworkFileSystem_IsRefusedSayingSqliteIsForOneHost()
    {
        using var services = new ServiceCollection()
            .AddSingleton<FileSystemProbe>(new FixedProbe("NFS"))
            .AddModelKit(o => o.DataDirectory = _dir.DataDirectory).AddModelRegistry().AddOnnx()
            .Services.BuildServiceProvider();

        ModelKitException ex = await Assert.ThrowsAsync<ModelKitException>(() => services.GetRequiredService<IModelRegistry>().ListModelsAsync());

        Assert.StartsWith($"The registry data directory '{_dir.DataDirectory}' is on a NFS file system. The embedded SQLite registry needs a local file system: " +
            "SQLite = one host, any number of processes;", ex.Message, StringComparison.Ordinal);
        Assert.Contains("For many hosts use the PostgreSQL registry (ModelKit.Registry.PostgreSql", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.DatabasePath));
    }

    [Fact]
    public async Task FirstUse_NetworkFileSystemExplicitlyAllowed_Opens()
    {
        using var services = new ServiceCollection()
            .AddSingleton<FileSystemProbe>(new FixedProbe("FUSE"))
            .AddModelKit(o => o.DataDirectory = _dir.DataDirectory)
            .AddModelRegistry(r => r.Configure(o => o.AllowNetworkFileSystem = true)).AddOnnx()
            .Services.BuildServiceProvider();

        Assert.Empty(await services.GetRequiredService<IModelRegistry>().ListModelsAsync());
    }

    [Theory]
    [InlineData(0x6969L, "NFS")]
    [InlineData(0xFF534D42L, "CIFS")]
    [InlineData(0xFE534D42L, "SMB2")]
    [InlineData(0x517BL, "SMB")]
    [InlineData(0x65735546L, "FUSE")]
    [InlineData(0xEF53L, null)]
    [InlineData(0x01021994L, null)]
    [InlineData(0x794C7630L, null)]
    public void Classify_NetworkAndFuseMagicNumbers_AreNamed_AndLocalOnesAreNot(long magic, string? expected)
    {
        Assert.Equal(expected, FileSystemSafety.Classify(magic));
    }

    [Fact]
    public void GetNetworkFileSystemName_OnTheLocalTempDirectory_IsNull()
    {
        Assert.NotNull(FileSystemSafety.GetFileSystemType(Path.GetTempPath()));
        Assert.Null(FileSystemSafety.GetNetworkFileSystemName(Path.GetTempPath()));
    }

    private sealed class FixedProbe(string name) : FileSystemProbe
    {
        public override string? GetNetworkFileSystemName(string path) => name;
    }
}
