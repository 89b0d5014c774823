namespace ModelKit.Registry;

/// <summary>
/// The registry's artifact seam: immutable, content-addressed bytes keyed by their SHA-256 digest. Keys in the
/// underlying store are derived from the digest only, never from a caller's string. Implementations are thread-safe,
/// stream both ways and never buffer a whole artifact in memory.
/// </summary>
/// <remarks>
/// Uploads happen in two steps so that the registry can validate an artifact before it is stored:
/// <see cref="StagedArtifact.CreateAsync(Stream, string, long, string, bool, CancellationToken)"/> copies the caller's stream into a local file under
/// <see cref="StagingDirectory"/> while hashing it and enforcing the size limit, and <see cref="PutAsync"/> stores the
/// staged file at its content address. Nothing ever deletes a stored artifact except <see cref="DeleteAsync"/>, which
/// the registry calls only from garbage collection, after a grace period and after proving under the metadata store's
/// lock that nothing references the digest.
/// </remarks>
public interface IArtifactStore
{
    /// <summary>Gets a short description of where artifacts live, for messages, for example <c>S3 bucket 'models' prefix 'prod/'</c>.</summary>
    string Description { get; }

    /// <summary>Gets the local directory where uploads are staged before <see cref="PutAsync"/>; created on first use.</summary>
    string StagingDirectory { get; }

    /// <summary>Stores a staged artifact under its digest. Storing a digest that is already present changes nothing.</summary>
    /// <param name="staged">The staged artifact; the caller keeps ownership and disposes it afterwards.</param>
    /// <param name="cancellationToken">Cancels the upload; a cancelled upload leaves no artifact under the digest.</param>
    /// <returns><see langword="true"/> when this call stored the bytes; <see langword="false"/> when the digest was already present.</returns>
    /// <exception cref="ModelKitException">The store failed; the message names the store and the digest.</exception>
    Task<bool> PutAsync(StagedArtifact staged, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens an artifact for reading. The returned stream checks the bytes against <paramref name="digest"/> and
    /// <paramref name="sizeBytes"/> as they are read and throws <see cref="ArtifactCorruptedException"/> from the read
    /// that reaches a mismatch.
    /// </summary>
    /// <param name="digest">The digest, <c>sha256:</c> and 64 lowercase hex digits.</param>
    /// <param name="sizeBytes">The expected length in bytes.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    /// <returns>A forward-only stream; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">The digest is malformed.</exception>
    /// <exception cref="ArtifactNotFoundException">No artifact is stored under the digest.</exception>
    /// <exception cref="ModelKitException">The store failed.</exception>
    Task<Stream> OpenReadAsync(string digest, long sizeBytes, CancellationToken cancellationToken = default);

    /// <summary>Returns whether an artifact is stored under <paramref name="digest"/>.</summary>
    /// <param name="digest">The digest.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns><see langword="true"/> when present.</returns>
    /// <exception cref="ArgumentException">The digest is malformed.</exception>
    Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken = default);

    /// <summary>Deletes the artifact stored under <paramref name="digest"/>. Only garbage collection calls this.</summary>
    /// <param name="digest">The digest.</param>
    /// <param name="cancellationToken">Cancels the deletion.</param>
    /// <returns><see langword="true"/> when an artifact was deleted; <see langword="false"/> when none was stored.</returns>
    /// <exception cref="ArgumentException">The digest is malformed.</exception>
    Task<bool> DeleteAsync(string digest, CancellationToken cancellationToken = default);

    /// <summary>Lists every stored artifact (for garbage collection), in no particular order.</summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The artifacts; entries whose key is not a digest are skipped.</returns>
    IAsyncEnumerable<StoredArtifact> ListAsync(CancellationToken cancellationToken = default);
}

/// <summary>An artifact as its store lists it.</summary>
/// <param name="Digest">The digest, <c>sha256:…</c>.</param>
/// <param name="SizeBytes">The stored length in bytes.</param>
/// <param name="LastModified">When the store last wrote it (UTC).</param>
public sealed record StoredArtifact(string Digest, long SizeBytes, DateTimeOffset LastModified);

/// <summary>Thrown when an artifact store holds nothing under a digest.</summary>
public sealed class ArtifactNotFoundException : ModelKitException
{
    /// <summary>Initializes a new instance; the message is <c>Artifact {digest} is missing: {location}.</c></summary>
    /// <param name="digest">The digest that was looked up.</param>
    /// <param name="location">Where it was looked for, for example <c>the file store '/data/blobs' has no file '/data/blobs/sha256/ab/ab…'</c>.</param>
    public ArtifactNotFoundException(string digest, string location) : base($"Artifact {digest} is missing: {location}.")
    {
        Digest = digest;
        Location = location;
    }

    /// <summary>Gets the digest that was not found.</summary>
    public string Digest { get; }

    /// <summary>Gets where it was looked for.</summary>
    public string Location { get; }
}
