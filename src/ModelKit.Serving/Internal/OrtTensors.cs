using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using OrtElementType = Microsoft.ML.OnnxRuntime.Tensors.TensorElementType;

namespace ModelKit.Serving.Internal;

/// <summary>Conversions between ModelKit's <see cref="Tensor"/> and ONNX Runtime's <see cref="OrtValue"/>, for every tensor element type.</summary>
internal static class OrtTensors
{
    /// <summary>
    /// Wraps <paramref name="tensor"/> as an <see cref="OrtValue"/>: numeric tensors over their pinned memory without
    /// copying, string tensors by copying the strings into a native string tensor.
    /// </summary>
    /// <param name="tensor">The tensor.</param>
    /// <param name="pin">The pin; the caller disposes it after disposing the returned value (default for strings).</param>
    /// <returns>The value; the caller disposes it.</returns>
    public static OrtValue CreateInput(Tensor tensor, out MemoryHandle pin) => CreateInput(tensor, null, out pin);

    /// <summary>
    /// Wraps <paramref name="tensor"/> as an <see cref="OrtValue"/> like <see cref="CreateInput(Tensor, out MemoryHandle)"/>,
    /// passing <paramref name="shape"/> (equal to the tensor's shape, never changed; ONNX Runtime copies it) instead of a
    /// new copy of the tensor's shape, so a caller can reuse one array across calls.
    /// </summary>
    /// <param name="tensor">The tensor.</param>
    /// <param name="shape">The tensor's shape as an array, or null to copy it.</param>
    /// <param name="pin">The pin; the caller disposes it after disposing the returned value (default for strings).</param>
    /// <returns>The value; the caller disposes it.</returns>
    public static unsafe OrtValue CreateInput(Tensor tensor, long[]? shape, out MemoryHandle pin)
    {
        if (tensor is StringTensor strings)
        {
            pin = default;
            OrtValue value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, tensor.Shape.ToArray());
            try
            {
                ReadOnlySpan<string> span = strings.Span;
                for (int i = 0; i < span.Length; i++)
                {
                    value.StringTensorSetElementAt(span[i].AsSpan(), i);
                }

                return value;
            }
            catch
            {
                value.Dispose();
                throw;
            }
        }

        pin = tensor.Pin();
        try
        {
            return OrtValue.CreateTensorValueWithData(
                OrtMemoryInfo.DefaultInstance,
                (OrtElementType)(int)tensor.ElementType,
                shape ?? tensor.Shape.ToArray(),
                (IntPtr)pin.Pointer,
                tensor.ByteLength);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    /// <summary>Allocates a zeroed numeric tensor of <paramref name="shape"/> (the caller owns it).</summary>
    /// <param name="elementType">A numeric element type.</param>
    /// <param name="shape">The shape (kept by the tensor).</param>
    /// <returns>The tensor.</returns>
    public static Tensor Allocate(TensorElementType elementType, long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count = checked(count * d);
        }

        int n = checked((int)count);
        return elementType switch
        {
            TensorElementType.Float => New<float>(elementType, shape, n),
            TensorElementType.Double => New<double>(elementType, shape, n),
            TensorElementType.Int64 => New<long>(elementType, shape, n),
            TensorElementType.Int32 => New<int>(elementType, shape, n),
            TensorElementType.Int16 => New<short>(elementType, shape, n),
            TensorElementType.Int8 => New<sbyte>(elementType, shape, n),
            TensorElementType.UInt64 => New<ulong>(elementType, shape, n),
            TensorElementType.UInt32 => New<uint>(elementType, shape, n),
            TensorElementType.UInt16 => New<ushort>(elementType, shape, n),
            TensorElementType.UInt8 => New<byte>(elementType, shape, n),
            TensorElementType.Bool => New<bool>(elementType, shape, n),
            TensorElementType.Float16 => New<Half>(elementType, shape, n),
            TensorElementType.BFloat16 => New<BFloat16>(elementType, shape, n),
            _ => throw new NotSupportedException($"Element type {elementType} cannot be preallocated."),
        };
    }

