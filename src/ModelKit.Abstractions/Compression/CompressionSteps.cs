using System.Globalization;

namespace ModelKit.Compression;

/// <summary>
/// Dynamic int8 quantization (ONNX Runtime's "dynamic quantization"): the weights of MatMul and Gemm (and Conv) are
/// quantized to int8 once, symmetric (zero point 0), per output channel or per tensor; activations are quantized at run
/// time. Each quantized node becomes <c>DynamicQuantizeLinear → MatMulInteger → Cast → Mul(scale) → Add(bias)</c>
/// (<c>ConvInteger</c> for Conv), the standard-operator form that ONNX Runtime fuses into its int8 kernels
/// (<c>DynamicQuantizeMatMul</c>). Operator semantics: onnx/docs/Operators.md. Needs default-domain opset 11 or later.
/// </summary>
public sealed record DynamicQuantizationStep : CompressionStep
{
    /// <summary>The JSON discriminator, <c>dynamic-int8</c>.</summary>
    public const string StepKind = "dynamic-int8";

    /// <summary>The operator types this step can quantize.</summary>
    public static IReadOnlyList<string> SupportedOperatorTypes { get; } = ["MatMul", "Gemm", "Conv"];

    /// <inheritdoc />
    [System.Text.Json.Serialization.JsonIgnore]
    public override string Kind => StepKind;

    /// <summary>Gets whether weights get one scale per output channel (<see langword="true"/>) or one per tensor.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool PerChannel { get; init; } = true;

    /// <summary>
    /// Gets the operator types to quantize; a subset of <see cref="SupportedOperatorTypes"/>. Conv is opt-in: ONNX Runtime has no
    /// fused kernel for <c>DynamicQuantizeLinear → ConvInteger</c>, so dynamic int8 convolutions are usually slower than float;
    /// use <see cref="StaticQuantizationStep"/> for CNNs.
    /// </summary>
    /// <value>The default is <c>MatMul</c>, <c>Gemm</c>.</value>
    public IReadOnlyList<string> OperatorTypes { get; init; } = ["MatMul", "Gemm"];

    /// <summary>Gets the names of nodes to keep in float; each must exist in the model.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<string> NodesToExclude { get; init; } = [];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">An operator type is not supported, or a list holds an empty name.</exception>
    public override void Validate()
    {
        ValidateNames(OperatorTypes, nameof(OperatorTypes));
        ValidateNames(NodesToExclude, nameof(NodesToExclude));
        foreach (string op in OperatorTypes)
        {
            if (!SupportedOperatorTypes.Contains(op, StringComparer.Ordinal))
            {
                throw new ArgumentException($"OperatorTypes holds '{op}', which dynamic int8 quantization does not cover; use {string.Join(", ", SupportedOperatorTypes)}.", nameof(OperatorTypes));
            }
        }
    }

    /// <inheritdoc />
    public bool Equals(DynamicQuantizationStep? other) =>
        other is not null && PerChannel == other.PerChannel && SameNames(OperatorTypes, other.OperatorTypes) && SameNames(NodesToExclude, other.NodesToExclude);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(PerChannel, NamesHash(OperatorTypes), NamesHash(NodesToExclude));

    /// <inheritdoc />
    public override string ToString() => $"{StepKind}({(PerChannel ? "per-channel" : "per-tensor")})";
}

/// <summary>How static quantization derives an activation's range from the calibration data.</summary>
public enum CalibrationMethod
{
    /// <summary>The smallest and largest value seen (running minimum and maximum over all batches).</summary>
    MinMax,

    /// <summary>
    /// The value below which <see cref="StaticQuantizationStep.Percentile"/> percent of the values lie (of |x| for symmetric
    /// ranges; of each tail for asymmetric ones), read from a histogram; clips rare outliers.
    /// </summary>
    Percentile,

    /// <summary>
    /// The threshold whose clipped and int8-quantized histogram has the least Kullback-Leibler divergence from the original
    /// (S. Migacz, "8-bit Inference with TensorRT", GTC 2017).
    /// </summary>
    Entropy,
}

