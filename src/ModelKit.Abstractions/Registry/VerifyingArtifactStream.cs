using System.Security.Cryptography;

namespace ModelKit.Registry;

/// <summary>
/// A forward-only, read-only stream over a stored artifact that hashes what it hands out and, when the end
/// is reached, compares the SHA-256 and the length with the stored values. A mismatch throws
/// <see cref="ArtifactCorruptedException"/> from the read that reaches the end (and from every read after it), so a
/// reader that consumes the whole stream never silently accepts a corrupted artifact.
/// </summary>
public sealed class VerifyingArtifactStream : Stream
{
    private readonly Stream _inner;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly string _expectedHex;
    private readonly long _expectedLength;
    private readonly string _description;
    private readonly string _path;
    private long _position;
    private bool _verified;
    private ArtifactCorruptedException? _failure;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The stream of stored bytes; owned and disposed by this stream.</param>
    /// <param name="expectedHex">The expected SHA-256, 64 lowercase hex digits.</param>
    /// <param name="expectedLength">The expected length in bytes.</param>
    /// <param name="description">What the artifact is, for messages, for example <c>model 'x' version 2</c>.</param>
    /// <param name="path">Where the bytes are stored (a path or an object key), for messages.</param>
    public VerifyingArtifactStream(Stream inner, string expectedHex, long expectedLength, string description, string path)
    {
        _inner = inner;
        _expectedHex = expectedHex;
        _expectedLength = expectedLength;
        _description = description;
        _path = path;
    }

    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException("The artifact stream is forward-only because it verifies the SHA-256 while it is read; copy it to a MemoryStream to seek.");

    /// <inheritdoc/>
    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("The artifact stream is forward-only because it verifies the SHA-256 while it is read.");
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return Read(buffer.AsSpan(offset, count));
    }

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        ThrowIfFailed();
        int n = _inner.Read(buffer);
        return Account(buffer[..n], buffer.Length);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfFailed();
        int n = await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        return Account(buffer.Span[..n], buffer.Length);
    }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) =>
        throw new NotSupportedException("The artifact stream is forward-only because it verifies the SHA-256 while it is read.");

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException("The artifact stream is read-only.");

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The artifact stream is read-only.");

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    public override async ValueTask DisposeAsync()
    {
        await _inner.DisposeAsync().ConfigureAwait(false);
        _hash.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private int Account(ReadOnlySpan<byte> read, int requested)
    {
        if (read.Length > 0)
        {
            _hash.AppendData(read);
            _position += read.Length;
            if (_position > _expectedLength)
            {
                Fail($"{_position} or more bytes where {_expectedLength} were stored");
            }
        }
        else if (requested > 0 && !_verified)
        {
            Verify();
        }

        return read.Length;
    }

    private void Verify()
    {
        string actualHex = Convert.ToHexStringLower(_hash.GetHashAndReset());
        if (_position != _expectedLength)
        {
            Fail($"{_position} bytes where {_expectedLength} were stored, sha256:{actualHex}");
        }

        if (!string.Equals(actualHex, _expectedHex, StringComparison.Ordinal))
        {
            Fail($"sha256:{actualHex}");
        }

        _verified = true;
    }

    private void Fail(string found)
    {
        string details = $"expected sha256:{_expectedHex} ({_expectedLength} bytes), found {found} in '{_path}'";
        _failure = new ArtifactCorruptedException(
            ArtifactDigest.Prefix + _expectedHex,
            details,
            $"The artifact of {_description} is corrupted: {details}. Restore it from a backup, or delete it and register the model again.");
        throw _failure;
    }

    private void ThrowIfFailed()
    {
        if (_failure is not null)
        {
            throw _failure;
        }
    }
}