    /// <summary>Returns a new numeric tensor of <paramref name="shape"/> holding a copy of <paramref name="bytes"/> (its exact size).</summary>
    /// <param name="elementType">A numeric element type.</param>
    /// <param name="shape">The shape (kept by the tensor).</param>
    /// <param name="bytes">The elements as raw bytes.</param>
    /// <returns>The tensor over new managed memory.</returns>
    public static Tensor Copy(TensorElementType elementType, long[] shape, ReadOnlySpan<byte> bytes) => elementType switch
    {
        TensorElementType.Float => Copy<float>(elementType, shape, bytes),
        TensorElementType.Double => Copy<double>(elementType, shape, bytes),
        TensorElementType.Int64 => Copy<long>(elementType, shape, bytes),
        TensorElementType.Int32 => Copy<int>(elementType, shape, bytes),
        TensorElementType.Int16 => Copy<short>(elementType, shape, bytes),
        TensorElementType.Int8 => Copy<sbyte>(elementType, shape, bytes),
        TensorElementType.UInt64 => Copy<ulong>(elementType, shape, bytes),
        TensorElementType.UInt32 => Copy<uint>(elementType, shape, bytes),
        TensorElementType.UInt16 => Copy<ushort>(elementType, shape, bytes),
        TensorElementType.UInt8 => Copy<byte>(elementType, shape, bytes),
        TensorElementType.Bool => Copy<bool>(elementType, shape, bytes),
        TensorElementType.Float16 => Copy<Half>(elementType, shape, bytes),
        TensorElementType.BFloat16 => Copy<BFloat16>(elementType, shape, bytes),
        _ => throw new NotSupportedException($"Element type {elementType} cannot be copied."),
    };

