using System.Buffers;
using System.Collections;
using System.IO.MemoryMappedFiles;
using System.Security.Cryptography;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using ModelKit.Onnx.Protobuf;
using ModelKit.Registry;

namespace ModelKit.Onnx.Internal;

/// <summary>
/// Parses a serialized <c>ModelProto</c> without copying the payload of large <c>TensorProto.raw_data</c> fields: the
/// protobuf wire format is walked with the schema's descriptors, each large <c>raw_data</c> payload is replaced by a
/// 24-byte marker (a per-call random nonce and an index) in a compact copy of the structure, the compact copy is parsed by
/// the generated parser, and every marker is then swapped for a zero-copy <see cref="ByteString"/> over the original bytes
/// (<see cref="UnsafeByteOperations.UnsafeWrap"/>). The result is the model the generated parser would return for the
/// original bytes: every field, unknown fields included, goes through the same parser; only where large tensor bytes
/// live differs. The payload pages are never read, so the cost is that of the model's structure, not of its weights.
/// </summary>
/// <remarks>
/// Anything the walk does not expect (a truncated varint or length, a group or reserved wire type, field number 0,
/// nesting deeper than protobuf's recursion limit of 100, a marker that cannot be placed) makes <see cref="TryParse"/>
/// return <see langword="null"/>, and the caller parses the original bytes with the generated parser, which then reports
/// the problem exactly as before. The returned model refers to the input's memory: it must not outlive it.
/// </remarks>
internal static class OnnxStructureParser
{
    /// <summary><c>raw_data</c> payloads at least this long are not copied.</summary>
    public const int MinSkippedBytes = 4096;

    private const int MarkerLength = 24;
    private const int NonceLength = 16;
    private const int RecursionLimit = 100;
    private const int RawDataFieldNumber = 9;

    /// <summary>Parses <paramref name="data"/> as a <c>ModelProto</c>, keeping large tensor payloads in place.</summary>
    /// <param name="data">The serialized model; must stay valid and unchanged while the returned model is used.</param>
    /// <returns>The parsed model (not validated), or <see langword="null"/> when the caller should parse the original bytes itself.</returns>
    public static ModelProto? TryParse(ReadOnlyMemory<byte> data)
    {
        var scan = new Scan(data);
        byte[]? compact;
        try
        {
            compact = scan.Rewrite(data.Span, 0, ModelProto.Descriptor, depth: 0);
        }
        catch (FallbackException)
        {
            return null;
        }

        ModelProto model;
        try
        {
            model = compact is null ? ModelProto.Parser.ParseFrom(data.Span) : ModelProto.Parser.ParseFrom(compact);
        }
        catch (InvalidProtocolBufferException)
        {
            return null;
        }

        if (scan.Slices.Count > 0 && !scan.Restore(model))
        {
            return null;
        }

        return model;
    }

