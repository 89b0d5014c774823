using System.ComponentModel.DataAnnotations;

namespace ModelKit.Onnx;

/// <summary>Options for reading ONNX models (<see cref="OnnxModelInspector"/>, <see cref="OnnxModel.Load(Stream, long)"/>).</summary>
public sealed class OnnxModelOptions
{
    /// <summary>The largest model accepted by default, in bytes: 2 GiB − 1, protobuf's limit on one serialized message.</summary>
    public const long DefaultMaxModelBytes = int.MaxValue;

    /// <summary>
    /// Gets or sets the largest serialized model accepted, in bytes. Larger inputs are rejected before they are parsed,
    /// which bounds the memory an untrusted upload can take.
    /// </summary>
    /// <value>The default is <see cref="DefaultMaxModelBytes"/> (2,147,483,647 bytes).</value>
    [Range(1, DefaultMaxModelBytes)]
    public long MaxModelBytes { get; set; } = DefaultMaxModelBytes;
}
