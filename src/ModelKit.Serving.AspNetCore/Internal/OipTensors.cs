using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>
/// The Open Inference Protocol v2 tensor data types and the raw byte form shared by the binary tensor data extension
/// (REST) and <c>raw_input_contents</c>/<c>raw_output_contents</c> (gRPC): elements little-endian, row-major; BOOL one
/// byte per element; BYTES each element as a 4-byte little-endian length followed by its bytes.
/// </summary>
internal static class OipTensors
{
    public const string Platform = "onnxruntime_onnx";

    public static string Datatype(TensorElementType type) => type switch
    {
        TensorElementType.Bool => "BOOL",
        TensorElementType.UInt8 => "UINT8",
        TensorElementType.UInt16 => "UINT16",
        TensorElementType.UInt32 => "UINT32",
        TensorElementType.UInt64 => "UINT64",
        TensorElementType.Int8 => "INT8",
        TensorElementType.Int16 => "INT16",
        TensorElementType.Int32 => "INT32",
        TensorElementType.Int64 => "INT64",
        TensorElementType.Float16 => "FP16",
        TensorElementType.BFloat16 => "BF16",
        TensorElementType.Float => "FP32",
        TensorElementType.Double => "FP64",
        TensorElementType.String => "BYTES",
        _ => throw new NotSupportedException($"Element type {type} has no Open Inference Protocol datatype."),
    };

    public static bool TryParseDatatype(string? text, out TensorElementType type)
    {
        type = text switch
        {
            "BOOL" => TensorElementType.Bool,
            "UINT8" => TensorElementType.UInt8,
            "UINT16" => TensorElementType.UInt16,
            "UINT32" => TensorElementType.UInt32,
            "UINT64" => TensorElementType.UInt64,
            "INT8" => TensorElementType.Int8,
            "INT16" => TensorElementType.Int16,
            "INT32" => TensorElementType.Int32,
            "INT64" => TensorElementType.Int64,
            "FP16" => TensorElementType.Float16,
            "BF16" => TensorElementType.BFloat16,
            "FP32" => TensorElementType.Float,
            "FP64" => TensorElementType.Double,
            "BYTES" => TensorElementType.String,
            _ => TensorElementType.Undefined,
        };
        return type != TensorElementType.Undefined;
    }

    public static string UnknownDatatypeMessage(string input, string? datatype) =>
        $"Input '{input}' has datatype '{datatype}', which is not an Open Inference Protocol datatype; use one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES.";