    /// <summary>
    /// Validates and describes the model in <paramref name="content"/> (from its position to its end) the way
    /// <see cref="OnnxModel.Load(Stream, OnnxModelOptions)"/> followed by <see cref="OnnxModelInspector.Describe(ModelProto)"/> does,
    /// without copying large tensor payloads: a file is memory-mapped, a <see cref="MemoryStream"/> is read from its buffer.
    /// </summary>
    /// <param name="content">The artifact.</param>
    /// <param name="options">The validation limits.</param>
    /// <param name="info">The signature and properties when the method returns <see langword="true"/>.</param>
    /// <returns><see langword="false"/> when the caller should load the stream the usual way (other stream kinds, size limits, or input this parser leaves to the generated one); the stream's position is then unchanged.</returns>
    /// <exception cref="InvalidModelException">The model is invalid; the message is the one the usual path gives.</exception>
    public static bool TryInspect(Stream content, OnnxModelOptions options, out ModelArtifactInfo info)
    {
        info = null!;
        if (content is FileStream { CanSeek: true } file)
        {
            long start = file.Position;
            long length = file.Length - start;
            if (length <= 0 || length > options.MaxModelBytes || length > int.MaxValue)
            {
                return false;
            }

            using var map = MemoryMappedFile.CreateFromFile(file, mapName: null, capacity: 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
            using MemoryMappedViewAccessor view = map.CreateViewAccessor(start, length, MemoryMappedFileAccess.Read);
            using var memory = new MappedMemory(view, (int)length);
            // The model refers to the mapped pages: it is described here and dropped before they are unmapped.
            if (ValidateAndDescribe(memory.Memory, options) is not { } described)
            {
                return false;
            }

            info = described;
            file.Seek(0, SeekOrigin.End);
            return true;
        }

        if (content is MemoryStream stream && stream.TryGetBuffer(out ArraySegment<byte> buffer))
        {
            long position = stream.Position;
            long length = buffer.Count - position;
            if (length <= 0 || length > options.MaxModelBytes)
            {
                return false;
            }

            if (ValidateAndDescribe(buffer.AsMemory((int)position), options) is not { } described)
            {
                return false;
            }

            info = described;
            stream.Seek(0, SeekOrigin.End);
            return true;
        }

        return false;
    }

    private static ModelArtifactInfo? ValidateAndDescribe(ReadOnlyMemory<byte> data, OnnxModelOptions options)
    {
        ModelProto? model = TryParse(data);
        // The checks whose messages describe the input bytes are left to the usual path, so that they read the same.
        if (model is null || !model.HasIrVersion || model.IrVersion <= 0 || model.Graph is null || model.OpsetImport.Count == 0)
        {
            return null;
        }

        OnnxModel.Validate(model, options);
        return OnnxModelInspector.Describe(model);
    }

    private sealed class Scan(ReadOnlyMemory<byte> data)
    {
        private readonly byte[] _nonce = RandomNumberGenerator.GetBytes(NonceLength);

        public List<(int Offset, int Length)> Slices { get; } = [];

        /// <summary>Returns the rewritten message, or <see langword="null"/> when nothing in it changed.</summary>
        public byte[]? Rewrite(ReadOnlySpan<byte> message, int baseOffset, MessageDescriptor descriptor, int depth)
        {
            if (depth > RecursionLimit)
            {
                throw new FallbackException();
            }

            ArrayBufferWriter<byte>? output = null;
            int copiedUpTo = 0;
            int pos = 0;
            bool isTensor = descriptor == TensorProto.Descriptor;
            while (pos < message.Length)
            {
                ulong tag = ReadVarint(message, ref pos);
                int fieldNumber = (int)(tag >> 3);
                int wireType = (int)(tag & 7);
                if (fieldNumber == 0 || tag > uint.MaxValue)
                {
                    throw new FallbackException();
                }

                switch (wireType)
                {
                    case 0:
                        ReadVarint(message, ref pos);
                        continue;
                    case 1:
                        Skip(message, ref pos, 8);
                        continue;
                    case 5:
                        Skip(message, ref pos, 4);
                        continue;
                    case 2:
                        break;
                    default:
                        throw new FallbackException();
                }

                int tagEnd = pos;
                ulong declared = ReadVarint(message, ref pos);
                if (declared > (ulong)(message.Length - pos))
                {
                    throw new FallbackException();
                }

                int payloadStart = pos;
                int payloadLength = (int)declared;
                pos += payloadLength;
                ReadOnlySpan<byte> replacement;
                byte[]? rewritten = null;
                if (isTensor && fieldNumber == RawDataFieldNumber && payloadLength >= MinSkippedBytes)
                {
                    Slices.Add((baseOffset + payloadStart, payloadLength));
                    byte[] marker = new byte[MarkerLength];
                    _nonce.CopyTo(marker, 0);
                    BitConverter.TryWriteBytes(marker.AsSpan(NonceLength), (long)(Slices.Count - 1));
                    replacement = marker;
                }
                else if (descriptor.FindFieldByNumber(fieldNumber) is { FieldType: FieldType.Message } field &&
                         (rewritten = Rewrite(message.Slice(payloadStart, payloadLength), baseOffset + payloadStart, field.MessageType, depth + 1)) is not null)
                {
                    replacement = rewritten;
                }
                else
                {
                    continue;
                }

                output ??= new ArrayBufferWriter<byte>(Math.Min(message.Length, 1 << 16));
                output.Write(message[copiedUpTo..tagEnd]);
                WriteVarint(output, (ulong)replacement.Length);
                output.Write(replacement);
                copiedUpTo = pos;
            }

            if (output is null)
            {
                return null;
            }

            output.Write(message[copiedUpTo..]);
            return output.WrittenSpan.ToArray();
        }

        /// <summary>Swaps every marker for the bytes it stands for; returns whether every surviving marker was valid.</summary>
        public bool Restore(IMessage message)
        {
            if (message is TensorProto tensor && tensor.HasRawData && tensor.RawData.Length == MarkerLength)
            {
                ReadOnlySpan<byte> raw = tensor.RawData.Span;
                if (raw[..NonceLength].SequenceEqual(_nonce))
                {
                    long index = BitConverter.ToInt64(raw[NonceLength..]);
                    if (index < 0 || index >= Slices.Count)
                    {
                        return false;
                    }

                    (int offset, int length) = Slices[(int)index];
                    tensor.RawData = UnsafeByteOperations.UnsafeWrap(data.Slice(offset, length));
                }
            }

            foreach (FieldDescriptor field in message.Descriptor.Fields.InFieldNumberOrder())
            {
                if (field.FieldType != FieldType.Message)
                {
                    continue;
                }

                object? value = field.Accessor.GetValue(message);
                if (field.IsMap)
                {
                    if (value is IDictionary map)
                    {
                        foreach (object? entry in map.Values)
                        {
                            if (entry is IMessage child && !Restore(child))
                            {
                                return false;
                            }
                        }
                    }
                }
                else if (field.IsRepeated)
                {
                    foreach (object? item in (IList)value!)
                    {
                        if (item is IMessage child && !Restore(child))
                        {
                            return false;
                        }
                    }
                }
                else if (value is IMessage child && !Restore(child))
                {
                    return false;
                }
            }

            return true;
        }

        private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int pos)
        {
            ulong result = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (pos >= span.Length)
                {
                    throw new FallbackException();
                }

                byte b = span[pos++];
                result |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return result;
                }
            }

