using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry.PostgreSql;
using ModelKit.Registry.PostgreSql.Internal;
using ModelKit.Registry.Tests.Conformance;
using ModelKit.Registry.Tests.Servers;
using Npgsql;

namespace ModelKit.Registry.PostgreSql.Tests;

/// <summary>The metadata-store conformance suite against a real PostgreSQL 15 server, one schema per test.</summary>
[Collection("postgres")]
public sealed class PostgreSqlMetadataStoreTests(PostgresServer server) : MetadataStoreConformanceTests, IAsyncLifetime
{
    private readonly string _schema = PostgresServer.NewSchema();
    private readonly List<PostgreSqlMetadataStore> _stores = [];

    protected override IModelMetadataStore CreateStore(IModelMetadataStore? shareWith = null)
    {
        var store = new PostgreSqlMetadataStore(new PostgreSqlRegistryOptions { ConnectionString = server.ConnectionString, Schema = _schema }, TimeProvider.System);
        _stores.Add(store);
        return store;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (PostgreSqlMetadataStore store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task FirstUse_TwoStoresAtOnce_CreateTheSchemaOnceAndRecordTheMigration()
    {
        IModelMetadataStore a = CreateStore();
        IModelMetadataStore b = CreateStore(a);

        await Task.WhenAll(a.ListModelsAsync(), b.ListModelsAsync());

        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT string_agg(version::text, ',' ORDER BY version) FROM {_schema}.schema_migrations;", connection);
        Assert.Equal("1,2", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task FirstUse_SchemaFromANewerRelease_ThrowsAskingToUpgrade()
    {
        await CreateStore().ListModelsAsync();
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"INSERT INTO {_schema}.schema_migrations (version) VALUES (99);", connection);
            await command.ExecuteNonQueryAsync();
        }

        ModelKitException ex = await Assert.ThrowsAsync<ModelKitException>(() => CreateStore().ListModelsAsync());

        Assert.Contains("has registry schema version 99, newer than this ModelKit.Registry.PostgreSql understands (2)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnreachableServer_ThrowsNamingTheServerAndWhatToCheck()
    {
        var store = new PostgreSqlMetadataStore(
            new PostgreSqlRegistryOptions { ConnectionString = $"Host=127.0.0.1;Port={TestServers.FreePort()};Username=postgres;Timeout=3" }, TimeProvider.System);
        await using (store)
        {
            ModelKitException ex = await Assert.ThrowsAsync<ModelKitException>(() => store.ListModelsAsync());

            Assert.StartsWith("Could not connect to the PostgreSQL database '' on '127.0.0.1:", ex.Message, StringComparison.Ordinal);
            Assert.Contains("Check that the server runs and the connection string is right.", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void UsePostgreSql_EmptyConnectionString_FailsValidationOnStart()
    {
        using ServiceProvider provider = new ServiceCollection()
            .AddModelKit().AddModelRegistry(r => r.UsePostgreSql(" ")).Services.BuildServiceProvider();

        Microsoft.Extensions.Options.OptionsValidationException ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<PostgreSqlRegistryOptions>>().Value);

        Assert.Contains("PostgreSqlRegistryOptions.ConnectionString is empty", ex.Message, StringComparison.Ordinal);
    }
}
