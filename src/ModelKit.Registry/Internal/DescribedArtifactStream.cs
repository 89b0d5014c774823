namespace ModelKit.Registry.Internal;

/// <summary>Forwards reads to an artifact store's verifying stream and names the model version in corruption errors.</summary>
internal sealed class DescribedArtifactStream(Stream inner, string description) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => inner.Position = value;
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        try
        {
            return inner.Read(buffer, offset, count);
        }
        catch (ArtifactCorruptedException ex)
        {
            throw Describe(ex);
        }
    }

    public override int Read(Span<byte> buffer)
    {
        try
        {
            return inner.Read(buffer);
        }
        catch (ArtifactCorruptedException ex)
        {
            throw Describe(ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (ArtifactCorruptedException ex)
        {
            throw Describe(ex);
        }
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void SetLength(long value) => throw new NotSupportedException("The artifact stream is read-only.");

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("The artifact stream is read-only.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private ArtifactCorruptedException Describe(ArtifactCorruptedException ex) =>
        new(ex.Digest, ex.Details, $"The artifact of {description} is corrupted: {ex.Details}. Restore it from a backup, or delete it and register the model again.");
}