    /// <summary>Bytes per element; 0 for BYTES (variable).</summary>
    public static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Bool or TensorElementType.UInt8 or TensorElementType.Int8 => 1,
        TensorElementType.UInt16 or TensorElementType.Int16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
        TensorElementType.UInt32 or TensorElementType.Int32 or TensorElementType.Float => 4,
        TensorElementType.UInt64 or TensorElementType.Int64 or TensorElementType.Double => 8,
        _ => 0,
    };

    /// <summary>The element count of <paramref name="shape"/>, refusing negative dimensions and products over <paramref name="maxElements"/> without overflowing.</summary>
    public static long ElementCount(string input, ReadOnlySpan<long> shape, long maxElements)
    {
        long count = 1;
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw InferenceProtocolException.BadRequest(
                    $"Input '{input}' has shape {TensorSpec.FormatShape(shape)} with a negative dimension; every dimension of a request tensor must be 0 or greater.");
            }
        }

        foreach (long d in shape)
        {
            if (d != 0 && count > maxElements / d)
            {
                throw InferenceProtocolException.BadRequest(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Input '{input}' has shape {TensorSpec.FormatShape(shape)}, more than the {maxElements} elements a request tensor may hold; send smaller batches."));
            }

            count *= d;
        }

        return count;
    }

    /// <summary>Builds a tensor over a copy of <paramref name="raw"/>, checking its length against the shape.</summary>
    public static Tensor FromRaw(string input, TensorElementType type, long[] shape, long count, ReadOnlySpan<byte> raw, int maxStringBytes)
    {
        if (type == TensorElementType.String)
        {
            return StringsFromRaw(input, shape, count, raw, maxStringBytes);
        }

        long expected = count * ElementSize(type);
        if (raw.Length != expected)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"Input '{input}' is {Datatype(type)} with shape {TensorSpec.FormatShape(shape)}, which takes {expected} bytes, but its binary data holds {raw.Length} bytes; send exactly shape × element size bytes."));
        }

        return type switch
        {
            TensorElementType.Bool => BoolsFromRaw(input, shape, raw),
            TensorElementType.UInt8 => Tensor.Create<byte>(raw.ToArray(), shape),
            TensorElementType.Int8 => Tensor.Create<sbyte>(Copy<sbyte>(raw), shape),
            TensorElementType.UInt16 => Tensor.Create<ushort>(Copy<ushort>(raw), shape),
            TensorElementType.Int16 => Tensor.Create<short>(Copy<short>(raw), shape),
            TensorElementType.Float16 => Tensor.Create<Half>(Copy<Half>(raw), shape),
            TensorElementType.BFloat16 => Tensor.Create<BFloat16>(Copy<BFloat16>(raw), shape),
            TensorElementType.UInt32 => Tensor.Create<uint>(Copy<uint>(raw), shape),
            TensorElementType.Int32 => Tensor.Create<int>(Copy<int>(raw), shape),
            TensorElementType.Float => Tensor.Create<float>(Copy<float>(raw), shape),
            TensorElementType.UInt64 => Tensor.Create<ulong>(Copy<ulong>(raw), shape),
            TensorElementType.Int64 => Tensor.Create<long>(Copy<long>(raw), shape),
            TensorElementType.Double => Tensor.Create<double>(Copy<double>(raw), shape),
            _ => throw InferenceProtocolException.BadRequest($"Input '{input}' has element type {type}, which the server cannot read."),
        };
    }

    /// <summary>
    /// Builds a tensor that reads <paramref name="raw"/> in place (numeric types, no copy; see <see cref="RawTensorMemory{T}"/>),
    /// else as <see cref="FromRaw"/> does. The caller keeps <paramref name="raw"/> unchanged while the tensor is in use.
    /// </summary>
    public static Tensor FromRawInPlace(string input, TensorElementType type, long[] shape, long count, ReadOnlyMemory<byte> raw, int maxStringBytes)
    {
        if (ElementSize(type) == 0 || type == TensorElementType.Bool || raw.Length != count * ElementSize(type))
        {
            return FromRaw(input, type, shape, count, raw.Span, maxStringBytes);
        }

        return type switch
        {
            TensorElementType.UInt8 => Tensor.Create(raw, shape),
            TensorElementType.Int8 => Tensor.Create<sbyte>(new RawTensorMemory<sbyte>(raw).Memory, shape),
            TensorElementType.UInt16 => Tensor.Create<ushort>(new RawTensorMemory<ushort>(raw).Memory, shape),
            TensorElementType.Int16 => Tensor.Create<short>(new RawTensorMemory<short>(raw).Memory, shape),
            TensorElementType.Float16 => Tensor.Create<Half>(new RawTensorMemory<Half>(raw).Memory, shape),
            TensorElementType.BFloat16 => Tensor.Create<BFloat16>(new RawTensorMemory<BFloat16>(raw).Memory, shape),
            TensorElementType.UInt32 => Tensor.Create<uint>(new RawTensorMemory<uint>(raw).Memory, shape),
            TensorElementType.Int32 => Tensor.Create<int>(new RawTensorMemory<int>(raw).Memory, shape),
            TensorElementType.Float => Tensor.Create<float>(new RawTensorMemory<float>(raw).Memory, shape),
            TensorElementType.UInt64 => Tensor.Create<ulong>(new RawTensorMemory<ulong>(raw).Memory, shape),
            TensorElementType.Int64 => Tensor.Create<long>(new RawTensorMemory<long>(raw).Memory, shape),
            TensorElementType.Double => Tensor.Create<double>(new RawTensorMemory<double>(raw).Memory, shape),
            _ => FromRaw(input, type, shape, count, raw.Span, maxStringBytes),
        };
    }

    /// <summary>The length of <paramref name="tensor"/>'s raw form, in bytes.</summary>
    public static long RawLength(Tensor tensor)
    {
        if (tensor is StringTensor strings)
        {
            long total = 0;
            foreach (string s in strings.Span)
            {
                total += 4 + Encoding.UTF8.GetByteCount(s);
            }

            return total;
        }

        return tensor.ByteLength;
    }

    /// <summary>Writes <paramref name="tensor"/>'s raw form into <paramref name="destination"/>, which holds exactly <see cref="RawLength"/> bytes.</summary>
    public static void WriteRaw(Tensor tensor, Span<byte> destination)
    {
        if (tensor is StringTensor strings)
        {
            int at = 0;
            foreach (string s in strings.Span)
            {
                int n = Encoding.UTF8.GetBytes(s, destination[(at + 4)..]);
                BinaryPrimitives.WriteInt32LittleEndian(destination[at..], n);
                at += 4 + n;
            }

            return;
        }

        tensor.Bytes.CopyTo(destination);
    }

    private static T[] Copy<T>(ReadOnlySpan<byte> raw)
        where T : unmanaged
    {
        // Little-endian wire form; every platform .NET runs ModelKit on is little-endian.
        var values = new T[raw.Length / Marshal.SizeOf<T>()];
        raw.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
        return values;
    }

    private static Tensor<bool> BoolsFromRaw(string input, long[] shape, ReadOnlySpan<byte> raw)
    {
        var values = new bool[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            byte b = raw[i];
            if (b > 1)
            {
                throw InferenceProtocolException.BadRequest(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Input '{input}' is BOOL but byte {i} of its binary data is {b}; BOOL elements are one byte each, 0 (false) or 1 (true)."));
            }

            values[i] = b == 1;
        }

        return Tensor.Create<bool>(values, shape);
    }

    private static StringTensor StringsFromRaw(string input, long[] shape, long count, ReadOnlySpan<byte> raw, int maxStringBytes)
    {
        // Each element takes at least its 4-byte length: refuse a count the data cannot hold before allocating.
        if (count > raw.Length / 4)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"Input '{input}' is BYTES with shape {TensorSpec.FormatShape(shape)} ({count} elements), but its binary data holds only {raw.Length} bytes; each element is a 4-byte little-endian length followed by its bytes."));
        }

        var values = new string[count];
        int at = 0;
        for (long i = 0; i < count; i++)
        {
            if (raw.Length - at < 4)
            {
                throw InferenceProtocolException.BadRequest(string.Create(CultureInfo.InvariantCulture, $"Input '{input}': the binary data ends inside the length of BYTES element {i}."));
            }

            int length = BinaryPrimitives.ReadInt32LittleEndian(raw[at..]);
            at += 4;
            if (length < 0 || length > maxStringBytes || length > raw.Length - at)
            {
                throw InferenceProtocolException.BadRequest(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Input '{input}': BYTES element {i} declares {length} bytes, but {raw.Length - at} remain and at most {maxStringBytes} are allowed per element."));
            }

            values[i] = DecodeUtf8(input, raw.Slice(at, length));
            at += length;
        }

        if (at != raw.Length)
        {
            throw InferenceProtocolException.BadRequest(string.Create(
                CultureInfo.InvariantCulture,
                $"Input '{input}': {raw.Length - at} bytes are left after its {count} BYTES elements; the binary data must hold exactly the elements the shape declares."));
        }

        return StringTensor.Create(values, shape);
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string DecodeUtf8(string input, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw InferenceProtocolException.BadRequest(
                $"Input '{input}' holds a BYTES element that is not valid UTF-8; ModelKit serves ONNX string tensors, which hold UTF-8 text.");
        }
    }
}
