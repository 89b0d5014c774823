namespace ModelKit;

/// <summary>
/// Element type of a tensor. The numeric values are those of ONNX <c>TensorProto.DataType</c>
/// (onnx/onnx.proto), which ONNX Runtime's <c>ONNXTensorElementDataType</c> uses too.
/// </summary>
public enum TensorElementType
{
    /// <summary>Not set or not known.</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE 754 float.</summary>
    Float = 1,
    /// <summary>8-bit unsigned integer.</summary>
    UInt8 = 2,
    /// <summary>8-bit signed integer.</summary>
    Int8 = 3,
    /// <summary>16-bit unsigned integer.</summary>
    UInt16 = 4,
    /// <summary>16-bit signed integer.</summary>
    Int16 = 5,
    /// <summary>32-bit signed integer.</summary>
    Int32 = 6,
    /// <summary>64-bit signed integer.</summary>
    Int64 = 7,
    /// <summary>Variable-length string.</summary>
    String = 8,
    /// <summary>Boolean stored as one byte.</summary>
    Bool = 9,
    /// <summary>16-bit IEEE 754 float.</summary>
    Float16 = 10,
    /// <summary>64-bit IEEE 754 float.</summary>
    Double = 11,
    /// <summary>32-bit unsigned integer.</summary>
    UInt32 = 12,
    /// <summary>64-bit unsigned integer.</summary>
    UInt64 = 13,
    /// <summary>bfloat16.</summary>
    BFloat16 = 16,
}
