using System.Globalization;

namespace ModelKit.Registry;

/// <summary>
/// Thrown by <see cref="IModelRegistry.CompareAndSetAliasAsync"/> when the alias no longer points at the version the
/// caller expected (another writer moved it first). Nothing is changed when this is thrown.
/// </summary>
public sealed class AliasConflictException : ModelKitException
{
    /// <summary>Initializes a new instance; the message names the model, the alias and both versions.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="alias">The alias.</param>
    /// <param name="expectedVersion">The version the caller expected the alias to point at; <see langword="null"/> when it expected no alias.</param>
    /// <param name="actualVersion">The version the alias points at now; <see langword="null"/> when it does not exist.</param>
    public AliasConflictException(string name, string alias, int? expectedVersion, int? actualVersion)
        : base(string.Create(
            CultureInfo.InvariantCulture,
            $"Alias '{alias}' of model '{name}' was expected to point at {Describe(expectedVersion)} but points at {Describe(actualVersion)}; another writer moved it first. Read the alias again, decide whether your move still applies, and retry with the version it points at now."))
    {
        Name = name;
        Alias = alias;
        ExpectedVersion = expectedVersion;
        ActualVersion = actualVersion;
    }

    /// <summary>Gets the model name.</summary>
    public string Name { get; }

    /// <summary>Gets the alias.</summary>
    public string Alias { get; }

    /// <summary>Gets the version the caller expected, or <see langword="null"/> when it expected the alias not to exist.</summary>
    public int? ExpectedVersion { get; }

    /// <summary>Gets the version the alias points at now, or <see langword="null"/> when it does not exist.</summary>
    public int? ActualVersion { get; }

    private static string Describe(int? version) =>
        version is int v ? string.Create(CultureInfo.InvariantCulture, $"version {v}") : "no version (the alias did not exist)";
}

/// <summary>
/// Thrown when a version cannot be archived or deleted because aliases still point at it. Move or remove the aliases first.
/// </summary>
public sealed class ModelVersionInUseException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="name">The model name.</param>
    /// <param name="version">The version.</param>
    /// <param name="aliases">The aliases that point at it.</param>
    /// <param name="operation">What was refused, for example <c>delete</c> or <c>archive</c>.</param>
    public ModelVersionInUseException(string name, int version, IReadOnlyList<string> aliases, string operation)
        : base(string.Create(
            CultureInfo.InvariantCulture,
            $"Cannot {operation} model '{name}' version {version}: {string.Join(", ", aliases)} point(s) at it. Move those aliases to another version (or remove them) first."))
    {
        Name = name;
        Version = version;
        Aliases = aliases;
    }

    /// <summary>Gets the model name.</summary>
    public string Name { get; }

    /// <summary>Gets the version that is in use.</summary>
    public int Version { get; }

    /// <summary>Gets the aliases that point at the version.</summary>
    public IReadOnlyList<string> Aliases { get; }
}

/// <summary>
/// Thrown when an artifact is larger than the configured limit. The upload stops after the limit plus one byte has been
/// read, and the partly written data is deleted; nothing is stored.
/// </summary>
public sealed class ArtifactTooLargeException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="limitBytes">The limit, in bytes.</param>
    /// <param name="what">What was being stored, for example <c>model 'x'</c>.</param>
    public ArtifactTooLargeException(long limitBytes, string what)
        : base(string.Create(
            CultureInfo.InvariantCulture,
            $"The artifact of {what} is larger than the limit of {limitBytes} bytes ({limitBytes / (1024.0 * 1024.0):F1} MiB); nothing was stored. Raise ModelRegistryOptions.MaxArtifactSizeBytes if the artifact is expected to be this large."))
        => LimitBytes = limitBytes;

    /// <summary>Gets the limit that was exceeded, in bytes.</summary>
    public long LimitBytes { get; }
}

/// <summary>Thrown when an artifact's bytes do not match their digest or stored length when read back.</summary>
public sealed class ArtifactCorruptedException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="digest">The expected digest, <c>sha256:…</c>.</param>
    /// <param name="details">What was expected and found, and where, for example <c>expected sha256:… (10 bytes), found 9 bytes in '/data/…'</c>.</param>
    /// <param name="message">The whole message: what is corrupted, the details, and what to do.</param>
    public ArtifactCorruptedException(string digest, string details, string message) : base(message)
    {
        Digest = digest;
        Details = details;
    }

    /// <summary>Gets the digest the bytes were expected to have.</summary>
    public string Digest { get; }

    /// <summary>Gets what was expected and found, and where.</summary>
    public string Details { get; }
}
