using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>What the object-store packages (ModelKit.Storage.S3, ModelKit.Storage.AzureBlobs) share when they plug into the registry.</summary>
/// <remarks>
/// Shared source (src/Shared/Storage), linked as an internal class into each object-store package by its project file: an
/// implementation helper, not public API.
/// </remarks>
internal static class ArtifactStoreRegistration
{
    /// <summary>
    /// Registers <typeparamref name="TOptions"/> (DataAnnotations, <typeparamref name="TValidator"/>, validation on start) and
    /// replaces the registry's <see cref="IArtifactStore"/> with the store that <paramref name="create"/> builds from the
    /// validated options, once, as a singleton.
    /// </summary>
    /// <typeparam name="TOptions">The store's options class.</typeparam>
    /// <typeparam name="TValidator">The validator whose messages quote the offending values.</typeparam>
    /// <param name="builder">The registry builder.</param>
    /// <param name="configure">Sets the options.</param>
    /// <param name="create">Builds the store from the options; the container owns (and disposes) what it returns.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public static IModelRegistryBuilder UseArtifactStore<TOptions, TValidator>(
        IModelRegistryBuilder builder, Action<TOptions> configure, Func<TOptions, IArtifactStore> create)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        ArgumentNullException.ThrowIfNull(create);
        builder.Services.AddValidatedModelKitOptions<TOptions, TValidator>(configure);
        builder.Services.Replace(ServiceDescriptor.Singleton(sp => create(sp.GetRequiredService<IOptions<TOptions>>().Value)));
        return builder;
    }

    /// <summary>
    /// Returns whether <paramref name="prefix"/> is a safe key or blob-name prefix: empty, or at most 512 characters from
    /// <c>[A-Za-z0-9/_.-]</c> ending with <c>/</c>, not starting with <c>/</c>, without <c>..</c> or <c>//</c>.
    /// </summary>
    /// <param name="prefix">The prefix; <see langword="null"/> is invalid.</param>
    /// <returns><see langword="true"/> when valid.</returns>
    public static bool IsValidPrefix(string? prefix)
    {
        if (prefix is null)
        {
            return false;
        }

        if (prefix.Length == 0)
        {
            return true;
        }

        return prefix.Length <= 512 && prefix.EndsWith('/') && !prefix.StartsWith('/') && !prefix.Contains("..", StringComparison.Ordinal) &&
            !prefix.Contains("//", StringComparison.Ordinal) && prefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '_' or '.' or '-');
    }
}
