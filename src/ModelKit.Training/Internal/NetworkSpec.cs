using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Internal;

/// <summary>
/// Checks a layer list against an input spec (values in range, shapes flowing through, see <see cref="SequentialLayout"/>)
/// and encodes it as the shim's arrays: one kind, <see cref="MkNetwork.IntArgs"/> int64 and <see cref="MkNetwork.RealArgs"/>
/// double arguments per flat layer.
/// </summary>
internal sealed class NetworkSpec
{
    private NetworkSpec(LayerSpec[] layers, int[] kinds, long[] intArgs, double[] realArgs, long[] outputShape, string digest)
    {
        Layers = layers;
        Kinds = kinds;
        IntArgs = intArgs;
        RealArgs = realArgs;
        OutputShape = outputShape;
        Digest = digest;
    }

    public LayerSpec[] Layers { get; }

    public int[] Kinds { get; }

    public long[] IntArgs { get; }

    public double[] RealArgs { get; }

    /// <summary>Gets the output shape, batch first (<c>-1</c> for dynamic dimensions).</summary>
    public long[] OutputShape { get; }

    /// <summary>Gets the number of classes for cross-entropy: the last dimension of a rank-2 output, otherwise 0.</summary>
    public int OutputFeatures => OutputShape.Length == 2 && OutputShape[1] > 0 ? (int)OutputShape[1] : 0;

    /// <summary>Gets a SHA-256 of the layers and input (what a checkpoint must match).</summary>
    public string Digest { get; }

    /// <exception cref="ArgumentException">The spec is invalid; the message names the layer, its index and the values.</exception>
    public static NetworkSpec Create(IReadOnlyList<LayerSpec> layers, TensorSpec input)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(input);
        ValidateInput(input);
        if (layers.Count == 0)
        {
            throw new ArgumentException("The network has no layers; give at least one, for example [new FlattenLayer(), new LinearLayer(784, 10)].", nameof(layers));
        }

        long[] output;
        IReadOnlyList<FlatLayer> flat;
        try
        {
            flat = SequentialLayout.Flatten(layers);
            output = SequentialLayout.InferOutputShape(layers, input.Shape);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException(ex.Message.Replace(" (Parameter 'layer')", string.Empty, StringComparison.Ordinal), nameof(layers), ex);
        }

        if (!flat.Any(f => SequentialLayout.StateOf(f.Layer, f.Index).Any(s => !s.IsBuffer)))
        {
            throw new ArgumentException("The network has no layer with parameters (Linear, Conv, BatchNorm, LayerNorm or Embedding), so it has nothing to train; add one, for example new LinearLayer(784, 10).", nameof(layers));
        }

        int[] kinds = new int[flat.Count];
        long[] ints = new long[checked(MkNetwork.IntArgs * flat.Count)];
        double[] reals = new double[checked(MkNetwork.RealArgs * flat.Count)];
        foreach (FlatLayer entry in flat)
        {
            int i = entry.Index;
            Span<long> a = ints.AsSpan(i * MkNetwork.IntArgs, MkNetwork.IntArgs);
            Span<double> r = reals.AsSpan(i * MkNetwork.RealArgs, MkNetwork.RealArgs);
            kinds[i] = Encode(entry.Layer, a, r);
        }