    private static Tensor<T> Copy<T>(TensorElementType elementType, long[] shape, ReadOnlySpan<byte> bytes)
        where T : unmanaged
    {
        int count = bytes.Length / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        T[] array = count == 0 ? [] : GC.AllocateUninitializedArray<T>(count);
        bytes.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(array.AsSpan()));
        return Tensor.Create<T>(array, shape);
    }

    private static Tensor<T> New<T>(TensorElementType elementType, long[] shape, int count)
        where T : unmanaged => Tensor.Create<T>(count == 0 ? Array.Empty<T>() : new T[count], shape);

    /// <summary>
    /// Returns a numeric tensor of <paramref name="shape"/> over an array rented from <see cref="ArrayPool{T}.Shared"/>
    /// (contents undefined); give it back with <see cref="Return"/> once no native call uses it any more.
    /// </summary>
    /// <param name="elementType">A numeric element type.</param>
    /// <param name="shape">The shape (kept by the tensor).</param>
    /// <returns>The tensor.</returns>
    public static Tensor Rent(TensorElementType elementType, long[] shape)
    {
        long count = 1;
        foreach (long d in shape)
        {
            count = checked(count * d);
        }

        int n = checked((int)count);
        return elementType switch
        {
            TensorElementType.Float => Rent<float>(elementType, shape, n),
            TensorElementType.Double => Rent<double>(elementType, shape, n),
            TensorElementType.Int64 => Rent<long>(elementType, shape, n),
            TensorElementType.Int32 => Rent<int>(elementType, shape, n),
            TensorElementType.Int16 => Rent<short>(elementType, shape, n),
            TensorElementType.Int8 => Rent<sbyte>(elementType, shape, n),
            TensorElementType.UInt64 => Rent<ulong>(elementType, shape, n),
            TensorElementType.UInt32 => Rent<uint>(elementType, shape, n),
            TensorElementType.UInt16 => Rent<ushort>(elementType, shape, n),
            TensorElementType.UInt8 => Rent<byte>(elementType, shape, n),
            TensorElementType.Bool => Rent<bool>(elementType, shape, n),
            TensorElementType.Float16 => Rent<Half>(elementType, shape, n),
            TensorElementType.BFloat16 => Rent<BFloat16>(elementType, shape, n),
            _ => throw new NotSupportedException($"Element type {elementType} cannot be rented."),
        };
    }

    /// <summary>Gives the array of a tensor made by <see cref="Rent"/> back to its pool; any other tensor is left alone.</summary>
    /// <param name="tensor">The tensor; not used afterwards.</param>
    public static void Return(Tensor tensor)
    {
        switch (tensor)
        {
            case Tensor<float> t: Return(t); break;
            case Tensor<double> t: Return(t); break;
            case Tensor<long> t: Return(t); break;
            case Tensor<int> t: Return(t); break;
            case Tensor<short> t: Return(t); break;
            case Tensor<sbyte> t: Return(t); break;
            case Tensor<ulong> t: Return(t); break;
            case Tensor<uint> t: Return(t); break;
            case Tensor<ushort> t: Return(t); break;
            case Tensor<byte> t: Return(t); break;
            case Tensor<bool> t: Return(t); break;
            case Tensor<Half> t: Return(t); break;
            case Tensor<BFloat16> t: Return(t); break;
            default: break;
        }
    }

    private static Tensor<T> Rent<T>(TensorElementType elementType, long[] shape, int count)
        where T : unmanaged =>
        Tensor.Create<T>(ArrayPool<T>.Shared.Rent(count).AsMemory(0, count), shape);

    private static void Return<T>(Tensor<T> tensor)
        where T : unmanaged
    {
        if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(tensor.Data, out ArraySegment<T> segment) && segment.Array is { Length: > 0 } array)
        {
            ArrayPool<T>.Shared.Return(array);
        }
    }

    /// <summary>Copies an output value that ONNX Runtime allocated into a new managed tensor.</summary>
    /// <param name="value">The value.</param>
    /// <param name="name">The output name, for messages.</param>
    /// <param name="model">The model description, for messages.</param>
    /// <returns>The tensor over new managed memory.</returns>
    /// <exception cref="NativeEngineException">The value is not a tensor, or has more elements than a managed array holds.</exception>
    public static Tensor ReadOutput(OrtValue value, string name, string model)
    {
        if (!value.IsTensor)
        {
            throw new NativeEngineException(
                OnnxRuntimeErrors.EngineName,
                "run",
                0,
                $"Output '{name}' of {model} is a {value.OnnxType} value, not a tensor; ModelKit.Serving returns tensors only. Re-export the model without sequence or map outputs (for example without a ZipMap).");
        }

        OrtTensorTypeAndShapeInfo info = value.GetTensorTypeAndShape();
        long[] shape = info.Shape;
        long count = info.ElementCount;
        if (count > Array.MaxLength)
        {
            throw new NativeEngineException(
                OnnxRuntimeErrors.EngineName,
                "run",
                0,
                $"Output '{name}' of {model} has {count} elements; a managed tensor holds at most {Array.MaxLength}. Split the input batch.");
        }

        var elementType = (TensorElementType)(int)info.ElementDataType;
        return elementType switch
        {
            TensorElementType.Float => Copy<float>(value, shape),
            TensorElementType.Double => Copy<double>(value, shape),
            TensorElementType.Int64 => Copy<long>(value, shape),
            TensorElementType.Int32 => Copy<int>(value, shape),
            TensorElementType.Int16 => Copy<short>(value, shape),
            TensorElementType.Int8 => Copy<sbyte>(value, shape),
            TensorElementType.UInt64 => Copy<ulong>(value, shape),
            TensorElementType.UInt32 => Copy<uint>(value, shape),
            TensorElementType.UInt16 => Copy<ushort>(value, shape),
            TensorElementType.UInt8 => Copy<byte>(value, shape),
            TensorElementType.Bool => Copy<bool>(value, shape),
            TensorElementType.Float16 => CopyRaw<Half>(value, shape),
            TensorElementType.BFloat16 => CopyRaw<BFloat16>(value, shape),
            TensorElementType.String => StringTensor.Create(value.GetStringTensorAsArray(), shape),
            _ => throw new NativeEngineException(
                OnnxRuntimeErrors.EngineName,
                "run",
                0,
                $"Output '{name}' of {model} has element type {info.ElementDataType}, which ModelKit.Serving cannot return as a managed tensor. Add a Cast to a supported type at the end of the graph."),
        };
    }

    private static Tensor<T> Copy<T>(OrtValue value, long[] shape)
        where T : unmanaged
    {
        ReadOnlySpan<T> source = value.GetTensorDataAsSpan<T>();
        T[] buffer = source.Length == 0 ? [] : GC.AllocateUninitializedArray<T>(source.Length);
        source.CopyTo(buffer);
        return Tensor.Create<T>(buffer, shape);
    }

    private static Tensor<T> CopyRaw<T>(OrtValue value, long[] shape)
        where T : unmanaged
    {
        ReadOnlySpan<byte> source = value.GetTensorMutableRawData();
        T[] buffer = GC.AllocateUninitializedArray<T>(source.Length / System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        source.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(buffer.AsSpan()));
        return Tensor.Create<T>(buffer, shape);
    }
}
