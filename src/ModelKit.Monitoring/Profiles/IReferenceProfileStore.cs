using ModelKit.Registry;

namespace ModelKit.Monitoring.Profiles;

/// <summary>Stores one <see cref="ReferenceProfile"/> per model version. Implementations are thread-safe.</summary>
public interface IReferenceProfileStore
{
    /// <summary>Gets the stored profile of <paramref name="version"/>.</summary>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The profile, or <see langword="null"/> when none is stored.</returns>
    /// <exception cref="InvalidDataException">The stored profile is corrupt or belongs to another artifact.</exception>
    Task<ReferenceProfile?> GetAsync(ModelVersion version, CancellationToken cancellationToken = default);

    /// <summary>Stores <paramref name="profile"/> for <paramref name="version"/>, replacing an earlier one atomically.</summary>
    /// <param name="version">The version the profile describes.</param>
    /// <param name="profile">The profile.</param>
    /// <param name="cancellationToken">Cancels the write; nothing changes when cancelled.</param>
    /// <returns>A task that completes when the profile is stored.</returns>
    /// <exception cref="ReferenceProfileMismatchException">The profile was built for another version or artifact, or its features do not match the version's signature.</exception>
    Task SaveAsync(ModelVersion version, ReferenceProfile profile, CancellationToken cancellationToken = default);
}

/// <summary>A reference profile does not fit the model version it is used with.</summary>
public sealed class ReferenceProfileMismatchException : ModelKitException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What does not match and what to do.</param>
    public ReferenceProfileMismatchException(string message) : base(message) { }
}
