using System.Runtime.InteropServices;
using ModelKit.Training.Data;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Tests.Interop;

/// <summary>Sizes computed from untrusted dimensions use checked 64-bit arithmetic: an overflow is a clear error, never a wrapped count.</summary>
public sealed unsafe class SizeArithmeticTests
{
    [Fact]
    public void ShimForward_ShapeWhoseProductOverflows_IsRejectedInsteadOfWrapping()
    {
        // 2^62 × 4 = 2^64 wraps to 0 in unchecked arithmetic, which would match an empty buffer and wrap a huge tensor around it.
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        long[] shape = [1L << 62, 4];
        float[] features = [0f];
        float[] output = new float[3];
        long[] outShape = new long[4];
        int status;
        fixed (float* pFeatures = features)
        fixed (long* pShape = shape)
        fixed (float* pOutput = output)
        fixed (long* pOutShape = outShape)
        {
            status = MkNetwork.Forward(network.Handle, pFeatures, 0, pShape, 2, pOutput, output.Length, pOutShape, outShape.Length, out _);
        }

        Assert.Equal(1, status);
        Assert.Equal("feature shape [4611686018427387904, 4] has more elements than a 64-bit count can hold; check the dimensions", Marshal.PtrToStringUTF8(MkRuntime.LastError()));
    }

    [Fact]
    public void CreateNetwork_FlattenOfAnOverflowingShape_ThrowsNamingTheLayerAndShape()
    {
        var input = new TensorSpec("x", TensorElementType.Float, [-1, 1L << 31, 1L << 31, 1L << 31]);

        var ex = Assert.Throws<ArgumentException>(() => TestTorch.Trainer.CreateNetwork([new FlattenLayer(), new LinearLayer(4, 3)], input, 1));

        Assert.Contains("FlattenLayer at index 0 receives shape [-1, 2147483648, 2147483648, 2147483648], whose element count per sample overflows a 64-bit integer", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LabeledDataset_SampleShapeWhoseProductOverflows_ThrowsArgumentException()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LabeledDataset("huge", [], [], [1L << 40, 1L << 40], 2, "sha256:x"));

        Assert.Contains("Sample shape [1099511627776, 1099511627776] has more elements than a 64-bit count can hold", ex.Message, StringComparison.Ordinal);
    }
}
