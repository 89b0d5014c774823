using System.Globalization;

namespace ModelKit.Training;

/// <summary>One tensor of a layer's state: a trainable parameter or a buffer (BatchNorm running statistics).</summary>
/// <param name="Name">The PyTorch <c>state_dict</c> name, for example <c>3.weight</c> or <c>3.running_mean</c>.</param>
/// <param name="Shape">The dimensions.</param>
/// <param name="IsBuffer"><see langword="true"/> for a buffer (not trained by the optimizer), <see langword="false"/> for a parameter.</param>
public sealed record LayerStateSpec(string Name, long[] Shape, bool IsBuffer);

/// <summary>A layer at its flat index (the index that names its parameters).</summary>
/// <param name="Index">The flat index: a <see cref="ResidualBlock"/> takes one index, then its body layers and projection follow.</param>
/// <param name="Layer">The layer (a <see cref="ResidualBlock"/> appears once, as its own entry, before its body).</param>
/// <param name="Block">The flat index of the enclosing residual block, or −1.</param>
/// <param name="IsProjection">Whether the layer is a residual block's projection.</param>
public sealed record FlatLayer(int Index, LayerSpec Layer, int Block, bool IsProjection);

/// <summary>
/// The shape rules of sequential networks, shared by the trainer and the ONNX exporter: flat layer indices, the shape each
/// layer produces, and the parameters and buffers each layer holds. Shapes are batch first; <c>-1</c> is a dynamic dimension.
/// Thread-safe (stateless).
/// </summary>
public static class SequentialLayout
{
    /// <summary>Lists the layers at their flat indices (residual blocks expanded).</summary>
    /// <param name="layers">The top-level layers.</param>
    /// <returns>A new list.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="layers"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A layer is null, a residual block is empty or nested, or its projection is not a Linear or convolution layer.</exception>
    public static IReadOnlyList<FlatLayer> Flatten(IReadOnlyList<LayerSpec> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        var flat = new List<FlatLayer>(layers.Count);
        for (int i = 0; i < layers.Count; i++)
        {
            LayerSpec layer = layers[i] ?? throw new ArgumentException(Invariant($"Layer {i} is null; every entry must be a LayerSpec."), nameof(layers));
            if (layer is not ResidualBlock block)
            {
                flat.Add(new FlatLayer(flat.Count, layer, -1, false));
                continue;
            }

            int start = flat.Count;
            if (block.Body is null || block.Body.Count == 0)
            {
                throw new ArgumentException(Invariant($"ResidualBlock at index {start} has no body layers; give at least one."), nameof(layers));
            }

            flat.Add(new FlatLayer(start, block, -1, false));
            foreach (LayerSpec? inner in block.Body)
            {
                if (inner is null or ResidualBlock)
                {
                    throw new ArgumentException(
                        Invariant($"ResidualBlock at index {start} has a {(inner is null ? "null" : "nested ResidualBlock")} body layer; residual blocks do not nest and body layers must not be null."),
                        nameof(layers));
                }

                flat.Add(new FlatLayer(flat.Count, inner, start, false));
            }

            if (block.Projection is not null)
            {
                if (block.Projection is not (LinearLayer or Conv2dLayer or Conv1dLayer))
                {
                    throw new ArgumentException(
                        Invariant($"ResidualBlock at index {start} has a {block.Projection.GetType().Name} projection; use a LinearLayer, Conv2dLayer or Conv1dLayer."),
                        nameof(layers));
                }

                flat.Add(new FlatLayer(flat.Count, block.Projection, start, true));
            }
        }

        return flat;
    }

    /// <summary>Computes the output shape of the whole network, checking every layer against the shape it receives.</summary>
    /// <param name="layers">The top-level layers.</param>
    /// <param name="inputShape">The input shape, batch first, for example <c>[-1, 1, 28, 28]</c>.</param>
    /// <returns>The output shape (a new array).</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A layer's settings are out of range or it cannot take the shape it receives; the message names the layer, its flat index, the shape received and the shape expected.</exception>
    public static long[] InferOutputShape(IReadOnlyList<LayerSpec> layers, IReadOnlyList<long> inputShape)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        IReadOnlyList<FlatLayer> flat = Flatten(layers);
        long[] shape = [.. inputShape];
        for (int i = 0; i < flat.Count; i++)
        {
            FlatLayer entry = flat[i];
            if (entry.Layer is not ResidualBlock block)
            {
                shape = InferLayer(entry.Layer, entry.Index, shape);
                continue;
            }

            long[] body = shape;
            int j = i + 1;
            for (; j < flat.Count && flat[j].Block == entry.Index && !flat[j].IsProjection; j++)
            {
                body = InferLayer(flat[j].Layer, flat[j].Index, body);
            }

            long[] shortcut = shape;
            if (j < flat.Count && flat[j].Block == entry.Index && flat[j].IsProjection)
            {
                shortcut = InferLayer(flat[j].Layer, flat[j].Index, shape);
                j++;
            }

            if (!SameShape(body, shortcut))
            {
                throw new ArgumentException(
                    Invariant($"ResidualBlock at index {entry.Index} adds its body output {FormatShape(body)} to {(block.Projection is null ? "its input" : "its projection's output")} {FormatShape(shortcut)}; the shapes must be equal. {(block.Projection is null ? "Add a projection" : "Fix the projection")} or change the body."),
                    nameof(layers));
            }

            shape = body;
            i = j - 1;
        }

        return shape;
    }