/// <summary>
/// Static int8 quantization in QDQ format: <c>QuantizeLinear → DequantizeLinear</c> pairs on the activations and weights
/// around MatMul, Gemm, Conv, Add, Mul, pooling, Concat and the data-movement operators, which ONNX Runtime fuses into its
/// int8 kernels (QLinearConv, QLinearMatMul, QGemm, ...). Activation ranges come from running calibration data through ONNX
/// Runtime with the intermediate values exposed as graph outputs. Weights are int8, symmetric, per output channel (opset 13
/// or later; per tensor otherwise); activations are uint8 asymmetric or int8 symmetric; biases of Conv and Gemm are int32
/// with scale = input scale × weight scale.
/// </summary>
public sealed record StaticQuantizationStep : CompressionStep
{
    /// <summary>The JSON discriminator, <c>static-int8</c>.</summary>
    public const string StepKind = "static-int8";

    /// <summary>The operator types this step can quantize.</summary>
    public static IReadOnlyList<string> SupportedOperatorTypes { get; } =
    [
        "Conv", "MatMul", "Gemm", "Add", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Relu", "Clip",
        "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
    ];

    /// <inheritdoc />
    [System.Text.Json.Serialization.JsonIgnore]
    public override string Kind => StepKind;

    /// <summary>Gets how activation ranges are derived from the calibration data.</summary>
    /// <value>The default is <see cref="CalibrationMethod.MinMax"/>.</value>
    public CalibrationMethod Method { get; init; } = CalibrationMethod.MinMax;

    /// <summary>Gets the percentile used by <see cref="CalibrationMethod.Percentile"/>, greater than 50 and at most 100.</summary>
    /// <value>The default is 99.999.</value>
    public double Percentile { get; init; } = 99.999;

    /// <summary>Gets the number of histogram bins used by <see cref="CalibrationMethod.Percentile"/> and <see cref="CalibrationMethod.Entropy"/>, from 256 to 65,536.</summary>
    /// <value>The default is 2048.</value>
    public int HistogramBins { get; init; } = 2048;

    /// <summary>Gets whether weights get one scale per output channel (needs opset 13; per tensor below that).</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool PerChannel { get; init; } = true;

    /// <summary>Gets whether activations are int8 with zero point 0 (<see langword="true"/>) or uint8 with a computed zero point.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool SymmetricActivations { get; init; }

    /// <summary>Gets the operator types to quantize; a subset of <see cref="SupportedOperatorTypes"/>.</summary>
    /// <value>The default is every supported operator type.</value>
    public IReadOnlyList<string> OperatorTypes { get; init; } = SupportedOperatorTypes;

    /// <summary>Gets the names of nodes to keep in float; each must exist in the model.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<string> NodesToExclude { get; init; } = [];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The percentile or bin count is out of range, an operator type is not supported, or a list holds an empty name.</exception>
    public override void Validate()
    {
        ValidateNames(OperatorTypes, nameof(OperatorTypes));
        ValidateNames(NodesToExclude, nameof(NodesToExclude));
        if (!Enum.IsDefined(Method))
        {
            throw new ArgumentException($"Method is {Method}; use MinMax, Percentile or Entropy.", nameof(Method));
        }

        if (!(Percentile > 50 && Percentile <= 100))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Percentile is {Percentile}; it must be greater than 50 and at most 100, for example 99.999."), nameof(Percentile));
        }

        if (HistogramBins is < 256 or > 65_536)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"HistogramBins is {HistogramBins}; it must be from 256 to 65,536 (2048 is the usual choice)."), nameof(HistogramBins));
        }

        foreach (string op in OperatorTypes)
        {
            if (!SupportedOperatorTypes.Contains(op, StringComparer.Ordinal))
            {
                throw new ArgumentException($"OperatorTypes holds '{op}', which static QDQ quantization does not cover; use {string.Join(", ", SupportedOperatorTypes)}.", nameof(OperatorTypes));
            }
        }
    }

    /// <inheritdoc />
    public bool Equals(StaticQuantizationStep? other) =>
        other is not null && Method == other.Method && Percentile.Equals(other.Percentile) && HistogramBins == other.HistogramBins &&
        PerChannel == other.PerChannel && SymmetricActivations == other.SymmetricActivations &&
        SameNames(OperatorTypes, other.OperatorTypes) && SameNames(NodesToExclude, other.NodesToExclude);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(Method, Percentile, HistogramBins, PerChannel, SymmetricActivations, NamesHash(OperatorTypes), NamesHash(NodesToExclude));

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{StepKind}({Method}{(Method == CalibrationMethod.Percentile ? $" {Percentile}" : string.Empty)}, {(PerChannel ? "per-channel" : "per-tensor")}, {(SymmetricActivations ? "symmetric" : "asymmetric")} activations)");
}

