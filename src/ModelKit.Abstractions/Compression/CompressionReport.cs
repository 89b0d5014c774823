using System.Text.Json;

namespace ModelKit.Compression;

/// <summary>What a compression did: the sizes before and after, and one report per recipe step.</summary>
public sealed record CompressionReport
{
    /// <summary>Gets the serialized size of the input model, in bytes.</summary>
    public required long InputSizeBytes { get; init; }

    /// <summary>Gets the serialized size of the compressed model, in bytes.</summary>
    public required long OutputSizeBytes { get; init; }

    /// <summary>Gets one report per recipe step, in order.</summary>
    public required IReadOnlyList<CompressionStepReport> Steps { get; init; }

    /// <summary>Gets the output size divided by the input size (for example 0.26 for int8 weights).</summary>
    public double SizeRatio => InputSizeBytes == 0 ? 1 : (double)OutputSizeBytes / InputSizeBytes;

    /// <summary>Serialises the report as JSON (camelCase properties).</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, CompressionJson.Options);
}

/// <summary>What one recipe step did.</summary>
public sealed record CompressionStepReport
{
    /// <summary>Gets the step's kind, for example <c>dynamic-int8</c>.</summary>
    public required string Kind { get; init; }

    /// <summary>Gets the step as described by its <c>ToString()</c>, with its settings.</summary>
    public required string Description { get; init; }

    /// <summary>Gets the names of the nodes the step rewrote (quantized, converted, pruned, clipped).</summary>
    public required IReadOnlyList<string> TransformedNodes { get; init; }

    /// <summary>
    /// Gets the names of candidate nodes the step left as they were, each with the reason, for example
    /// <c>Gemm_3: kept in float: transA = 1 is not supported</c>. A graph the step does not understand stays in float and is reported here.
    /// </summary>
    public required IReadOnlyList<string> Notes { get; init; }

    /// <summary>
    /// Gets numbers the step measured, by name, for example <c>weights_clipped</c>, <c>sparsity</c>,
    /// <c>channels_removed</c>, <c>calibration_batches</c>.
    /// </summary>
    public required IReadOnlyDictionary<string, double> Measures { get; init; }
}
