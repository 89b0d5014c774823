using System.Diagnostics.CodeAnalysis;
using Google.Protobuf;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Onnx;

/// <summary>
/// An attribute of an ONNX node (<c>AttributeProto</c>, onnx/onnx.proto): a name and exactly one value, for example
/// <c>transB=1</c> on <c>Gemm</c> or <c>axis=1</c> on <c>Flatten</c>. Instances are immutable and thread-safe;
/// create them with the factory methods.
/// </summary>
[SuppressMessage("Naming", "CA1711:Identifiers should not have incorrect suffix", Justification = "'Attribute' is the ONNX term (AttributeProto); this is not a .NET attribute.")]
public sealed class OnnxAttribute
{
    private readonly AttributeProto _proto;

    private OnnxAttribute(AttributeProto proto) => _proto = proto;

    /// <summary>Gets the attribute name, for example <c>transB</c>.</summary>
    public string Name => _proto.Name;

    /// <summary>Gets the attribute's value type (<c>AttributeProto.type</c>).</summary>
    internal AttributeProto.Types.AttributeType Type => _proto.Type;

    /// <summary>Creates a 64-bit integer attribute (ONNX type <c>INT</c>).</summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="value">The value.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static OnnxAttribute Int(string name, long value) =>
        new(new AttributeProto { Name = CheckName(name), Type = AttributeProto.Types.AttributeType.Int, I = value });

    /// <summary>Creates a 32-bit float attribute (ONNX type <c>FLOAT</c>).</summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="value">The value.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public static OnnxAttribute Float(string name, float value) =>
        new(new AttributeProto { Name = CheckName(name), Type = AttributeProto.Types.AttributeType.Float, F = value });

    /// <summary>Creates a list-of-integers attribute (ONNX type <c>INTS</c>), for example <c>perm</c> of <c>Transpose</c>.</summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="values">The values; copied.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is <see langword="null"/>.</exception>
    public static OnnxAttribute Ints(string name, params long[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var proto = new AttributeProto { Name = CheckName(name), Type = AttributeProto.Types.AttributeType.Ints };
        proto.Ints.Add(values);
        return new OnnxAttribute(proto);
    }

    /// <summary>Creates a list-of-floats attribute (ONNX type <c>FLOATS</c>).</summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="values">The values; copied.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="values"/> is <see langword="null"/>.</exception>
    public static OnnxAttribute Floats(string name, params float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var proto = new AttributeProto { Name = CheckName(name), Type = AttributeProto.Types.AttributeType.Floats };
        proto.Floats.Add(values);
        return new OnnxAttribute(proto);
    }

    /// <summary>Creates a string attribute (ONNX type <c>STRING</c>), stored as UTF-8 bytes.</summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="value">The value.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    public static OnnxAttribute String(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(new AttributeProto { Name = CheckName(name), Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) });
    }

    /// <summary>
    /// Creates a float32 tensor attribute (ONNX type <c>TENSOR</c>), for example <c>value</c> of <c>Constant</c>, with
    /// the elements stored in <c>raw_data</c> as little-endian IEEE 754 values in row-major order.
    /// </summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="tensorName">The tensor's own <c>name</c> (by convention the value name the <c>Constant</c> node produces); not empty.</param>
    /// <param name="data">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions, each 0 or greater; their product must equal <c>data.Length</c>. Empty for a scalar.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException">A name is empty, a dimension is negative, or the element count does not match the shape.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is <see langword="null"/>.</exception>
    public static OnnxAttribute Tensor(string name, string tensorName, ReadOnlySpan<float> data, params long[] shape)
    {
        string checkedName = CheckName(name);
        TensorProto tensor = OnnxGraphBuilder.CreateRawTensor(tensorName, TensorElementType.Float, data, shape);
        return new(new AttributeProto { Name = checkedName, Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
    }

    /// <summary>Creates a tensor attribute (ONNX type <c>TENSOR</c>), for example <c>value</c> of <c>Constant</c>.</summary>
    /// <param name="name">The attribute name; not empty.</param>
    /// <param name="value">The tensor; copied.</param>
    /// <returns>The attribute.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    internal static OnnxAttribute Tensor(string name, TensorProto value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(new AttributeProto { Name = CheckName(name), Type = AttributeProto.Types.AttributeType.Tensor, T = value.Clone() });
    }

    /// <summary>Returns a new <c>AttributeProto</c> holding this attribute; the caller owns it.</summary>
    /// <returns>A copy of the attribute's protobuf message.</returns>
    internal AttributeProto ToProto() => _proto.Clone();

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Type})";

    private static string CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return name;
    }
}
