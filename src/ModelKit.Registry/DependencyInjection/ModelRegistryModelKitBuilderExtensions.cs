using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelKit;
using ModelKit.Registry;
using ModelKit.Registry.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the embedded default model registry.</summary>
public static class ModelRegistryModelKitBuilderExtensions
{
    /// <summary>
    /// Adds the embedded default <see cref="IModelRegistry"/> as a singleton: metadata in SQLite
    /// (<c>registry.db</c>, WAL journal) and artifacts in a content-addressed store (<c>blobs/sha256/ab/abcdef…</c>),
    /// both under <see cref="ModelKitOptions.DataDirectory"/>. Nothing is written outside that directory, and
    /// nothing is written until the registry is first used. Safe to call more than once.
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
    /// The registry is thread-safe and several processes may share one data directory (for example serving
    /// replicas on a shared volume): version numbers are assigned under SQLite's write lock, and a writer waits
    /// up to 30 seconds for another writer's lock before failing. It uses <see cref="TimeProvider"/> for
    /// timestamps, an <c>ILogger</c> and an <c>IMeterFactory</c> when they are registered, the activity source
    /// and meter <c>ModelKit.Registry</c>, and the counter <c>modelkit.registry.registrations</c> (tag
    /// <c>modelkit.model.name</c>).
    /// </para>
    /// </remarks>
    /// <param name="builder">The builder returned by <c>AddModelKit()</c>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    public static IModelKitBuilder AddModelRegistry(this IModelKitBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<IModelRegistry, SqliteModelRegistry>();
        return builder;
    }
}