    /// <summary>Computes the shape one (non-residual) layer produces from <paramref name="input"/>, checking its settings.</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="index">Its flat index (for messages).</param>
    /// <param name="input">The shape it receives, batch first.</param>
    /// <returns>The output shape (a new array).</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The settings are out of range, the layer cannot take <paramref name="input"/>, or the output would be empty; the message names the layer, the index and the shapes.</exception>
    public static long[] InferLayer(LayerSpec layer, int index, IReadOnlyList<long> input)
    {
        ArgumentNullException.ThrowIfNull(layer);
        ArgumentNullException.ThrowIfNull(input);
        string name = Invariant($"{layer.GetType().Name} at index {index}");
        long[] shape = [.. input];
        switch (layer)
        {
            case LinearLayer l:
                Positive(name, ("InFeatures", l.InFeatures), ("OutFeatures", l.OutFeatures));
                Expect(name, shape, 2, 1, l.InFeatures, Invariant($"[N, {l.InFeatures}]"), "put a FlattenLayer before it or fix InFeatures");
                return [shape[0], l.OutFeatures];
            case Conv2dLayer c:
                ValidateConv(name, c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, c.Groups);
                Expect(name, shape, 4, 1, c.InChannels, Invariant($"[N, {c.InChannels}, H, W]"), "fix InChannels or the previous layer");
                return [shape[0], c.OutChannels, Spatial(name, shape, 2, c.KernelSize, c.Stride, c.Padding, c.Dilation), Spatial(name, shape, 3, c.KernelSize, c.Stride, c.Padding, c.Dilation)];
            case Conv1dLayer c:
                ValidateConv(name, c.InChannels, c.OutChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, c.Groups);
                Expect(name, shape, 3, 1, c.InChannels, Invariant($"[N, {c.InChannels}, L]"), "fix InChannels or the previous layer");
                return [shape[0], c.OutChannels, Spatial(name, shape, 2, c.KernelSize, c.Stride, c.Padding, c.Dilation)];
            case MaxPool2dLayer p:
                return Pool(name, shape, p.KernelSize, p.Stride, p.Padding);
            case AvgPool2dLayer p:
                return Pool(name, shape, p.KernelSize, p.Stride, p.Padding);
            case GlobalAvgPool2dLayer:
                Expect(name, shape, 4, -1, 0, "[N, C, H, W]", "pool 4-D feature maps");
                return [shape[0], shape[1], 1, 1];
            case BatchNorm1dLayer b:
                ValidateNorm(name, b.NumFeatures, b.Epsilon, b.Momentum);
                if (shape.Length is not (2 or 3))
                {
                    throw Shape(name, shape, Invariant($"[N, {b.NumFeatures}] or [N, {b.NumFeatures}, L]"), "use BatchNorm2dLayer for images");
                }

                Expect(name, shape, shape.Length, 1, b.NumFeatures, Invariant($"[N, {b.NumFeatures}, …]"), "fix NumFeatures");
                return shape;
            case BatchNorm2dLayer b:
                ValidateNorm(name, b.NumFeatures, b.Epsilon, b.Momentum);
                Expect(name, shape, 4, 1, b.NumFeatures, Invariant($"[N, {b.NumFeatures}, H, W]"), "fix NumFeatures");
                return shape;
            case LayerNormLayer n:
                Positive(name, ("NormalizedSize", n.NormalizedSize));
                PositiveReal(name, "Epsilon", n.Epsilon);
                Expect(name, shape, -1, shape.Length - 1, n.NormalizedSize, Invariant($"[N, …, {n.NormalizedSize}]"), "fix NormalizedSize");
                return shape;
            case EmbeddingLayer e:
                Positive(name, ("NumEmbeddings", e.NumEmbeddings), ("EmbeddingDim", e.EmbeddingDim));
                return [.. shape, e.EmbeddingDim];
            case DropoutLayer d:
                if (!(d.Probability >= 0 && d.Probability < 1))
                {
                    throw new ArgumentException(Invariant($"{name} has Probability {d.Probability}; it must be in [0, 1)."), nameof(layer));
                }

                return shape;
            case LeakyReluLayer r:
                if (!(r.NegativeSlope >= 0) || !double.IsFinite(r.NegativeSlope))
                {
                    throw new ArgumentException(Invariant($"{name} has NegativeSlope {r.NegativeSlope}; it must be a finite number, 0 or greater."), nameof(layer));
                }

                return shape;
            case SoftmaxLayer s:
                CheckDim(name, s.Dim, shape);
                return shape;
            case LogSoftmaxLayer s:
                CheckDim(name, s.Dim, shape);
                return shape;
            case ReluLayer or GeluLayer or SiluLayer or SigmoidLayer or TanhLayer:
                return shape;
            case FlattenLayer:
            {
                long product = 1;
                for (int d = 1; d < shape.Length; d++)
                {
                    if (shape[d] < 0 || product < 0)
                    {
                        product = -1;
                    }
                    else if (!TryMultiply(product, shape[d], out product))
                    {
                        throw new ArgumentException(Invariant($"{name} receives shape {FormatShape(shape)}, whose element count per sample overflows a 64-bit integer; check the input's dimensions."), nameof(input));
                    }
                }

                return [shape[0], product];
            }

            case ResidualBlock:
                throw new ArgumentException(Invariant($"{name} is a residual block; use InferOutputShape for a layer list."), nameof(layer));
            default:
                throw new ArgumentException(Invariant($"Layer {index} is a {layer.GetType().Name}, which sequential networks do not support."), nameof(layer));
        }
    }

