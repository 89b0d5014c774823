using ModelKit.Registry.Files;
using ModelKit.Registry.Tests.Conformance;

namespace ModelKit.Registry.Tests.Files;

public sealed class FileArtifactStoreTests : ArtifactStoreConformanceTests
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "modelkit-file-store-tests", Guid.NewGuid().ToString("N"));

    protected override IArtifactStore CreateStore() => new FileArtifactStore(Path.Combine(_root, "blobs"));

    protected override Task CorruptAsync(IArtifactStore store, string digest, byte[] bytes) =>
        File.WriteAllBytesAsync(((FileArtifactStore)store).GetPath(digest[7..]), bytes);

    public override void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }

        base.Dispose();
    }

    [Fact]
    public async Task Put_RenamesTheStagedFileToItsContentAddress_AndLeavesNoStagedFile()
    {
        var store = (FileArtifactStore)CreateStore();
        byte[] bytes = RandomBytes(100, 9);
        await using StagedArtifact staged = await StagedArtifact.CreateAsync(new MemoryStream(bytes), store.StagingDirectory, 1000, "test");

        Assert.True(await store.PutAsync(staged));

        string expected = Path.Combine(_root, "blobs", "sha256", staged.Sha256Hex[..2], staged.Sha256Hex);
        Assert.Equal(expected, store.GetPath(staged.Sha256Hex));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(expected));
        Assert.Empty(Directory.GetFiles(store.StagingDirectory));
    }
}
