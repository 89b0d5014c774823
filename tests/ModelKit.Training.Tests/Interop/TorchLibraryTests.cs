using ModelKit.Training.Interop;

namespace ModelKit.Training.Tests.Interop;

public sealed class TorchLibraryTests
{
    public TorchLibraryTests() => TestTorch.CreateSmallMlp().Dispose();

    [Fact]
    public void ThrowIfFailed_NonZero_CarriesShimMessageStatusAndOperation()
    {
        int status = MkRuntime.SetNumThreads(-4);

        var ex = Assert.Throws<NativeEngineException>(() => TorchLibrary.ThrowIfFailed(status, "mk_runtime_set_num_threads"));

        Assert.Equal("libtorch", ex.Engine);
        Assert.Equal("mk_runtime_set_num_threads", ex.Operation);
        Assert.Equal(1, ex.ErrorCode);
        Assert.Equal("libtorch mk_runtime_set_num_threads failed (invalid argument, status 1): num_threads must be 1 or greater, got -4", ex.Message);
    }

    [Fact]
    public void ThrowIfFailed_Zero_DoesNothing() => TorchLibrary.ThrowIfFailed(0, "anything");

    [Fact]
    public void EnsureLoaded_DifferentExistingPathAfterLoad_Throws()
    {
        string copy = Path.Combine(Path.GetTempPath(), $"mk-{Guid.NewGuid():N}", TorchLibrary.FileName);
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.WriteAllBytes(copy, []);
        try
        {
            var ex = Assert.Throws<NativeEngineException>(() => TorchLibrary.EnsureLoaded(copy));

            Assert.Contains("already loaded from", ex.Message, StringComparison.Ordinal);
            Assert.Contains(copy, ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
        }
    }

    [Fact]
    public void EnsureLoaded_SamePathAgain_IsANoOp() => TorchLibrary.EnsureLoaded(TorchLibrary.LoadedFrom);
}