    /// <summary>Lists the parameters and buffers a layer holds, named after its flat index, in libtorch's order (parameters first).</summary>
    /// <param name="layer">The layer.</param>
    /// <param name="index">Its flat index.</param>
    /// <returns>A new list; empty for layers without state.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="layer"/> is <see langword="null"/>.</exception>
    public static IReadOnlyList<LayerStateSpec> StateOf(LayerSpec layer, int index)
    {
        ArgumentNullException.ThrowIfNull(layer);
        string p = index.ToString(CultureInfo.InvariantCulture) + ".";
        return layer switch
        {
            LinearLayer l => l.Bias
                ? [new(p + "weight", [l.OutFeatures, l.InFeatures], false), new(p + "bias", [l.OutFeatures], false)]
                : [new(p + "weight", [l.OutFeatures, l.InFeatures], false)],
            Conv2dLayer c => ConvState(p, c.OutChannels, c.InChannels / Math.Max(c.Groups, 1), [c.KernelSize, c.KernelSize], c.Bias),
            Conv1dLayer c => ConvState(p, c.OutChannels, c.InChannels / Math.Max(c.Groups, 1), [c.KernelSize], c.Bias),
            BatchNorm1dLayer b => NormState(p, b.NumFeatures, true),
            BatchNorm2dLayer b => NormState(p, b.NumFeatures, true),
            LayerNormLayer n => NormState(p, n.NormalizedSize, false),
            EmbeddingLayer e => [new(p + "weight", [e.NumEmbeddings, e.EmbeddingDim], false)],
            _ => [],
        };
    }

    private static LayerStateSpec[] ConvState(string p, long outChannels, long inPerGroup, long[] kernel, bool bias)
    {
        long[] weight = [outChannels, inPerGroup, .. kernel];
        return bias ? [new(p + "weight", weight, false), new(p + "bias", [outChannels], false)] : [new(p + "weight", weight, false)];
    }

    private static LayerStateSpec[] NormState(string p, long features, bool running) => running
        ? [new(p + "weight", [features], false), new(p + "bias", [features], false), new(p + "running_mean", [features], true), new(p + "running_var", [features], true)]
        : [new(p + "weight", [features], false), new(p + "bias", [features], false)];

