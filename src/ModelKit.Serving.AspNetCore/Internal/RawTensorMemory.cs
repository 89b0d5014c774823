using System.Buffers;
using System.Runtime.InteropServices;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>
/// Elements of type <typeparamref name="T"/> read in place from little-endian raw bytes (a parsed protobuf
/// <c>bytes</c> field), so that a gRPC <c>raw_input_contents</c> entry becomes a tensor without a copy. The bytes must
/// stay unchanged while the tensor is in use (the request message owns them for the life of the call). Google.Protobuf
/// parses each <c>bytes</c> field into a fresh array, so the elements are aligned as a <typeparamref name="T"/>[] would be.
/// </summary>
internal sealed class RawTensorMemory<T>(ReadOnlyMemory<byte> bytes) : MemoryManager<T>
    where T : unmanaged
{
    private readonly Memory<byte> _bytes = MemoryMarshal.AsMemory(bytes);

    public override Span<T> GetSpan() => MemoryMarshal.Cast<byte, T>(_bytes.Span);

    public override MemoryHandle Pin(int elementIndex = 0) => _bytes[(elementIndex * Marshal.SizeOf<T>())..].Pin();

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
    }
}
