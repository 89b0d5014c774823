using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Registry;
using ModelKit.Registry.Files;
using ModelKit.Registry.Internal;
using ModelKit.Registry.Sqlite;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the model registry and chooses its metadata and artifact stores.</summary>
public static class ModelRegistryModelKitBuilderExtensions
{
    private const string DatabaseFileName = "registry.db";
    private const string BlobsDirectoryName = "blobs";

    /// <summary>
    /// Adds the embedded default <see cref="IModelRegistry"/> as a singleton: metadata in SQLite
    /// (<c>registry.db</c>, WAL journal, <c>synchronous = FULL</c>) and artifacts in a content-addressed store
    /// (<c>blobs/sha256/ab/abcdef…</c>), both under <see cref="ModelKitOptions.DataDirectory"/>. Nothing is written outside
    /// that directory, and nothing is written until the registry is first used. Safe to call more than once.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Registration validates each artifact with the <see cref="IModelFormatInspector"/> of its format. This
    /// package does not reference ModelKit.Onnx, so call <c>AddOnnx()</c> from ModelKit.Onnx as well:
    /// <c>services.AddModelKit(o =&gt; o.DataDirectory = "data").AddModelRegistry().AddOnnx();</c>. Without an
    /// inspector for the format, <see cref="IModelRegistry.RegisterAsync"/> throws a <see cref="ModelKitException"/>
    /// that says so; resolving and reading versions works without one.
    /// </para>
    /// <para>
    /// SQLite = one host, any number of processes: version numbers are assigned under SQLite's write lock, and a writer
    /// waits up to 30 seconds for another writer's lock before failing. The data directory must be on a local file system:
    /// a directory on NFS, SMB/CIFS, FUSE, 9P or Ceph is refused on first use (SQLite's WAL needs shared memory on one host)
    /// unless <see cref="ModelRegistryOptions.AllowNetworkFileSystem"/> is set. Many hosts (for example several serving
    /// replicas) share one registry through ModelKit.Registry.PostgreSql and an object store (ModelKit.Storage.S3 or
    /// ModelKit.Storage.AzureBlobs).
    /// </para>
    /// <para>
    /// It uses <see cref="TimeProvider"/> for timestamps, an <c>ILogger</c> and an <c>IMeterFactory</c> when they are
    /// registered, the activity source and meter <c>ModelKit.Registry</c>, and the counter
    /// <c>modelkit.registry.registrations</c> (tag <c>modelkit.model.name</c>). Options: <see cref="ModelRegistryOptions"/>.
    /// </para>
    /// </remarks>
    /// <param name="builder">The builder returned by <c>AddModelKit()</c>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddModelRegistry(this IModelKitBuilder builder) => AddModelRegistry(builder, null);

    /// <summary>
    /// Adds the <see cref="IModelRegistry"/> with the stores chosen in <paramref name="configure"/>, for example
    /// <c>AddModelRegistry(r =&gt; r.UsePostgreSql(connectionString).UseS3Artifacts(o =&gt; o.BucketName = "models"))</c>;
    /// the embedded SQLite and file stores fill in what is not chosen. Safe to call more than once; a later choice replaces
    /// an earlier one.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddModelKit()</c>.</param>
    /// <param name="configure">Chooses stores and sets <see cref="ModelRegistryOptions"/>; may be <see langword="null"/>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddModelRegistry(this IModelKitBuilder builder, Action<IModelRegistryBuilder>? configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        IServiceCollection services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddValidatedModelKitOptions<ModelRegistryOptions, ModelRegistryOptionsValidator>();
        services.TryAddSingleton<FileSystemProbe>();
        configure?.Invoke(new RegistryBuilder(services));
        services.TryAddSingleton<IModelMetadataStore>(CreateSqliteStore);
        services.TryAddSingleton<IArtifactStore>(CreateFileStore);
        services.TryAddSingleton<ModelRegistry>();
        services.TryAddSingleton<IModelRegistry>(sp => sp.GetRequiredService<ModelRegistry>());
        // Scheduled garbage collection: idle unless ModelRegistryOptions.GarbageCollectionInterval is set.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, GarbageCollectionService>());
        return builder;
    }

    /// <summary>Sets <see cref="ModelRegistryOptions"/>.</summary>
    /// <param name="builder">The registry builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder Configure(this IModelRegistryBuilder builder, Action<ModelRegistryOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return builder;
    }

    /// <summary>Keeps metadata in the embedded SQLite database <c>registry.db</c> under <see cref="ModelKitOptions.DataDirectory"/> (the default).</summary>
    /// <param name="builder">The registry builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder UseSqlite(this IModelRegistryBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IModelMetadataStore>(CreateSqliteStore));
        return builder;
    }

    /// <summary>Keeps artifacts in the content-addressed file store <c>blobs/</c> under <see cref="ModelKitOptions.DataDirectory"/> (the default).</summary>
    /// <param name="builder">The registry builder.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder UseFileArtifacts(this IModelRegistryBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.Replace(ServiceDescriptor.Singleton<IArtifactStore>(CreateFileStore));
        return builder;
    }

    private static string DataDirectory(IServiceProvider services)
    {
        string dataDirectory = services.GetRequiredService<IOptions<ModelKitOptions>>().Value.DataDirectory;
        if (string.IsNullOrWhiteSpace(dataDirectory))
        {
            throw new ModelKitException("ModelKitOptions.DataDirectory is empty; set it to a writable directory such as './modelkit-data'.");
        }

        // Path.GetFullPath only computes a string: it does no I/O.
        return Path.GetFullPath(dataDirectory);
    }

    private static IArtifactStore CreateFileStore(IServiceProvider services) =>
        new FileArtifactStore(Path.Combine(DataDirectory(services), BlobsDirectoryName));

    private static IModelMetadataStore CreateSqliteStore(IServiceProvider services)
    {
        string dataDirectory = DataDirectory(services);
        ModelRegistryOptions options = services.GetRequiredService<IOptions<ModelRegistryOptions>>().Value;
        FileSystemProbe probe = services.GetRequiredService<FileSystemProbe>();
        ILogger logger = services.GetService<ILoggerFactory>()?.CreateLogger("ModelKit.Registry.Sqlite") ??
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        return new SqliteMetadataStore(
            Path.Combine(dataDirectory, DatabaseFileName),
            options.ChangePollInterval,
            services.GetRequiredService<TimeProvider>(),
            () =>
            {
                FileSystemSafety.CreateDirectoryDurably(dataDirectory);
                string? fileSystem = probe.GetNetworkFileSystemName(dataDirectory);
                if (fileSystem is not null)
                {
                    if (!options.AllowNetworkFileSystem)
                    {
                        throw new ModelKitException(
                            $"The registry data directory '{dataDirectory}' is on a {fileSystem} file system. The embedded SQLite registry needs a local " +
                            "file system: SQLite = one host, any number of processes; WAL mode needs shared memory on one host and its locks are unreliable " +
                            "on network and FUSE file systems. For many hosts use the PostgreSQL registry (ModelKit.Registry.PostgreSql, " +
                            "AddModelRegistry(r => r.UsePostgreSql(...))) with an object store. Set ModelRegistryOptions.AllowNetworkFileSystem only " +
                            "if one host alone uses this directory and you accept the risk.");
                    }

                    RegistryLog.NetworkFileSystemAllowed(logger, dataDirectory, fileSystem);
                }
            },
            logger);
    }

    private sealed class RegistryBuilder(IServiceCollection services) : IModelRegistryBuilder
    {
        public IServiceCollection Services { get; } = services;
    }
}
