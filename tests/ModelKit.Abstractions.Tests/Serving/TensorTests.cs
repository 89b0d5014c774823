using System.Buffers;
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

    [Fact]
    public void ByteLength_PastTwoGibibytes_DoesNotOverflow()
    {
        // 300 million doubles = 2.4 GB: the int ByteLength of before issue 13 wrapped to a negative number.
        using var memory = new UnbackedMemory<double>(300_000_000);

        Tensor<double> t = Tensor.Create<double>(memory.Memory, 300_000, 1_000);

        Assert.Equal(2_400_000_000L, t.ByteLength);
    }

    [Fact]
    public void Create_DimensionsWhoseProductOverflows_ThrowsArgumentExceptionNamingTheShape()
    {
        var ex = Assert.Throws<ArgumentException>(() => Tensor.Create<float>(new float[4], 1L << 32, 1L << 32, 4));

        Assert.StartsWith("Shape [4294967296, 4294967296, 4] holds more than 9223372036854775807 elements (the product of its dimensions overflows 64 bits)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetElementCount_HugeDimensionsTimesZero_IsZero()
    {
        Assert.Equal(0, Tensor.GetElementCount([1L << 40, 1L << 40, 0]));
        Assert.Equal(6, Tensor.GetElementCount([2, 3]));
        Assert.Equal(1, Tensor.GetElementCount([]));
    }

    /// <summary>Memory of a given length that is never touched: its span is not available.</summary>
    private sealed class UnbackedMemory<T>(int length) : MemoryManager<T>
    {
        public override Memory<T> Memory => CreateMemory(length);

        public override Span<T> GetSpan() => throw new InvalidOperationException("The test never reads the elements.");

        public override MemoryHandle Pin(int elementIndex = 0) => throw new InvalidOperationException("The test never pins the elements.");

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
