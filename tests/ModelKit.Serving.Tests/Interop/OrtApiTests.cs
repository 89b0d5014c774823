using ModelKit.Serving.Interop;

namespace ModelKit.Serving.Tests.Interop;

public sealed unsafe class OrtApiTests
{
    [Fact]
    public void OrtApi_DeclaresEverySlotUpToReleaseCudaProviderOptions()
    {
        // ReleaseCUDAProviderOptions is slot 208 of struct OrtApi (0-based), so the mirror holds 209 pointers.
        Assert.Equal(OrtApi.DeclaredSlotCount * IntPtr.Size, sizeof(OrtApi));
        OrtApi api = default;
        byte* start = (byte*)&api;
        Assert.Equal(9 * IntPtr.Size, (byte*)&api.Run - start);
        Assert.Equal(49 * IntPtr.Size, (byte*)&api.CreateTensorWithDataAsOrtValue - start);
        Assert.Equal(93 * IntPtr.Size, (byte*)&api.ReleaseStatus - start);
        Assert.Equal(204 * IntPtr.Size, (byte*)&api.SessionOptionsAppendExecutionProvider_CUDA_V2 - start);
        Assert.Equal(208 * IntPtr.Size, (byte*)&api.ReleaseCUDAProviderOptions - start);
        Assert.Equal(2 * IntPtr.Size, sizeof(OrtApiBase));
    }

    [Fact]
    public void Load_BundledLibrary_ServesRequestedApiVersion()
    {
        OrtLibrary library = OrtLibrary.Load(null);

        Assert.True(library.Api != null);
        Assert.Matches(@"^1\.\d+\.\d+", library.Version);
        Assert.EndsWith("libonnxruntime.so.1", library.Path, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfFailed_NullStatus_DoesNothing()
    {
        OrtLibrary library = OrtLibrary.Load(null);

        library.ThrowIfFailed(null, "Run");
    }
}
