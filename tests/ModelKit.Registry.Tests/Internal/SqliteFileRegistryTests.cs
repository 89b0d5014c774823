using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry.Tests.Conformance;

namespace ModelKit.Registry.Tests.Internal;

/// <summary>The registry conformance suite over the embedded defaults: SQLite metadata and the file store.</summary>
public sealed class SqliteFileRegistryTests : RegistryConformanceTests
{
    protected override void ConfigureStores(IModelRegistryBuilder registry) => registry.UseSqlite().UseFileArtifacts();
}
