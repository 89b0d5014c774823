using System.Runtime.InteropServices;
using ModelKit.Serving;

namespace ModelKit.Compression.Internal;

/// <summary>Builds tensors of a given batch size from the rows (dimension 0) of existing ones, repeating rows when there are fewer.</summary>
internal static class TensorRows
{
    public static Tensor Take(Tensor source, int rows)
    {
        if (source.Shape.Length == 0 || source.Shape[0] == 0)
        {
            throw new CompressionException($"An evaluation tensor of shape {TensorSpec.FormatShape(source.Shape)} has no rows along dimension 0; the gate needs batched inputs to time batch 1 and batch 64.");
        }

        long available = source.Shape[0];
        int rowBytes = (int)(source.ByteLength / available);
        byte[] bytes = new byte[rowBytes * rows];
        ReadOnlySpan<byte> src = source.Bytes;
        for (int r = 0; r < rows; r++)
        {
            src.Slice((int)(r % available) * rowBytes, rowBytes).CopyTo(bytes.AsSpan(r * rowBytes));
        }

        long[] shape = source.Shape.ToArray();
        shape[0] = rows;
        return source.ElementType switch
        {
            TensorElementType.Float => Create<float>(bytes, shape),
            TensorElementType.Double => Create<double>(bytes, shape),
            TensorElementType.Int64 => Create<long>(bytes, shape),
            TensorElementType.Int32 => Create<int>(bytes, shape),
            TensorElementType.Int16 => Create<short>(bytes, shape),
            TensorElementType.Int8 => Create<sbyte>(bytes, shape),
            TensorElementType.UInt8 => Create<byte>(bytes, shape),
            TensorElementType.UInt16 => Create<ushort>(bytes, shape),
            TensorElementType.UInt32 => Create<uint>(bytes, shape),
            TensorElementType.UInt64 => Create<ulong>(bytes, shape),
            TensorElementType.Bool => Create<bool>(bytes, shape),
            TensorElementType.Float16 => Create<Half>(bytes, shape),
            _ => throw new CompressionException($"Evaluation input of element type {source.ElementType} is not supported by the gate; use a numeric or bool tensor."),
        };
    }

    private static Tensor<T> Create<T>(byte[] bytes, long[] shape)
        where T : unmanaged => Tensor.Create<T>(MemoryMarshal.Cast<byte, T>(bytes).ToArray(), shape);
}
