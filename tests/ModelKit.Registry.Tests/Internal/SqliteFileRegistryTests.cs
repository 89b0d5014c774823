using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry.Tests.Conformance;

namespace ModelKit.Registry.Tests.Internal;

/// <summary>The registry conformance and process-safety suites over the embedded defaults: SQLite metadata and the file store.</summary>
public sealed class SqliteFileRegistryTests : ProcessSafetyTests
{
    protected override IReadOnlyList<string> WorkerStoreArguments => ["--store", "sqlite"];

    protected override void ConfigureStores(IModelRegistryBuilder registry) => registry.UseSqlite().UseFileArtifacts();
}
