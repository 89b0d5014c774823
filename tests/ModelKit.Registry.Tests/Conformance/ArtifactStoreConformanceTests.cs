using System.Security.Cryptography;

namespace ModelKit.Registry.Tests.Conformance;

/// <summary>What every <see cref="IArtifactStore"/> must do; each implementation's test project derives from this class.</summary>
public abstract class ArtifactStoreConformanceTests : IDisposable
{
    protected ArtifactStoreConformanceTests()
    {
        StagingDirectory = Path.Combine(Path.GetTempPath(), "modelkit-artifact-conformance", Guid.NewGuid().ToString("N"));
    }

    /// <summary>A local directory for staging uploads in these tests.</summary>
    protected string StagingDirectory { get; }

    /// <summary>Creates a store over empty storage (a fresh directory, bucket prefix or container).</summary>
    protected abstract IArtifactStore CreateStore();

    /// <summary>Overwrites the stored bytes of <paramref name="digest"/> behind the store's back.</summary>
    protected abstract Task CorruptAsync(IArtifactStore store, string digest, byte[] bytes);

    public virtual void Dispose()
    {
        if (Directory.Exists(StagingDirectory))
        {
            Directory.Delete(StagingDirectory, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Put_ThenOpenRead_ReturnsIdenticalBytesAndVerifies()
    {
        IArtifactStore store = CreateStore();
        byte[] bytes = RandomBytes(1_234_567, 1);

        (string digest, bool created) = await PutAsync(store, bytes);

        Assert.True(created);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), digest);
        Assert.Equal(bytes, await ReadAsync(store, digest, bytes.Length));
        Assert.True(await store.ExistsAsync(digest));
    }

    [Fact]
    public async Task Put_LargeArtifact_StreamsBothWaysAndRoundTrips()
    {
        IArtifactStore store = CreateStore();
        byte[] bytes = RandomBytes(13 * 1024 * 1024 + 17, 2);

        (string digest, _) = await PutAsync(store, bytes);

        Assert.Equal(bytes, await ReadAsync(store, digest, bytes.Length));
        StoredArtifact listed = Assert.Single(await ListAsync(store));
        Assert.Equal((digest, (long)bytes.Length), (listed.Digest, listed.SizeBytes));
    }

    [Fact]
    public async Task Put_SameContentTwice_SecondChangesNothingAndOneArtifactIsListed()
    {
        IArtifactStore store = CreateStore();
        byte[] bytes = RandomBytes(1000, 3);

        (string first, bool created) = await PutAsync(store, bytes);
        (string second, bool createdAgain) = await PutAsync(store, bytes);

        Assert.Equal(first, second);
        Assert.True(created);
        Assert.False(createdAgain);
        Assert.Single(await ListAsync(store));
    }

    [Fact]
    public async Task List_ReturnsEveryArtifactWithSizeAndRecentTime()
    {
        IArtifactStore store = CreateStore();
        DateTimeOffset before = DateTimeOffset.UtcNow.AddMinutes(-5);
        (string a, _) = await PutAsync(store, RandomBytes(10, 4));
        (string b, _) = await PutAsync(store, RandomBytes(20, 5));

        List<StoredArtifact> listed = await ListAsync(store);

        Assert.Equal(new[] { (a, 10L), (b, 20L) }.OrderBy(x => x.Item1, StringComparer.Ordinal),
            listed.Select(x => (x.Digest, x.SizeBytes)).OrderBy(x => x.Digest, StringComparer.Ordinal));
        Assert.All(listed, x => Assert.InRange(x.LastModified, before, DateTimeOffset.UtcNow.AddMinutes(5)));
    }

    [Fact]
    public async Task Delete_RemovesTheArtifact_AndSecondDeleteReportsNothing()
    {
        IArtifactStore store = CreateStore();
        (string digest, _) = await PutAsync(store, RandomBytes(100, 6));

        Assert.True(await store.DeleteAsync(digest));
        Assert.False(await store.DeleteAsync(digest));
        Assert.False(await store.ExistsAsync(digest));
        Assert.Empty(await ListAsync(store));
    }

    [Fact]
    public async Task OpenRead_MissingDigest_ThrowsArtifactNotFoundNamingTheDigest()
    {
        IArtifactStore store = CreateStore();
        string digest = "sha256:" + new string('a', 64);

        ArtifactNotFoundException ex = await Assert.ThrowsAsync<ArtifactNotFoundException>(() => store.OpenReadAsync(digest, 10));

        Assert.Equal(digest, ex.Digest);
        Assert.StartsWith($"Artifact {digest} is missing: ", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("sha256:../../../../../../etc/passwd")]
    [InlineData("sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("models/x/../../secret")]
    public async Task EveryOperation_MalformedDigest_ThrowsArgumentExceptionAndTouchesNoKey(string digest)
    {
        IArtifactStore store = CreateStore();

        await Assert.ThrowsAsync<ArgumentException>(() => store.OpenReadAsync(digest, 1));
        await Assert.ThrowsAsync<ArgumentException>(() => store.ExistsAsync(digest));
        await Assert.ThrowsAsync<ArgumentException>(() => store.DeleteAsync(digest));
    }

    [Fact]
    public async Task OpenRead_CorruptedBytes_ThrowsArtifactCorruptedNamingBothDigests()
    {
        IArtifactStore store = CreateStore();
        byte[] bytes = RandomBytes(5000, 7);
        (string digest, _) = await PutAsync(store, bytes);
        byte[] damaged = (byte[])bytes.Clone();
        damaged[4000] ^= 0xFF;
        await CorruptAsync(store, digest, damaged);

        ArtifactCorruptedException ex = await Assert.ThrowsAsync<ArtifactCorruptedException>(() => ReadAsync(store, digest, bytes.Length));

        Assert.Equal(digest, ex.Digest);
        Assert.Contains($"expected {digest} (5000 bytes), found sha256:{Convert.ToHexStringLower(SHA256.HashData(damaged))}", ex.Message, StringComparison.Ordinal);
    }

    protected async Task<(string Digest, bool Created)> PutAsync(IArtifactStore store, byte[] bytes)
    {
        await using StagedArtifact staged = await StagedArtifact.CreateAsync(new MemoryStream(bytes), StagingDirectory, long.MaxValue, "test artifact");
        bool created = await store.PutAsync(staged);
        return (staged.Digest, created);
    }

    protected static async Task<byte[]> ReadAsync(IArtifactStore store, string digest, long size)
    {
        await using Stream stream = await store.OpenReadAsync(digest, size);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    protected static async Task<List<StoredArtifact>> ListAsync(IArtifactStore store)
    {
        var list = new List<StoredArtifact>();
        await foreach (StoredArtifact artifact in store.ListAsync())
        {
            list.Add(artifact);
        }

        return list;
    }

    protected static byte[] RandomBytes(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
