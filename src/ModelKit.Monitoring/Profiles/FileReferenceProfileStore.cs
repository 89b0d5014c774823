using System.Text.Json;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Internal;
using ModelKit.Registry;

namespace ModelKit.Monitoring.Profiles;

/// <summary>
/// Stores reference profiles as JSON files in the monitoring data folder,
/// <c>{DataDirectory}/monitoring/profiles/{model}/{version}-{first 16 hex digits of the artifact digest}.json</c>: keyed by
/// model name, version and artifact digest, so a profile can never be applied to another artifact. Written to a
/// temporary file, flushed, then renamed. The store of hosts without a model registry; with one, <c>AddMonitoring()</c>
/// uses <see cref="RegistryReferenceProfileStore"/>, which keeps the profile with the version. Thread-safe.
/// </summary>
public sealed class FileReferenceProfileStore : IReferenceProfileStore
{
    private static readonly System.Buffers.SearchValues<char> s_hex = System.Buffers.SearchValues.Create("0123456789abcdef");
    private readonly string _root;
    private readonly TensorReducers _reducers;

    /// <summary>Creates the store.</summary>
    /// <param name="modelKitOptions">Supplies <see cref="ModelKitOptions.DataDirectory"/>.</param>
    /// <param name="monitoringOptions">Supplies the reducers the features are checked against.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public FileReferenceProfileStore(IOptions<ModelKitOptions> modelKitOptions, IOptions<MonitoringOptions> monitoringOptions)
    {
        ArgumentNullException.ThrowIfNull(modelKitOptions);
        ArgumentNullException.ThrowIfNull(monitoringOptions);
        _root = Path.Combine(Path.GetFullPath(modelKitOptions.Value.DataDirectory), "monitoring", "profiles");
        _reducers = monitoringOptions.Value.Reducers;
    }

    /// <summary>Returns the file that holds the profile of <paramref name="version"/>.</summary>
    /// <param name="version">The version.</param>
    /// <returns>The absolute path.</returns>
    public string PathOf(ModelVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        ModelName.ThrowIfInvalid(version.Name, nameof(version));
        string digest = version.Digest.StartsWith("sha256:", StringComparison.Ordinal) ? version.Digest[7..] : version.Digest;
        string key = digest.Length >= 16 && !digest.AsSpan(0, 16).ContainsAnyExcept(s_hex) ? digest[..16] : "nodigest";
        return Path.Combine(_root, version.Name, $"{version.Version}-{key}.json");
    }

    /// <inheritdoc />
    public async Task<ReferenceProfile?> GetAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        string path = PathOf(version);
        if (!File.Exists(path))
        {
            return null;
        }

        ReferenceProfile? profile;
        try
        {
            FileStream stream = File.OpenRead(path);
            await using (stream.ConfigureAwait(false))
            {
                profile = await JsonSerializer.DeserializeAsync(stream, MonitoringJsonContext.Default.ReferenceProfile, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Reference profile '{path}' is not valid JSON ({ex.Message}); delete it and build the profile again.", ex);
        }

        if (profile is null || profile.ModelName != version.Name || profile.ModelVersion != version.Version || profile.ArtifactDigest != version.Digest)
        {
            throw new InvalidDataException($"Reference profile '{path}' describes {profile?.ModelName}/{profile?.ModelVersion} ({profile?.ArtifactDigest}) but {version.Name}/{version.Version} ({version.Digest}) was asked for; delete it and build the profile again.");
        }

        return profile;
    }

    /// <inheritdoc />
    public async Task SaveAsync(ModelVersion version, ReferenceProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(profile);
        ProfileValidation.EnsureMatches(version, profile, _reducers);
        string path = PathOf(version);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 65536, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                await JsonSerializer.SerializeAsync(stream, profile, MonitoringJsonContext.Default.ReferenceProfile, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}

/// <summary>Checks that a profile fits a version.</summary>
internal static class ProfileValidation
{
    public static void EnsureMatches(ModelVersion version, ReferenceProfile profile, TensorReducers reducers)
    {
        if (profile.ModelName != version.Name || profile.ModelVersion != version.Version || profile.ArtifactDigest != version.Digest)
        {
            throw new ReferenceProfileMismatchException($"The reference profile was built for {profile.ModelName}/{profile.ModelVersion} ({profile.ArtifactDigest}) but is being stored for {version.Name}/{version.Version} ({version.Digest}); build it from the version it describes.");
        }

        var expected = new FeatureExtractor(version.Signature, reducers).Features;
        bool same = expected.Count == profile.Features.Count;
        for (int i = 0; same && i < expected.Count; i++)
        {
            same = expected[i].Name == profile.Features[i].Name && expected[i].Kind == profile.Features[i].Kind;
        }

        if (!same)
        {
            throw new ReferenceProfileMismatchException(
                $"The reference profile of {version.Name}/{version.Version} has features [{string.Join(", ", profile.Features.Select(f => f.Name))}] but the version's signature gives [{string.Join(", ", expected.Select(f => f.Name))}]; build the profile with the same reducers from this version's signature.");
        }
    }
}