            throw new FallbackException();
        }

        private static void Skip(ReadOnlySpan<byte> span, ref int pos, int count)
        {
            if (span.Length - pos < count)
            {
                throw new FallbackException();
            }

            pos += count;
        }

        private static void WriteVarint(ArrayBufferWriter<byte> output, ulong value)
        {
            Span<byte> buffer = output.GetSpan(10);
            int n = 0;
            while (value >= 0x80)
            {
                buffer[n++] = (byte)(value | 0x80);
                value >>= 7;
            }

            buffer[n++] = (byte)value;
            output.Advance(n);
        }
    }

    /// <summary>Thrown inside the walk when the caller should parse the original bytes itself.</summary>
    private sealed class FallbackException : Exception;

    /// <summary>The bytes of a mapped view as <see cref="Memory{T}"/>; the pointer is released on dispose.</summary>
    private sealed unsafe class MappedMemory : MemoryManager<byte>
    {
        private readonly MemoryMappedViewAccessor _view;
        private readonly int _length;
        private byte* _pointer;

        public MappedMemory(MemoryMappedViewAccessor view, int length)
        {
            _view = view;
            _length = length;
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            _pointer = pointer + view.PointerOffset;
        }

        public override Span<byte> GetSpan()
        {
            ObjectDisposedException.ThrowIf(_pointer is null, this);
            return new Span<byte>(_pointer, _length);
        }

        public override MemoryHandle Pin(int elementIndex = 0)
        {
            ObjectDisposedException.ThrowIf(_pointer is null, this);
            return new MemoryHandle(_pointer + elementIndex);
        }

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
            if (_pointer is not null)
            {
                _pointer = null;
                _view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
    }
}
