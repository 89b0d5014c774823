using System.Text.Json;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Internal;
using ModelKit.Registry;

namespace ModelKit.Monitoring.Profiles;

/// <summary>
/// Stores each version's reference profile with the version in the model registry, as the version attachment
/// <see cref="AttachmentName"/> (JSON, <c>application/json</c>): it travels with the version to every host that shares
/// the registry, is content-addressed and digest-checked like the artifact, and is deleted with the version. The
/// default store of <c>AddMonitoring()</c> when an <see cref="IModelRegistry"/> is registered. Thread-safe.
/// </summary>
public sealed class RegistryReferenceProfileStore : IReferenceProfileStore
{
    /// <summary>The attachment name: <c>monitoring/reference-profile.json</c>.</summary>
    public const string AttachmentName = "monitoring/reference-profile.json";

    /// <summary>The media type the profile is stored with.</summary>
    public const string MediaType = "application/json";

    private readonly IModelRegistry _registry;
    private readonly TensorReducers _reducers;

    /// <summary>Creates the store.</summary>
    /// <param name="registry">The registry the versions live in.</param>
    /// <param name="monitoringOptions">Supplies the reducers the profile's features are checked against.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public RegistryReferenceProfileStore(IModelRegistry registry, IOptions<MonitoringOptions> monitoringOptions)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(monitoringOptions);
        _registry = registry;
        _reducers = monitoringOptions.Value.Reducers;
    }

    /// <inheritdoc />
    /// <exception cref="ReferenceProfileMismatchException">The stored profile's features do not match the version's signature (it was built with other reducers, or for another signature).</exception>
    /// <exception cref="ModelNotFoundException">The version does not exist in the registry.</exception>
    public async Task<ReferenceProfile?> GetAsync(ModelVersion version, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        IReadOnlyList<ModelAttachment> attachments = await _registry.ListAttachmentsAsync(version.Name, version.Version, cancellationToken).ConfigureAwait(false);
        if (!attachments.Any(a => a.Name == AttachmentName))
        {
            return null;
        }

        ReferenceProfile? profile;
        string where = $"the attachment '{AttachmentName}' of {version.Name}/{version.Version}";
        try
        {
            Stream stream = await _registry.OpenAttachmentAsync(version.Name, version.Version, AttachmentName, cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                profile = await JsonSerializer.DeserializeAsync(stream, MonitoringJsonContext.Default.ReferenceProfile, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The reference profile in {where} is not valid JSON ({ex.Message}); build the profile again and store it with SetReferenceProfileAsync.", ex);
        }

        if (profile is null || profile.ModelName != version.Name || profile.ModelVersion != version.Version || profile.ArtifactDigest != version.Digest)
        {
            throw new InvalidDataException($"The reference profile in {where} describes {profile?.ModelName}/{profile?.ModelVersion} ({profile?.ArtifactDigest}) but {version.Name}/{version.Version} ({version.Digest}) was asked for; build the profile from this version and store it again.");
        }

        ProfileValidation.EnsureMatches(version, profile, _reducers);
        return profile;
    }

    /// <inheritdoc />
    /// <exception cref="ModelNotFoundException">The version does not exist in the registry; nothing is stored.</exception>
    public async Task SaveAsync(ModelVersion version, ReferenceProfile profile, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(profile);
        ProfileValidation.EnsureMatches(version, profile, _reducers);
        using var content = new MemoryStream();
        await JsonSerializer.SerializeAsync(content, profile, MonitoringJsonContext.Default.ReferenceProfile, cancellationToken).ConfigureAwait(false);
        content.Position = 0;
        await _registry.PutAttachmentAsync(version.Name, version.Version, AttachmentName, MediaType, content, cancellationToken).ConfigureAwait(false);
    }
}
