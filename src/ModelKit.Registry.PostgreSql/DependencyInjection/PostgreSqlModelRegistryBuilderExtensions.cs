using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit.Registry;
using ModelKit.Registry.PostgreSql;
using ModelKit.Registry.PostgreSql.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses PostgreSQL as the registry's metadata store.</summary>
public static class PostgreSqlModelRegistryBuilderExtensions
{
    /// <summary>
    /// Keeps the registry's metadata in PostgreSQL (12 or later): <c>AddModelRegistry(r =&gt; r.UsePostgreSql(connectionString))</c>.
    /// The schema is created and migrated on first use by versioned migrations (one process at a time, under an advisory
    /// lock); version numbers are allocated without gaps or duplicates under any number of concurrent writers on any number
    /// of hosts; alias moves are compare-and-set with history; changes are announced with LISTEN/NOTIFY, which keeps every
    /// host's resolve cache and <see cref="IModelRegistry.WatchAsync"/> current. Combine it with an object store
    /// (ModelKit.Storage.S3 or ModelKit.Storage.AzureBlobs) when several hosts share the registry.
    /// </summary>
    /// <param name="builder">The registry builder.</param>
    /// <param name="connectionString">The Npgsql connection string.</param>
    /// <param name="configure">Sets further <see cref="PostgreSqlRegistryOptions"/> (for example the schema); may be <see langword="null"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="connectionString"/> is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder UsePostgreSql(this IModelRegistryBuilder builder, string connectionString, Action<PostgreSqlRegistryOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(connectionString);
        builder.Services.AddValidatedModelKitOptions<PostgreSqlRegistryOptions, PostgreSqlRegistryOptionsValidator>(o =>
        {
            o.ConnectionString = connectionString;
            configure?.Invoke(o);
        });
        builder.Services.Replace(ServiceDescriptor.Singleton<IModelMetadataStore>(sp => new PostgreSqlMetadataStore(
            sp.GetRequiredService<IOptions<PostgreSqlRegistryOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ILoggerFactory>()?.CreateLogger("ModelKit.Registry.PostgreSql"))));
        return builder;
    }
}
