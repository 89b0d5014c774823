using System.Buffers;
using System.Runtime.InteropServices;

namespace ModelKit.Serving;

/// <summary>
/// A dense, row-major tensor over managed memory: an element type, a shape and the elements. The tensor
/// does not copy its memory; whoever created it keeps the buffer alive and unchanged while it is in use.
/// </summary>
public abstract class Tensor
{
    private readonly long[] _shape;

    private protected Tensor(TensorElementType elementType, long[] shape, long elementCount)
    {
        ElementType = elementType;
        _shape = shape;
        ElementCount = elementCount;
    }

    /// <summary>Gets the element type.</summary>
    public TensorElementType ElementType { get; }

    /// <summary>Gets the dimensions, outermost first.</summary>
    public ReadOnlySpan<long> Shape => _shape;

    /// <summary>Gets the dimensions array itself, for engines that take an array (never changed by them).</summary>
    internal long[] ShapeArray => _shape;

    /// <summary>Gets the number of elements (the product of the dimensions; 1 for a scalar).</summary>
    public long ElementCount { get; }

    /// <summary>Gets the size of the elements in bytes: <see cref="ElementCount"/> times the element size (64-bit, so it does not overflow past 2 GiB).</summary>
    public abstract long ByteLength { get; }

    /// <summary>Gets the elements as raw bytes (host byte order).</summary>
    public abstract ReadOnlySpan<byte> Bytes { get; }

    /// <summary>
    /// Pins the elements for the duration of a native call. The caller disposes the returned handle as soon as
    /// the native call returns.
    /// </summary>
    /// <returns>The pin.</returns>
    public abstract MemoryHandle Pin();

    /// <summary>Creates a tensor over <paramref name="data"/> without copying it.</summary>
    /// <typeparam name="T"><see cref="float"/>, <see cref="double"/>, <see cref="long"/>, <see cref="int"/>, <see cref="short"/>, <see cref="byte"/>, <see cref="sbyte"/>, <see cref="ushort"/>, <see cref="uint"/>, <see cref="ulong"/>, <see cref="bool"/>, <see cref="Half"/> or <see cref="BFloat16"/>.</typeparam>
    /// <param name="data">The elements in row-major order; the caller keeps them alive and unchanged while the tensor is used.</param>
    /// <param name="shape">The dimensions; each 0 or greater.</param>
    /// <returns>The tensor.</returns>
    /// <exception cref="ArgumentException">A dimension is negative, the product of the dimensions overflows 64 bits, or the element count differs from the product of the dimensions.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> has no ONNX element type.</exception>
    public static Tensor<T> Create<T>(ReadOnlyMemory<T> data, params ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        long count = GetElementCount(shape);

        if (count != data.Length)
        {
            throw new ArgumentException($"Shape {TensorSpec.FormatShape(shape)} holds {count} elements but {data.Length} were given; pass a buffer of exactly {count} {typeof(T).Name} values or fix the shape.", nameof(data));
        }

        return new Tensor<T>(ElementTypeOf<T>(), shape.ToArray(), count, data);
    }

    /// <summary>
    /// Returns the number of elements of a concrete shape (the product of its dimensions; 1 for a scalar), computed
    /// with checked 64-bit arithmetic because shapes often come from untrusted requests or model files.
    /// </summary>
    /// <param name="shape">The dimensions; each 0 or greater.</param>
    /// <returns>The element count.</returns>
    /// <exception cref="ArgumentException">A dimension is negative, or the product overflows 64 bits.</exception>
    public static long GetElementCount(ReadOnlySpan<long> shape)
    {
        long count = 1;
        bool overflow = false;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Shape {TensorSpec.FormatShape(shape)} has a negative dimension; every dimension of a concrete tensor must be 0 or greater.", nameof(shape));
            }

            if (d != 0 && count > long.MaxValue / d)
            {
                overflow = true; // unless a later dimension is 0
                count = 1;
                continue;
            }

            count *= d;
        }

        if (overflow && count != 0)
        {
            throw new ArgumentException($"Shape {TensorSpec.FormatShape(shape)} holds more than {long.MaxValue} elements (the product of its dimensions overflows 64 bits); no tensor can be that large. Check the shape.", nameof(shape));
        }

        return overflow ? 0 : count;
    }

    /// <summary>Returns the ONNX element type of <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">A primitive element type.</typeparam>
    /// <returns>The element type.</returns>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> has no ONNX element type.</exception>
    public static TensorElementType ElementTypeOf<T>()
        where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float :
        typeof(T) == typeof(long) ? TensorElementType.Int64 :
        typeof(T) == typeof(int) ? TensorElementType.Int32 :
        typeof(T) == typeof(double) ? TensorElementType.Double :
        typeof(T) == typeof(byte) ? TensorElementType.UInt8 :
        typeof(T) == typeof(sbyte) ? TensorElementType.Int8 :
        typeof(T) == typeof(short) ? TensorElementType.Int16 :
        typeof(T) == typeof(ushort) ? TensorElementType.UInt16 :
        typeof(T) == typeof(uint) ? TensorElementType.UInt32 :
        typeof(T) == typeof(ulong) ? TensorElementType.UInt64 :
        typeof(T) == typeof(bool) ? TensorElementType.Bool :
        typeof(T) == typeof(Half) ? TensorElementType.Float16 :
        typeof(T) == typeof(BFloat16) ? TensorElementType.BFloat16 :
        throw new NotSupportedException($"Element type {typeof(T).FullName} has no ONNX tensor element type; use float, double, long, int, short, byte, sbyte, ushort, uint, ulong, bool, Half or BFloat16 (StringTensor for strings).");
}

/// <summary>A dense tensor whose elements are of type <typeparamref name="T"/>.</summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class Tensor<T> : Tensor
    where T : unmanaged
{
    internal Tensor(TensorElementType elementType, long[] shape, long elementCount, ReadOnlyMemory<T> data)
        : base(elementType, shape, elementCount) => Data = data;

    /// <summary>Gets the elements in row-major order.</summary>
    public ReadOnlyMemory<T> Data { get; }

    /// <summary>Gets the elements as a span.</summary>
    public ReadOnlySpan<T> Span => Data.Span;

    /// <inheritdoc />
    public override long ByteLength => (long)Data.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    /// <inheritdoc />
    public override ReadOnlySpan<byte> Bytes => MemoryMarshal.AsBytes(Data.Span);

    /// <inheritdoc />
    public override MemoryHandle Pin() => Data.Pin();
}

/// <summary>A tensor with the graph input or output name it is bound to.</summary>
/// <param name="Name">The input or output name, for example <c>input</c>.</param>
/// <param name="Value">The tensor.</param>
public readonly record struct NamedTensor(string Name, Tensor Value);
