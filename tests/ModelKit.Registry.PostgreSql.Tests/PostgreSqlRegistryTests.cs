using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry.Tests.Conformance;
using ModelKit.Registry.Tests.Servers;

namespace ModelKit.Registry.PostgreSql.Tests;

/// <summary>The registry conformance and process-safety suites with metadata in a real PostgreSQL 15 server and artifacts in the file store.</summary>
[Collection("postgres")]
public sealed class PostgreSqlRegistryTests(PostgresServer server) : ProcessSafetyTests
{
    private readonly string _schema = PostgresServer.NewSchema();

    protected override IReadOnlyList<string> WorkerStoreArguments => ["--store", "postgres", "--pg", server.ConnectionString, "--schema", _schema];

    protected override void ConfigureStores(IModelRegistryBuilder registry) =>
        registry.UsePostgreSql(server.ConnectionString, o => o.Schema = _schema).UseFileArtifacts();
}
