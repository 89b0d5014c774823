using System.Globalization;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Internal;

/// <summary>
/// Checks a layer list against an input spec (values in range, Linear features chaining, shapes flowing through)
/// and encodes it as the shim's arrays: one kind, two int64 and one double argument per layer.
/// </summary>
internal sealed class NetworkSpec
{
    private NetworkSpec(LayerSpec[] layers, int[] kinds, long[] intArgs, double[] realArgs, int outputFeatures)
    {
        Layers = layers;
        Kinds = kinds;
        IntArgs = intArgs;
        RealArgs = realArgs;
        OutputFeatures = outputFeatures;
    }

    public LayerSpec[] Layers { get; }

    public int[] Kinds { get; }

    public long[] IntArgs { get; }

    public double[] RealArgs { get; }

    /// <summary>Gets the number of output features (classes) of the last Linear layer.</summary>
    public int OutputFeatures { get; }

    /// <exception cref="ArgumentException">The spec is invalid; the message names the layer, its index and the values.</exception>
    public static NetworkSpec Create(IReadOnlyList<LayerSpec> layers, TensorSpec input)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(input);
        ValidateInput(input);
        if (layers.Count == 0)
        {
            throw new ArgumentException("The network has no layers; give at least one LinearLayer, for example [new FlattenLayer(), new LinearLayer(784, 10)].", nameof(layers));
        }

        var copy = new LayerSpec[layers.Count];
        int[] kinds = new int[layers.Count];
        long[] intArgs = new long[2 * layers.Count];
        double[] realArgs = new double[layers.Count];
        var shape = new List<long>(input.Shape);
        int outputFeatures = -1;
        int lastLinear = -1;
        for (int i = 0; i < layers.Count; i++)
        {
            LayerSpec layer = layers[i] ?? throw new ArgumentException($"Layer {i} is null; every entry must be a LayerSpec.", nameof(layers));
            copy[i] = layer;
            switch (layer)
            {
                case LinearLayer linear:
                    if (linear.InFeatures < 1 || linear.OutFeatures < 1)
                    {
                        throw new ArgumentException(
                            Invariant($"LinearLayer at index {i} has InFeatures {linear.InFeatures} and OutFeatures {linear.OutFeatures}; both must be 1 or greater."),
                            nameof(layers));
                    }

                    if (shape.Count != 2)
                    {
                        throw new ArgumentException(
                            Invariant($"LinearLayer at index {i} needs an input of shape [N, {linear.InFeatures}] but receives {TensorSpec.FormatShape(shape)}; put a FlattenLayer before it."),
                            nameof(layers));
                    }

                    if (shape[1] >= 0 && shape[1] != linear.InFeatures)
                    {
                        string source = lastLinear >= 0
                            ? Invariant($"the {shape[1]} output features of LinearLayer at index {lastLinear}")
                            : Invariant($"{shape[1]} features from input '{input.Name}' {TensorSpec.FormatShape(input.Shape)}");
                        throw new ArgumentException(
                            Invariant($"LinearLayer at index {i} expects {linear.InFeatures} input features but receives {source}. Make the in/out features chain."),
                            nameof(layers));
                    }

                    kinds[i] = MkNetwork.LayerLinear;
                    intArgs[2 * i] = linear.InFeatures;
                    intArgs[(2 * i) + 1] = linear.OutFeatures;
                    shape[1] = linear.OutFeatures;
                    outputFeatures = linear.OutFeatures;
                    lastLinear = i;
                    break;
                case ReluLayer:
                    kinds[i] = MkNetwork.LayerRelu;
                    break;
                case FlattenLayer:
                    kinds[i] = MkNetwork.LayerFlatten;
                    long product = 1;
                    for (int d = 1; d < shape.Count; d++)
                    {
                        product = shape[d] < 0 || product < 0 ? -1 : checked(product * shape[d]);
                    }

                    shape = [shape[0], product];
                    break;
                case DropoutLayer dropout:
                    if (!(dropout.Probability >= 0 && dropout.Probability < 1))
                    {
                        throw new ArgumentException(
                            $"DropoutLayer at index {i} has Probability {OptimizerSettings.Format(dropout.Probability)}; it must be in [0, 1).",
                            nameof(layers));
                    }

                    kinds[i] = MkNetwork.LayerDropout;
                    realArgs[i] = dropout.Probability;
                    break;
                default:
                    throw new ArgumentException(
                        $"Layer {i} is a {layer.GetType().Name}, which libtorch training does not support; use LinearLayer, ReluLayer, FlattenLayer or DropoutLayer.",
                        nameof(layers));
            }
        }

        if (lastLinear < 0)
        {
            throw new ArgumentException("The network has no LinearLayer, so it has nothing to train and no class logits; add one, for example new LinearLayer(784, 10).", nameof(layers));
        }

        return new NetworkSpec(copy, kinds, intArgs, realArgs, outputFeatures);
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
