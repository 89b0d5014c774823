using ModelKit.Serving;

namespace ModelKit.Compression;

/// <summary>
/// Rewrites an ONNX model into a smaller or faster one by applying the steps of a <see cref="CompressionRecipe"/> in
/// order (int8 quantization, float16 conversion, pruning, weight clipping). ONNX in, ONNX out, plus a report of what
/// each step changed and what it left in float. Implementations are thread-safe.
/// </summary>
public interface IModelCompressor
{
    /// <summary>Applies <paramref name="recipe"/> to <paramref name="model"/>.</summary>
    /// <param name="model">A serialized ONNX <c>ModelProto</c>; untrusted, validated before it is rewritten. Not modified.</param>
    /// <param name="recipe">The steps to apply, in order; each step's settings are validated before any work starts.</param>
    /// <param name="calibration">
    /// Calibration data for steps that need activation ranges (<see cref="StaticQuantizationStep"/>): batches of inputs
    /// matched to the model's inputs by name. <see langword="null"/> when no step needs it.
    /// </param>
    /// <param name="cancellationToken">Cancels the work between steps and between calibration batches.</param>
    /// <returns>The compressed model (a new array the caller owns) and the report.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="recipe"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A step's settings are invalid (for example a sparsity outside [0, 1), or a keep-list naming a node the graph does not have); the message names the setting, the value and the accepted range.</exception>
    /// <exception cref="InvalidModelException">The model is not a valid ONNX model.</exception>
    /// <exception cref="CompressionException">The model cannot be compressed as asked: calibration data is missing, empty or does not fit the inputs, or an element type is not supported; the message says which and what to do.</exception>
    /// <exception cref="NativeEngineException">The inference engine failed while running calibration data.</exception>
    Task<CompressionResult> CompressAsync(
        ReadOnlyMemory<byte> model,
        CompressionRecipe recipe,
        CalibrationData? calibration = null,
        CancellationToken cancellationToken = default);
}

/// <summary>The compressed model and what each step did.</summary>
/// <param name="Model">The serialized compressed ONNX model; it passes ModelKit.Onnx's validation and loads in ONNX Runtime. The caller owns the array.</param>
/// <param name="Report">What each step changed, kept in float, and measured.</param>
public sealed record CompressionResult(byte[] Model, CompressionReport Report);

/// <summary>
/// Inputs run through the float model to measure activation ranges for static quantization. Each batch holds one tensor
/// per model input (matched by name), with shapes that fit the model's signature.
/// </summary>
public sealed class CalibrationData
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="batches">The batches; each is one set of named inputs. The tensors are not copied: keep them unchanged while compressing.</param>
    /// <exception cref="ArgumentNullException"><paramref name="batches"/> or a batch is <see langword="null"/>.</exception>
    public CalibrationData(IReadOnlyList<IReadOnlyList<NamedTensor>> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        foreach (IReadOnlyList<NamedTensor> batch in batches)
        {
            ArgumentNullException.ThrowIfNull(batch, nameof(batches));
        }

        Batches = batches;
    }

    /// <summary>Gets the batches of named inputs.</summary>
    public IReadOnlyList<IReadOnlyList<NamedTensor>> Batches { get; }

    /// <summary>Creates calibration data from one float input, cut into batches along dimension 0.</summary>
    /// <param name="inputName">The model input the samples feed, for example <c>input</c>.</param>
    /// <param name="samples">The samples in row-major order, <paramref name="sampleCount"/> × the product of <paramref name="sampleShape"/> values.</param>
    /// <param name="sampleCount">The number of samples.</param>
    /// <param name="sampleShape">The shape of one sample (without the batch dimension), for example <c>[1, 28, 28]</c>.</param>
    /// <param name="batchSize">Samples per batch; the last batch may be smaller.</param>
    /// <returns>The calibration data; its tensors share <paramref name="samples"/>' memory.</returns>
    /// <exception cref="ArgumentException">The name is empty, a count is not positive, or the sample buffer's length does not match.</exception>
    public static CalibrationData FromSamples(string inputName, ReadOnlyMemory<float> samples, int sampleCount, ReadOnlySpan<long> sampleShape, int batchSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(inputName);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        long sampleSize = 1;
        foreach (long d in sampleShape)
        {
            sampleSize = checked(sampleSize * d);
        }

        if (samples.Length != sampleCount * sampleSize)
        {
            throw new ArgumentException(
                $"The sample buffer holds {samples.Length} values but {sampleCount} samples of shape {TensorSpec.FormatShape(sampleShape)} need {sampleCount * sampleSize}; pass exactly that many.",
                nameof(samples));
        }

        var batches = new List<IReadOnlyList<NamedTensor>>();
        long[] shape = new long[sampleShape.Length + 1];
        sampleShape.CopyTo(shape.AsSpan(1));
        for (int start = 0; start < sampleCount; start += batchSize)
        {
            int n = Math.Min(batchSize, sampleCount - start);
            shape[0] = n;
            var tensor = Tensor.Create(samples.Slice((int)(start * sampleSize), (int)(n * sampleSize)), shape);
            batches.Add([new NamedTensor(inputName, tensor)]);
        }

        return new CalibrationData(batches);
    }
}

/// <summary>
/// Thrown when a model cannot be compressed as asked: calibration data that is missing, empty or does not fit the
/// model's inputs, an element type a step does not support, or a gate request that cannot be measured.
/// </summary>
public sealed class CompressionException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="message">What failed, with the values involved, and what to do.</param>
    public CompressionException(string message) : base(message) { }

    /// <summary>Initializes a new instance with the failure that caused it.</summary>
    /// <param name="message">What failed, with the values involved, and what to do.</param>
    /// <param name="innerException">The underlying failure.</param>
    public CompressionException(string message, Exception innerException) : base(message, innerException) { }
}