        return new NetworkSpec([.. layers], kinds, ints, reals, output, ComputeDigest(layers, input));
    }

    private static int Encode(LayerSpec layer, Span<long> a, Span<double> r)
    {
        switch (layer)
        {
            case LinearLayer l:
                a[0] = l.InFeatures;
                a[1] = l.OutFeatures;
                a[2] = l.Bias ? 1 : 0;
                return MkNetwork.LayerLinear;
            case Conv2dLayer c:
                Conv(a, c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, c.Groups, c.Bias);
                return MkNetwork.LayerConv2d;
            case Conv1dLayer c:
                Conv(a, c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, c.Groups, c.Bias);
                return MkNetwork.LayerConv1d;
            case MaxPool2dLayer p:
                (a[0], a[1], a[2]) = (p.KernelSize, p.Stride ?? p.KernelSize, p.Padding);
                return MkNetwork.LayerMaxPool2d;
            case AvgPool2dLayer p:
                (a[0], a[1], a[2]) = (p.KernelSize, p.Stride ?? p.KernelSize, p.Padding);
                return MkNetwork.LayerAvgPool2d;
            case GlobalAvgPool2dLayer:
                return MkNetwork.LayerGlobalAvgPool2d;
            case BatchNorm1dLayer b:
                (a[0], r[0], r[1]) = (b.NumFeatures, b.Epsilon, b.Momentum);
                return MkNetwork.LayerBatchNorm1d;
            case BatchNorm2dLayer b:
                (a[0], r[0], r[1]) = (b.NumFeatures, b.Epsilon, b.Momentum);
                return MkNetwork.LayerBatchNorm2d;
            case LayerNormLayer n:
                (a[0], r[0]) = (n.NormalizedSize, n.Epsilon);
                return MkNetwork.LayerLayerNorm;
            case EmbeddingLayer e:
                (a[0], a[1]) = (e.NumEmbeddings, e.EmbeddingDim);
                return MkNetwork.LayerEmbedding;
            case DropoutLayer d:
                r[0] = d.Probability;
                return MkNetwork.LayerDropout;
            case LeakyReluLayer l:
                r[0] = l.NegativeSlope;
                return MkNetwork.LayerLeakyRelu;
            case SoftmaxLayer s:
                a[0] = s.Dim;
                return MkNetwork.LayerSoftmax;
            case LogSoftmaxLayer s:
                a[0] = s.Dim;
                return MkNetwork.LayerLogSoftmax;
            case ResidualBlock b:
                (a[0], a[1]) = (b.Body.Count, b.Projection is null ? 0 : 1);
                return MkNetwork.LayerResidual;
            case ReluLayer:
                return MkNetwork.LayerRelu;
            case FlattenLayer:
                return MkNetwork.LayerFlatten;
            case GeluLayer:
                return MkNetwork.LayerGelu;
            case SiluLayer:
                return MkNetwork.LayerSilu;
            case SigmoidLayer:
                return MkNetwork.LayerSigmoid;
            case TanhLayer:
                return MkNetwork.LayerTanh;
            default:
                throw new ArgumentException($"A {layer.GetType().Name} is not supported by libtorch training.", nameof(layer));
        }
    }

    private static void Conv(Span<long> a, int inChannels, int outChannels, int kernel, int stride, int padding, int dilation, int groups, bool bias)
    {
        a[0] = inChannels;
        a[1] = outChannels;
        a[2] = kernel;
        a[3] = stride;
        a[4] = padding;
        a[5] = dilation;
        a[6] = groups;
        a[7] = bias ? 1 : 0;
    }

    private static string ComputeDigest(IReadOnlyList<LayerSpec> layers, TensorSpec input)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{input.ElementType}{TensorSpec.FormatShape(input.Shape)}");
        foreach (LayerSpec layer in layers)
        {
            text.Append('|').Append(JsonSerializer.Serialize(layer, TrainingJsonContext.Default.LayerSpec));
        }

        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }

    private static void ValidateInput(TensorSpec input)
    {
        if (input.ElementType != TensorElementType.Float)
        {
            throw new ArgumentException($"Input '{input.Name}' has element type {input.ElementType}; libtorch training takes Float (float32) features.", nameof(input));
        }

        if (input.Shape.Count < 2 || input.Shape.Count > MkNetwork.MaxRank)
        {
            throw new ArgumentException(
                Invariant($"Input '{input.Name}' has shape {TensorSpec.FormatShape(input.Shape)}; it must have 2 to {MkNetwork.MaxRank} dimensions, the batch first, for example [-1, 1, 28, 28]."),
                nameof(input));
        }

        for (int d = 0; d < input.Shape.Count; d++)
        {
            if (input.Shape[d] == 0 || input.Shape[d] < -1)
            {
                throw new ArgumentException(
                    Invariant($"Input '{input.Name}' has shape {TensorSpec.FormatShape(input.Shape)} with dimension {d} = {input.Shape[d]}; each dimension must be 1 or greater, or -1 (dynamic)."),
                    nameof(input));
            }
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
