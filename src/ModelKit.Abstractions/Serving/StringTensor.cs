namespace ModelKit.Serving;

/// <summary>
/// A dense, row-major tensor of strings (ONNX element type <c>STRING</c>). Strings have no fixed-size byte form, so
/// <see cref="ByteLength"/>, <see cref="Bytes"/> and <see cref="Pin"/> are not supported; engines copy the strings
/// (as UTF-8) instead. The tensor does not copy <see cref="Data"/>; whoever created it keeps it unchanged while it is in use.
/// </summary>
public sealed class StringTensor : Tensor
{
    private StringTensor(long[] shape, long elementCount, ReadOnlyMemory<string> data)
        : base(TensorElementType.String, shape, elementCount) => Data = data;

    /// <summary>Gets the elements in row-major order; none is <see langword="null"/>.</summary>
    public ReadOnlyMemory<string> Data { get; }

    /// <summary>Gets the elements as a span.</summary>
    public ReadOnlySpan<string> Span => Data.Span;

    /// <summary>Not supported: strings have no fixed-size byte form.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long ByteLength => throw new NotSupportedException("A string tensor has no fixed-size byte form; read StringTensor.Data instead.");

    /// <summary>Not supported: strings have no fixed-size byte form.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override ReadOnlySpan<byte> Bytes => throw new NotSupportedException("A string tensor has no fixed-size byte form; read StringTensor.Data instead.");

    /// <summary>Not supported: strings cannot be pinned as one buffer.</summary>
    /// <returns>Never returns.</returns>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override System.Buffers.MemoryHandle Pin() => throw new NotSupportedException("A string tensor cannot be pinned; read StringTensor.Data instead.");

    /// <summary>Creates a string tensor over <paramref name="data"/> without copying it.</summary>
    /// <param name="data">The elements in row-major order; none may be <see langword="null"/> (use an empty string).</param>
    /// <param name="shape">The dimensions; each 0 or greater.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentException">A dimension is negative, the element count differs from the product of the dimensions, or an element is <see langword="null"/>.</exception>
    public static StringTensor Create(ReadOnlyMemory<string> data, params ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {TensorSpec.FormatShape(shape)} has a negative dimension; every dimension of a concrete tensor must be 0 or greater.", nameof(shape));
            }

            count = checked(count * d);
        }

        if (count != data.Length)
        {
            throw new ArgumentException($"Shape {TensorSpec.FormatShape(shape)} holds {count} elements but {data.Length} strings were given; pass exactly {count} strings or fix the shape.", nameof(data));
        }

        ReadOnlySpan<string> span = data.Span;
        for (int i = 0; i < span.Length; i++)
        {
            if (span[i] is null)
            {
                throw new ArgumentException($"Element {i} of the string tensor is null; ONNX strings cannot be null. Use an empty string.", nameof(data));
            }
        }

        return new StringTensor(shape.ToArray(), count, data);
    }
}