/// <summary>
/// Float16 conversion: float32 initializers and computation become float16, halving the weights' size. Graph inputs and
/// outputs can stay float32 behind <c>Cast</c> nodes, and operators that need float32's range (for example Softmax,
/// LayerNormalization) run in float32 between Casts.
/// </summary>
public sealed record Float16Step : CompressionStep
{
    /// <summary>The JSON discriminator, <c>float16</c>.</summary>
    public const string StepKind = "float16";

    /// <inheritdoc />
    [System.Text.Json.Serialization.JsonIgnore]
    public override string Kind => StepKind;

    /// <summary>Gets whether float32 graph inputs and outputs stay float32 (with Casts inside the graph) so callers do not change.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool KeepInputsAndOutputsFloat32 { get; init; } = true;

    /// <summary>Gets the operator types kept in float32 for range.</summary>
    /// <value>The default is <c>Softmax</c>, <c>LogSoftmax</c>, <c>LayerNormalization</c>, <c>Exp</c>, <c>Log</c>, <c>Pow</c>, <c>ReduceMean</c>, <c>ReduceSum</c>.</value>
    public IReadOnlyList<string> OperatorTypesToKeep { get; init; } =
        ["Softmax", "LogSoftmax", "LayerNormalization", "Exp", "Log", "Pow", "ReduceMean", "ReduceSum"];

    /// <summary>Gets the names of nodes kept in float32; each must exist in the model.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<string> NodesToExclude { get; init; } = [];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">A list holds an empty name.</exception>
    public override void Validate()
    {
        ValidateNames(OperatorTypesToKeep, nameof(OperatorTypesToKeep));
        ValidateNames(NodesToExclude, nameof(NodesToExclude));
    }

    /// <inheritdoc />
    public bool Equals(Float16Step? other) =>
        other is not null && KeepInputsAndOutputsFloat32 == other.KeepInputsAndOutputsFloat32 &&
        SameNames(OperatorTypesToKeep, other.OperatorTypesToKeep) && SameNames(NodesToExclude, other.NodesToExclude);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(KeepInputsAndOutputsFloat32, NamesHash(OperatorTypesToKeep), NamesHash(NodesToExclude));

    /// <inheritdoc />
    public override string ToString() => $"{StepKind}({(KeepInputsAndOutputsFloat32 ? "float32 I/O" : "float16 I/O")})";
}

/// <summary>
/// Magnitude pruning: sets the weights with the smallest absolute values of MatMul, Gemm and Conv to zero until the target
/// sparsity is reached, per layer or over all layers together. The model gets sparser (it compresses better), not smaller or
/// faster by itself; combine with quantization, or use <see cref="StructuredPruningStep"/>.
/// </summary>
public sealed record MagnitudePruningStep : CompressionStep
{
    /// <summary>The JSON discriminator, <c>magnitude-pruning</c>.</summary>
    public const string StepKind = "magnitude-pruning";

    /// <inheritdoc />
    [System.Text.Json.Serialization.JsonIgnore]
    public override string Kind => StepKind;

    /// <summary>Gets the fraction of weights set to zero, in [0, 1).</summary>
    /// <value>The default is 0.5.</value>
    public double Sparsity { get; init; } = 0.5;

    /// <summary>Gets whether one threshold is chosen over all layers' weights (<see langword="true"/>) or one per layer.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Global { get; init; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The sparsity is outside [0, 1).</exception>
    public override void Validate()
    {
        if (!(Sparsity >= 0 && Sparsity < 1))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Sparsity is {Sparsity}; it must be in [0, 1), for example 0.5 to zero half the weights."), nameof(Sparsity));
        }
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{StepKind}({Sparsity:P0}, {(Global ? "global" : "per layer")})");
}

