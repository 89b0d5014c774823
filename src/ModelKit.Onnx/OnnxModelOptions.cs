using System.ComponentModel.DataAnnotations;

namespace ModelKit.Onnx;

/// <summary>
/// Options for reading and validating untrusted ONNX models (<see cref="OnnxModelInspector"/>,
/// <see cref="OnnxModel.Load(Stream, OnnxModelOptions)"/>, <see cref="OnnxModel.LoadFile(string, OnnxModelOptions?)"/>,
/// <see cref="OnnxModel.Validate(Protobuf.ModelProto, OnnxModelOptions, string?)"/>).
/// </summary>
/// <remarks>
/// The limits bound what a hostile model can make a reader or ONNX Runtime do (memory, recursion, files read); each
/// failed check is an <see cref="InvalidModelException"/> that names the limit and the value found. Sizes are in bytes.
/// </remarks>
public sealed class OnnxModelOptions
{
    /// <summary>The largest model accepted by default, in bytes: 2 GiB − 1, protobuf's limit on one serialized message.</summary>
    public const long DefaultMaxModelBytes = int.MaxValue;

    /// <summary>The default of <see cref="MaxSubgraphDepth"/>: 16 levels.</summary>
    public const int DefaultMaxSubgraphDepth = 16;

    /// <summary>The default of <see cref="MaxNodes"/>: 1,000,000 nodes.</summary>
    public const int DefaultMaxNodes = 1_000_000;

    /// <summary>The default of <see cref="MaxTensors"/>: 1,000,000 tensors.</summary>
    public const int DefaultMaxTensors = 1_000_000;

    /// <summary>The default of <see cref="MaxTensorBytes"/>: 4 GiB (4,294,967,296 bytes).</summary>
    public const long DefaultMaxTensorBytes = 4L << 30;

    /// <summary>The default of <see cref="MaxTotalTensorBytes"/>: 16 GiB (17,179,869,184 bytes).</summary>
    public const long DefaultMaxTotalTensorBytes = 16L << 30;

    /// <summary>
    /// Gets or sets the largest serialized model accepted, in bytes. Larger inputs are rejected before they are parsed,
    /// which bounds the memory an untrusted upload can take.
    /// </summary>
    /// <value>The default is <see cref="DefaultMaxModelBytes"/> (2,147,483,647 bytes).</value>
    [Range(1, DefaultMaxModelBytes)]
    public long MaxModelBytes { get; set; } = DefaultMaxModelBytes;

    /// <summary>
    /// Gets or sets whether fields that ONNX 1.19's <c>onnx.proto</c> (IR version 12) does not define are accepted.
    /// When <see langword="false"/>, a model with such a field anywhere is refused with the message type and field
    /// number, because a newer ONNX release may keep tensors (and references to external files) there that ModelKit
    /// cannot check. Set it only for models from a trusted source; accepted unknown fields are kept, so such a model
    /// serializes back unchanged.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool AllowUnknownFields { get; set; }

    /// <summary>
    /// Gets or sets how deeply subgraphs (the <c>If</c>, <c>Loop</c> and <c>Scan</c> bodies in graph attributes) may
    /// nest: 0 allows no subgraph, 1 a subgraph in the main graph, and so on.
    /// </summary>
    /// <value>The default is <see cref="DefaultMaxSubgraphDepth"/> (16).</value>
    [Range(0, 32)]
    public int MaxSubgraphDepth { get; set; } = DefaultMaxSubgraphDepth;

    /// <summary>Gets or sets the largest number of nodes in the whole model: all graphs, subgraphs, model-local functions and training graphs together.</summary>
    /// <value>The default is <see cref="DefaultMaxNodes"/> (1,000,000).</value>
    [Range(1, int.MaxValue)]
    public int MaxNodes { get; set; } = DefaultMaxNodes;

    /// <summary>
    /// Gets or sets the largest number of tensors in the whole model: initializers, sparse initializers and tensors in
    /// node and function attributes, in every graph, subgraph, function and training graph.
    /// </summary>
    /// <value>The default is <see cref="DefaultMaxTensors"/> (1,000,000).</value>
    [Range(1, int.MaxValue)]
    public int MaxTensors { get; set; } = DefaultMaxTensors;

    /// <summary>
    /// Gets or sets the largest size of one tensor once dense, in bytes: the product of its dimensions times the element
    /// size (for a sparse tensor, of its dense shape, since ONNX Runtime densifies sparse initializers; for a string
    /// tensor, the sum of its strings' lengths). A declared shape such as [2^40, 2^40] is refused here, before anything
    /// is allocated.
    /// </summary>
    /// <value>The default is <see cref="DefaultMaxTensorBytes"/> (4 GiB).</value>
    [Range(1, long.MaxValue)]
    public long MaxTensorBytes { get; set; } = DefaultMaxTensorBytes;

    /// <summary>Gets or sets the largest total of <see cref="MaxTensorBytes"/>-sized amounts over all tensors of the model, in bytes, external data included.</summary>
    /// <value>The default is <see cref="DefaultMaxTotalTensorBytes"/> (16 GiB).</value>
    [Range(1, long.MaxValue)]
    public long MaxTotalTensorBytes { get; set; } = DefaultMaxTotalTensorBytes;
}
