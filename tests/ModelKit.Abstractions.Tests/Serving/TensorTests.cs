using ModelKit.Serving;

namespace ModelKit.Abstractions.Tests.Serving;

public sealed class TensorTests
{
    [Fact]
    public void Create_Float_HasElementTypeShapeAndBytes()
    {
        float[] data = [1, 2, 3, 4, 5, 6];

        Tensor<float> t = Tensor.Create<float>(data, 2, 3);

        Assert.Equal(TensorElementType.Float, t.ElementType);
        Assert.Equal([2L, 3], t.Shape.ToArray());
        Assert.Equal(6, t.ElementCount);
        Assert.Equal(24, t.ByteLength);
        Assert.Equal(BitConverter.GetBytes(2f), t.Bytes.Slice(4, 4).ToArray());
    }

    [Fact]
    public void Create_DoesNotCopyTheBuffer()
    {
        long[] data = [1, 2];
        Tensor<long> t = Tensor.Create<long>(data, 2);

        data[1] = 42;

        Assert.Equal(42, t.Span[1]);
    }

    [Fact]
    public void Create_CountMismatch_ThrowsQuotingShapeAndCounts()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Create<float>(new float[5], 2, 3));

        Assert.StartsWith("Shape [2, 3] holds 6 elements but 5 were given; pass a buffer of exactly 6 Single values or fix the shape.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NegativeDimension_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Create<float>(new float[2], -1, 2));

        Assert.StartsWith("Shape [-1, 2] has a negative dimension", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_Scalar_HasOneElement()
    {
        Tensor<double> t = Tensor.Create<double>(new double[] { 3.5 });

        Assert.Equal(1, t.ElementCount);
        Assert.Equal(0, t.Shape.Length);
    }

    [Fact]
    public void ElementTypeOf_MapsToOnnxNumbering()
    {
        Assert.Equal(1, (int)Tensor.ElementTypeOf<float>());
        Assert.Equal(7, (int)Tensor.ElementTypeOf<long>());
        Assert.Equal(10, (int)Tensor.ElementTypeOf<Half>());
        Assert.Throws<NotSupportedException>(() => Tensor.ElementTypeOf<decimal>());
    }
}