/// <summary>
/// Structured pruning: removes whole output channels (rows of a Gemm/MatMul weight, filters of a Conv) with the smallest L1
/// norm, together with the matching input channels of the next layer, so the model gets smaller and faster. Applies to
/// chains <c>layer → [element-wise activation] → layer</c> where the first layer's output feeds only that path.
/// </summary>
public sealed record StructuredPruningStep : CompressionStep
{
    /// <summary>The JSON discriminator, <c>structured-pruning</c>.</summary>
    public const string StepKind = "structured-pruning";

    /// <inheritdoc />
    [System.Text.Json.Serialization.JsonIgnore]
    public override string Kind => StepKind;

    /// <summary>Gets the fraction of each prunable layer's output channels removed, in [0, 1); at least one channel is kept.</summary>
    /// <value>The default is 0.25.</value>
    public double Fraction { get; init; } = 0.25;

    /// <summary>Gets the names of the layers (Gemm, MatMul or Conv nodes) to prune; empty prunes every prunable layer.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyList<string> Layers { get; init; } = [];

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The fraction is outside [0, 1), or a layer name is empty.</exception>
    public override void Validate()
    {
        ValidateNames(Layers, nameof(Layers));
        if (!(Fraction >= 0 && Fraction < 1))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Fraction is {Fraction}; it must be in [0, 1), for example 0.25 to remove a quarter of the channels."), nameof(Fraction));
        }
    }

    /// <inheritdoc />
    public bool Equals(StructuredPruningStep? other) => other is not null && Fraction.Equals(other.Fraction) && SameNames(Layers, other.Layers);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Fraction, NamesHash(Layers));

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{StepKind}({Fraction:P0} of channels)");
}

/// <summary>How <see cref="WeightClippingStep"/> chooses each layer's clipping bound.</summary>
public enum WeightClippingMode
{
    /// <summary>Clip |w| to the <see cref="WeightClippingStep.Percentile"/>-th percentile of the layer's |w|.</summary>
    Percentile,

    /// <summary>Clip w to mean ± <see cref="WeightClippingStep.StandardDeviations"/> standard deviations of the layer's weights.</summary>
    StandardDeviations,
}

/// <summary>
/// Weight clipping: clips each MatMul, Gemm and Conv weight tensor to a percentile of its magnitudes or to ± k standard
/// deviations, reporting how many weights changed and how much of the range was cut. Use it alone or before int8
/// quantization, where a smaller range means a finer quantization step for the other weights.
/// </summary>
public sealed record WeightClippingStep : CompressionStep
{
    /// <summary>The JSON discriminator, <c>weight-clipping</c>.</summary>
    public const string StepKind = "weight-clipping";

    /// <inheritdoc />
    [System.Text.Json.Serialization.JsonIgnore]
    public override string Kind => StepKind;

    /// <summary>Gets how the bound is chosen.</summary>
    /// <value>The default is <see cref="WeightClippingMode.StandardDeviations"/>.</value>
    public WeightClippingMode Mode { get; init; } = WeightClippingMode.StandardDeviations;

    /// <summary>Gets the percentile of |w| for <see cref="WeightClippingMode.Percentile"/>, greater than 50 and at most 100.</summary>
    /// <value>The default is 99.99.</value>
    public double Percentile { get; init; } = 99.99;

    /// <summary>Gets k for <see cref="WeightClippingMode.StandardDeviations"/>, greater than 0.</summary>
    /// <value>The default is 4.</value>
    public double StandardDeviations { get; init; } = 4;

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The mode is undefined, or its setting is out of range.</exception>
    public override void Validate()
    {
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentException($"Mode is {Mode}; use Percentile or StandardDeviations.", nameof(Mode));
        }

        if (!(Percentile > 50 && Percentile <= 100))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Percentile is {Percentile}; it must be greater than 50 and at most 100, for example 99.99."), nameof(Percentile));
        }

        if (!(StandardDeviations > 0) || double.IsInfinity(StandardDeviations))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"StandardDeviations is {StandardDeviations}; it must be a finite number greater than 0, for example 4."), nameof(StandardDeviations));
        }
    }

    /// <inheritdoc />
    public override string ToString() => Mode == WeightClippingMode.Percentile
        ? string.Create(CultureInfo.InvariantCulture, $"{StepKind}(p{Percentile})")
        : string.Create(CultureInfo.InvariantCulture, $"{StepKind}({StandardDeviations}σ)");
}
