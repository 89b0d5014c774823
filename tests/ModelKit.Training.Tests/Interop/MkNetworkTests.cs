using System.Runtime.InteropServices;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Tests.Interop;

/// <summary>The shim's own checks, called directly (the managed API checks the same things first).</summary>
public sealed unsafe class MkNetworkTests
{
    public MkNetworkTests() => TestTorch.CreateSmallMlp().Dispose(); // loads the shim through the public path

    [Theory]
    [InlineData(99, 0, 0, 0.0, "layer at index 0 has unknown kind 99")]
    [InlineData(MkNetwork.LayerLinear, 0, 4, 0.0, "Linear at index 0 has in_features 0 and out_features 4; both must be 1 or greater")]
    [InlineData(MkNetwork.LayerDropout, 0, 0, 1.0, "Dropout at index 0 has probability 1.000000; it must be in [0, 1)")]
    public void Create_InvalidLayer_ReturnsInvalidArgumentWithMessage(int kind, long inFeatures, long outFeatures, double p, string expected)
    {
        int[] kinds = [kind];
        long[] ints = [inFeatures, outFeatures, 1, 0, 0, 0, 0, 0];
        double[] reals = [p, 0];
        NetworkSafeHandle handle;
        int status;
        fixed (int* k = kinds)
        fixed (long* i = ints)
        fixed (double* r = reals)
        {
            status = MkNetwork.Create(k, i, r, 1, 0, out handle);
        }

        string message = Marshal.PtrToStringUTF8(MkRuntime.LastError())!;
        handle.Dispose();
        Assert.Equal(1, status);
        Assert.True(handle.IsInvalid);
        Assert.Contains(expected, message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_LinearLayersNotChaining_NamesBothLayers()
    {
        int[] kinds = [MkNetwork.LayerLinear, MkNetwork.LayerRelu, MkNetwork.LayerLinear];
        long[] ints = [4, 8, 1, 0, 0, 0, 0, 0, /* relu */ 0, 0, 0, 0, 0, 0, 0, 0, 6, 3, 1, 0, 0, 0, 0, 0];
        double[] reals = [0, 0, 0, 0, 0, 0];
        int status;
        fixed (int* k = kinds)
        fixed (long* i = ints)
        fixed (double* r = reals)
        {
            status = MkNetwork.Create(k, i, r, 3, 0, out NetworkSafeHandle handle);
            handle.Dispose();
        }

        Assert.Equal(1, status);
        Assert.Equal("Linear at index 2 expects 6 input features but Linear at index 0 produces 8", Marshal.PtrToStringUTF8(MkRuntime.LastError()));
    }

    [Fact]
    public void LastError_IsClearedBySuccessfulCall_AndIsPerThread()
    {
        Assert.NotEqual(0, MkRuntime.SetNumThreads(0));
        Assert.Contains("num_threads must be 1 or greater, got 0", Marshal.PtrToStringUTF8(MkRuntime.LastError()), StringComparison.Ordinal);

        string? other = null;
        var thread = new Thread(() => other = Marshal.PtrToStringUTF8(MkRuntime.LastError()));
        thread.Start();
        thread.Join();
        Assert.Equal(string.Empty, other);

        Assert.Equal(0, MkRuntime.Version(out nint version));
        Assert.Equal(string.Empty, Marshal.PtrToStringUTF8(MkRuntime.LastError()));
        Assert.StartsWith("1.", Marshal.PtrToStringUTF8(version), StringComparison.Ordinal);
    }

    [Fact]
    public void ParameterInfo_IndexOutOfRange_ReturnsOutOfRange()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        long* shape = stackalloc long[4];

        int status = MkNetwork.ParameterInfo(network.Handle, 4, out _, shape, 4, out _, out _);

        Assert.Equal(6, status);
        Assert.Equal("parameter index 4 is outside [0, 4)", Marshal.PtrToStringUTF8(MkRuntime.LastError()));
    }

    [Fact]
    public void Free_Null_IsAccepted() => Assert.Equal(0, MkNetwork.Free(0));
}