    private static long[] Pool(string name, long[] shape, int kernel, int? stride, int padding)
    {
        int s = stride ?? kernel;
        Positive(name, ("KernelSize", kernel), ("Stride", s));
        if (padding < 0 || 2L * padding > kernel)
        {
            throw new ArgumentException(Invariant($"{name} has Padding {padding}; it must be between 0 and half of KernelSize {kernel}."));
        }

        Expect(name, shape, 4, -1, 0, "[N, C, H, W]", "pool 4-D feature maps");
        return [shape[0], shape[1], Spatial(name, shape, 2, kernel, s, padding, 1), Spatial(name, shape, 3, kernel, s, padding, 1)];
    }

    private static long Spatial(string name, long[] shape, int axis, int kernel, int stride, int padding, int dilation)
    {
        long size = shape[axis];
        if (size < 0)
        {
            return -1;
        }

        long span = ((long)dilation * (kernel - 1)) + 1; // both ints: fits in a long
        if (size > long.MaxValue / 2 - (2L * padding))
        {
            throw new ArgumentException(Invariant($"{name} receives shape {FormatShape(shape)}: dimension {axis} ({size}) is too large to pad."));
        }

        long padded = size + (2L * padding);
        if (padded < span)
        {
            throw new ArgumentException(
                Invariant($"{name} receives shape {FormatShape(shape)}: dimension {axis} is {size} (+{2L * padding} padding) but the window spans {span}, so the output would be empty. Use a larger input, more padding or a smaller kernel."));
        }

        return ((padded - span) / stride) + 1;
    }

    private static void ValidateConv(string name, int inChannels, int outChannels, int kernel, int stride, int padding, int dilation, int groups)
    {
        Positive(name, ("InChannels", inChannels), ("OutChannels", outChannels), ("KernelSize", kernel), ("Stride", stride), ("Dilation", dilation), ("Groups", groups));
        if (padding < 0)
        {
            throw new ArgumentException(Invariant($"{name} has Padding {padding}; it must be 0 or greater."));
        }

        if (inChannels % groups != 0 || outChannels % groups != 0)
        {
            throw new ArgumentException(Invariant($"{name} has Groups {groups}, which must divide InChannels {inChannels} and OutChannels {outChannels}."));
        }
    }

    private static void ValidateNorm(string name, int features, double epsilon, double momentum)
    {
        Positive(name, ("NumFeatures", features));
        PositiveReal(name, "Epsilon", epsilon);
        if (!(momentum >= 0 && momentum <= 1))
        {
            throw new ArgumentException(Invariant($"{name} has Momentum {momentum}; it must be in [0, 1]."));
        }
    }

    private static void Positive(string name, params (string Name, int Value)[] values)
    {
        foreach ((string what, int value) in values)
        {
            if (value < 1)
            {
                throw new ArgumentException(Invariant($"{name} has {what} {value}; it must be 1 or greater."));
            }
        }
    }

    private static void PositiveReal(string name, string what, double value)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw new ArgumentException(Invariant($"{name} has {what} {value}; it must be a finite number greater than 0."));
        }
    }

    private static void CheckDim(string name, int dim, long[] shape)
    {
        if (dim < -shape.Length || dim >= shape.Length)
        {
            throw new ArgumentException(Invariant($"{name} has Dim {dim} but receives shape {FormatShape(shape)} of rank {shape.Length}; use a dimension in [{-shape.Length}, {shape.Length})."));
        }
    }

    // rank: the required rank (-1: any); axis/size: a dimension that must equal size (axis -1: none; dynamic -1 accepted).
    private static void Expect(string name, long[] shape, int rank, int axis, long size, string expected, string advice)
    {
        bool ok = (rank < 0 || shape.Length == rank) && shape.Length >= 1 && (axis < 0 || (axis < shape.Length && (shape[axis] == size || shape[axis] == -1)));
        if (!ok)
        {
            throw Shape(name, shape, expected, advice);
        }
    }

    private static ArgumentException Shape(string name, long[] shape, string expected, string advice) =>
        new(Invariant($"{name} receives shape {FormatShape(shape)} but needs {expected}; {advice}."));

    /// <summary>Multiplies two non-negative sizes; <see langword="false"/> when the product overflows a 64-bit integer.</summary>
    /// <param name="a">A size, 0 or greater.</param>
    /// <param name="b">A size, 0 or greater.</param>
    /// <param name="product">The product when it fits.</param>
    /// <returns>Whether the product fits.</returns>
    public static bool TryMultiply(long a, long b, out long product)
    {
        try
        {
            product = checked(a * b);
            return true;
        }
        catch (OverflowException)
        {
            product = 0;
            return false;
        }
    }

    private static bool SameShape(long[] a, long[] b) => a.AsSpan().SequenceEqual(b);

    private static string FormatShape(long[] shape) => TensorSpec.FormatShape(shape);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
