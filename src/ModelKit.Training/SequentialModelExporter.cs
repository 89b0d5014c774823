using System.Globalization;
using ModelKit.Onnx;

namespace ModelKit.Training;

/// <summary>
/// A trained parameter of a sequential network, named as PyTorch's <c>nn.Sequential.state_dict()</c> names it: the
/// layer's index, a dot and the parameter, for example <c>0.weight</c> (shape <c>[out, in]</c>) or <c>0.bias</c>
/// (shape <c>[out]</c>).
/// </summary>
/// <param name="Name">The parameter name, for example <c>0.weight</c>; it becomes the ONNX initializer name.</param>
/// <param name="Data">The float32 values in row-major order; their count must equal the product of <paramref name="Shape"/>.</param>
/// <param name="Shape">The dimensions.</param>
public sealed record OnnxParameter(string Name, float[] Data, long[] Shape);

/// <summary>What <see cref="SequentialModelExporter"/> turns into an ONNX model.</summary>
/// <param name="Layers">The layers in execution order; at least one.</param>
/// <param name="Parameters">Every parameter and buffer the layers hold (see <see cref="SequentialLayout.StateOf"/>), named after the layer's flat index, and nothing else.</param>
/// <param name="Input">
/// The graph input: its name, element type (must be <see cref="TensorElementType.Float"/>) and shape, batch dimension
/// first (<c>-1</c> for a dynamic batch, which is usual; other dimensions may be <c>-1</c> where the layers allow it, for example the spatial size of a convolutional network), for example <c>[-1, 1, 28, 28]</c>.
/// </param>
public sealed record SequentialExportRequest(IReadOnlyList<LayerSpec> Layers, IReadOnlyList<OnnxParameter> Parameters, TensorSpec Input)
{
    /// <summary>Gets the name of the graph output.</summary>
    /// <value>The default is <c>logits</c>.</value>
    public string OutputName { get; init; } = "logits";

    /// <summary>Gets the default-domain opset to export for, from <see cref="SequentialModelExporter.MinOpset"/> to <see cref="SequentialModelExporter.MaxOpset"/>.</summary>
    /// <value>The default is 17.</value>
    public int Opset { get; init; } = 17;

    /// <summary>Gets the value written to <c>ModelProto.producer_name</c>.</summary>
    /// <value>The default is <c>ModelKit</c>.</value>
    public string ProducerName { get; init; } = "ModelKit";

    /// <summary>Gets entries written to <c>ModelProto.metadata_props</c>, for example the training run id.</summary>
    /// <value>The default is empty.</value>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Exports a trained sequential network (every <see cref="LayerSpec"/>: Linear, Conv1d/Conv2d, pooling, BatchNorm, LayerNorm,
/// Embedding, Dropout, Flatten, the activations and residual blocks) as an ONNX model for inference. Thread-safe (stateless).
/// </summary>
/// <remarks>
/// <para>Operator mapping (onnx/docs/Operators.md); initializers keep the PyTorch names (<c>0.weight</c>, <c>0.bias</c>, <c>1.running_mean</c>):</para>
/// <list type="bullet">
/// <item><see cref="LinearLayer"/> → <c>Gemm(X, W[, B])</c> with <c>transB=1</c> (<c>Y = X·Wᵀ + B</c>, Gemm-13).</item>
/// <item><see cref="Conv2dLayer"/>, <see cref="Conv1dLayer"/> → <c>Conv</c> (kernel_shape, strides, pads, dilations, group).</item>
/// <item><see cref="MaxPool2dLayer"/> → <c>MaxPool</c>; <see cref="AvgPool2dLayer"/> → <c>AveragePool</c> with <c>count_include_pad=1</c>; <see cref="GlobalAvgPool2dLayer"/> → <c>GlobalAveragePool</c>.</item>
/// <item><see cref="BatchNorm1dLayer"/>, <see cref="BatchNorm2dLayer"/> → <c>BatchNormalization</c> with the running statistics (inference mode).</item>
/// <item><see cref="LayerNormLayer"/> → <c>LayerNormalization</c> (<c>axis=-1</c>, opset 17 or newer).</item>
/// <item><see cref="EmbeddingLayer"/> → <c>Cast</c> (to int64) then <c>Gather</c> on the weight.</item>
/// <item>Activations: <c>Relu</c>, <c>LeakyRelu</c>, <c>Sigmoid</c>, <c>Tanh</c>, <c>Softmax</c>, <c>LogSoftmax</c>; SiLU as <c>Sigmoid</c> + <c>Mul</c>;
/// GELU as <c>Div(√2) → Erf → Add(1) → Mul(x) → Mul(0.5)</c>, the form ONNX Runtime fuses into <c>Gelu</c>.</item>
/// <item><see cref="FlattenLayer"/> → <c>Flatten</c> (<c>axis=1</c>); <see cref="DropoutLayer"/> → no node; <see cref="ResidualBlock"/> → its body, its projection (if any) and <c>Add</c>.</item>
/// </list>
/// <para>The graph has one float32 input (the request's; <c>-1</c> dimensions become symbolic) and one float32 output of the last layer.</para>
/// </remarks>
public static class SequentialModelExporter
{
    /// <summary>The lowest opset the exporter writes (Gemm-13, Flatten-13 and Relu-6/14 all exist from here on).</summary>
    public const int MinOpset = 13;

    /// <summary>The highest opset the exporter writes.</summary>
    public const int MaxOpset = 23;

    /// <summary>Builds the ONNX graph of the network.</summary>
    /// <param name="request">The layers, parameters and input.</param>
    /// <returns>A new model the caller owns.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> or one of its lists is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// The request is inconsistent; the message names the layer index, the parameter, the expected and the actual shape:
    /// the input is not float32 or not of rank 2 or more with fixed non-batch dimensions; there are no layers; a Linear layer
    /// receives a tensor of rank other than 2 (add a <see cref="FlattenLayer"/>) or a feature count other than its
    /// <c>InFeatures</c>; a weight or bias is missing, of the wrong shape, or holds a number of values other than its shape's;
    /// a parameter belongs to no Linear layer or is given twice; the output name is empty or clashes with another name;
    /// the opset is outside <see cref="MinOpset"/> to <see cref="MaxOpset"/>; or a layer type is not supported.
    /// </exception>
    private static OnnxGraphBuilder Build(SequentialExportRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(request.Layers, "request.Layers");
        ArgumentNullException.ThrowIfNull(request.Parameters, "request.Parameters");
        ArgumentNullException.ThrowIfNull(request.Input, "request.Input");
        ArgumentNullException.ThrowIfNull(request.Metadata, "request.Metadata");
        if (request.Opset is < MinOpset or > MaxOpset)
        {
            throw InvalidRequest(
                Invariant($"Opset {request.Opset} is not supported by the sequential exporter: expected {MinOpset} to {MaxOpset}. Use opset 17 unless the runtime needs another."));
        }

        TensorSpec input = request.Input;
        if (string.IsNullOrEmpty(input.Name))
        {
            throw InvalidRequest("The input has no name; give the graph input a name such as 'input'.");
        }

        if (input.ElementType != TensorElementType.Float)
        {
            throw InvalidRequest(
                $"Input '{input.Name}' has element type {input.ElementType}; the sequential exporter needs Float (float32) input, as the layers' weights are float32.");
        }

        if (input.Shape.Count < 2)
        {
            throw InvalidRequest(
                $"Input '{input.Name}' has shape {TensorSpec.FormatShape(input.Shape)} of rank {input.Shape.Count}; expected rank 2 or more with the batch dimension first, for example [-1, 784].");
        }

        if (input.Shape[0] is < -1 or 0)
        {
            throw InvalidRequest(
                $"Input '{input.Name}' has shape {TensorSpec.FormatShape(input.Shape)} with batch dimension {input.Shape[0]}; use -1 for a dynamic batch or a fixed size of 1 or more.");
        }

        for (int d = 1; d < input.Shape.Count; d++)
        {
            if (input.Shape[d] is 0 or < -1)
            {
                throw InvalidRequest(
                    $"Input '{input.Name}' has shape {TensorSpec.FormatShape(input.Shape)} with dimension {d} = {input.Shape[d]}; every dimension after the batch must be 1 or greater, or -1 where the layers allow a dynamic size.");
            }
        }

        if (request.Layers.Count == 0)
        {
            throw InvalidRequest("The network has no layers; give at least one layer to export.");
        }

        if (string.IsNullOrEmpty(request.OutputName))
        {
            throw InvalidRequest("OutputName is empty; name the graph output, for example 'logits'.");
        }

        if (request.OutputName == input.Name)
        {
            throw InvalidRequest($"OutputName '{request.OutputName}' equals the input name; give the output a different name.");
        }

        Dictionary<string, OnnxParameter> parameters = IndexParameters(request.Parameters);
        if (parameters.ContainsKey(request.OutputName) || parameters.ContainsKey(input.Name))
        {
            string clash = parameters.ContainsKey(request.OutputName) ? request.OutputName : input.Name;
            throw InvalidRequest($"Name '{clash}' is used both by a parameter and by the graph input or output; rename the input or output.");
        }

        var builder = new OnnxGraphBuilder("sequential", request.Opset)
            .SetProducer(request.ProducerName ?? string.Empty, typeof(SequentialModelExporter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0");
        long[] inputShape = [.. input.Shape];
        builder.AddInput(input.Name, TensorElementType.Float, inputShape);

        IReadOnlyList<FlatLayer> flat;
        try
        {
            flat = SequentialLayout.Flatten(request.Layers);
        }
        catch (ArgumentException ex)
        {
            throw InvalidRequest(Strip(ex.Message));
        }

        var emitter = new Emitter(builder, parameters, request.Opset);
        string value = input.Name;
        long[] shape = inputShape;
        for (int i = 0; i < flat.Count; i++)
        {
            FlatLayer entry = flat[i];
            if (entry.Layer is not ResidualBlock block)
            {
                (value, shape) = emitter.Layer(entry, value, shape);
                continue;
            }

            string bodyValue = value;
            long[] bodyShape = shape;
            int j = i + 1;
            for (; j < flat.Count && flat[j].Block == entry.Index && !flat[j].IsProjection; j++)
            {
                (bodyValue, bodyShape) = emitter.Layer(flat[j], bodyValue, bodyShape);
            }

            string shortcut = value;
            long[] shortcutShape = shape;
            if (j < flat.Count && flat[j].Block == entry.Index && flat[j].IsProjection)
            {
                (shortcut, shortcutShape) = emitter.Layer(flat[j], value, shape);
                j++;
            }

            if (!bodyShape.AsSpan().SequenceEqual(shortcutShape))
            {
                throw InvalidRequest(
                    Invariant($"Layer {entry.Index} (ResidualBlock) adds its body output {TensorSpec.FormatShape(bodyShape)} to {(block.Projection is null ? "its input" : "its projection's output")} {TensorSpec.FormatShape(shortcutShape)}; the shapes must be equal."));
            }

            value = emitter.Node("Add", [bodyValue, shortcut]);
            shape = bodyShape;
            i = j - 1;
        }

        foreach (string name in parameters.Keys)
        {
            if (!emitter.Used.Contains(name))
            {
                throw InvalidRequest(
                    $"Parameter '{name}' belongs to no layer of the network ({request.Layers.Count} layers); parameters must be named '{{index}}.weight', '{{index}}.bias' (and '{{index}}.running_mean', '{{index}}.running_var' for BatchNorm) after their layer's flat index. Remove it or fix the layer list.");
            }
        }

        emitter.Finish(input.Name, request.OutputName);
        builder.AddOutput(request.OutputName, TensorElementType.Float, [.. shape]);
        foreach (KeyValuePair<string, string> entry in request.Metadata)
        {
            builder.AddMetadata(entry.Key, entry.Value);
        }

        return builder;
    }

    /// <summary>Exports the network and serializes it (the bytes of a <c>.onnx</c> file).</summary>
    /// <param name="request">The layers, parameters and input.</param>
    /// <returns>The serialized model; a new array the caller owns.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> or one of its lists is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// The request is inconsistent; the message names the layer index, the parameter, the expected and the actual shape:
    /// the input is not float32 or not of rank 2 or more with fixed non-batch dimensions; there are no layers; a Linear layer
    /// receives a tensor of rank other than 2 (add a <see cref="FlattenLayer"/>) or a feature count other than its
    /// <c>InFeatures</c>; a weight or bias is missing, of the wrong shape, or holds a number of values other than its shape's;
    /// a parameter belongs to no Linear layer or is given twice; the output name is empty or clashes with another name;
    /// the opset is outside <see cref="MinOpset"/> to <see cref="MaxOpset"/>; or a layer type is not supported.
    /// </exception>
    public static byte[] ExportToBytes(SequentialExportRequest request) => Build(request).ToBytes();

    /// <summary>Exports the network and writes the serialized model to <paramref name="destination"/>.</summary>
    /// <param name="request">The layers, parameters and input.</param>
    /// <param name="destination">A writable stream; written from its current position, flushed, and not disposed (the caller keeps ownership).</param>
    /// <exception cref="ArgumentNullException">An argument or one of the request's lists is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The request is inconsistent (see <see cref="ExportToBytes(SequentialExportRequest)"/>), or <paramref name="destination"/> is not writable.</exception>
    /// <exception cref="IOException">Writing to the stream failed.</exception>
    public static void Export(SequentialExportRequest request, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            throw InvalidRequest("The destination stream is not writable; pass a stream opened for writing.", nameof(destination));
        }

        byte[] model = Build(request).ToBytes();
        destination.Write(model);
        destination.Flush();
    }

    private static Dictionary<string, OnnxParameter> IndexParameters(IReadOnlyList<OnnxParameter> parameters)
    {
        var index = new Dictionary<string, OnnxParameter>(StringComparer.Ordinal);
        for (int p = 0; p < parameters.Count; p++)
        {
            OnnxParameter parameter = parameters[p] ?? throw InvalidRequest(Invariant($"Parameter {p} is null."));
            if (string.IsNullOrEmpty(parameter.Name) || parameter.Data is null || parameter.Shape is null)
            {
                throw InvalidRequest(Invariant($"Parameter {p} ('{parameter.Name}') has no name, data or shape; give all three."));
            }

            if (!index.TryAdd(parameter.Name, parameter))
            {
                throw InvalidRequest($"Parameter '{parameter.Name}' is given twice; give each parameter once.");
            }
        }

        return index;
    }

    private static ArgumentException InvalidRequest(string message, string paramName = "request") => new(message, paramName);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Strip(string message) => message.Replace(" (Parameter 'layer')", string.Empty, StringComparison.Ordinal).Replace(" (Parameter 'layers')", string.Empty, StringComparison.Ordinal);

    /// <summary>Emits the nodes of one layer at a time and tracks which parameters were used.</summary>
    private sealed class Emitter(OnnxGraphBuilder builder, Dictionary<string, OnnxParameter> parameters, int opset)
    {
        private readonly List<(string OpType, string[] Inputs, string Output, OnnxAttribute[] Attributes)> _nodes = [];
        private bool _geluConstants;

        public HashSet<string> Used { get; } = new(StringComparer.Ordinal);

        public string Node(string opType, string[] inputs, params OnnxAttribute[] attributes)
        {
            string output = Invariant($"/{_nodes.Count}/{opType}_output_0");
            _nodes.Add((opType, inputs, output, attributes));
            return output;
        }

        public void Finish(string inputName, string outputName)
        {
            if (_nodes.Count == 0)
            {
                // Only dropout layers: the network is the identity.
                Node("Identity", [inputName]);
            }

            string last = _nodes[^1].Output;
            foreach ((string opType, string[] inputs, string output, OnnxAttribute[] attributes) in _nodes)
            {
                for (int k = 0; k < inputs.Length; k++)
                {
                    if (inputs[k] == last)
                    {
                        inputs[k] = outputName;
                    }
                }

                builder.AddNode(opType, inputs, [output == last ? outputName : output], attributes);
            }
        }

        public (string Value, long[] Shape) Layer(FlatLayer entry, string value, long[] shape)
        {
            int i = entry.Index;
            LayerSpec layer = entry.Layer;
            if (layer is LinearLayer linear)
            {
                return Linear(i, linear, value, shape);
            }

            long[] output;
            try
            {
                output = SequentialLayout.InferLayer(layer, i, shape);
            }
            catch (ArgumentException ex)
            {
                throw InvalidRequest(Strip(ex.Message));
            }

            string text = Invariant($"Layer {i} ({layer.GetType().Name.Replace("Layer", string.Empty, StringComparison.Ordinal)})");
            switch (layer)
            {
                case Conv2dLayer c:
                    return (Conv(i, text, value, [c.KernelSize, c.KernelSize], c.Stride, c.Padding, c.Dilation, c.Groups, c.Bias, c.OutChannels, c.InChannels), output);
                case Conv1dLayer c:
                    return (Conv(i, text, value, [c.KernelSize], c.Stride, c.Padding, c.Dilation, c.Groups, c.Bias, c.OutChannels, c.InChannels), output);
                case MaxPool2dLayer p:
                    return (Node("MaxPool", [value], Pool(p.KernelSize, p.Stride ?? p.KernelSize, p.Padding)), output);
                case AvgPool2dLayer p:
                    return (Node("AveragePool", [value], [.. Pool(p.KernelSize, p.Stride ?? p.KernelSize, p.Padding), OnnxAttribute.Int("count_include_pad", 1)]), output);
                case GlobalAvgPool2dLayer:
                    return (Node("GlobalAveragePool", [value]), output);
                case BatchNorm1dLayer b:
                    return (BatchNorm(i, text, value, b.NumFeatures, b.Epsilon), output);
                case BatchNorm2dLayer b:
                    return (BatchNorm(i, text, value, b.NumFeatures, b.Epsilon), output);
                case LayerNormLayer n:
                {
                    if (opset < 17)
                    {
                        throw InvalidRequest(Invariant($"{text} exports to LayerNormalization, which needs opset 17 or newer; the request asks for opset {opset}."));
                    }

                    string scale = Take(text, Invariant($"{i}.weight"), [n.NormalizedSize]);
                    string bias = Take(text, Invariant($"{i}.bias"), [n.NormalizedSize]);
                    return (Node("LayerNormalization", [value, scale, bias], OnnxAttribute.Int("axis", -1), OnnxAttribute.Float("epsilon", (float)n.Epsilon)), output);
                }

                case EmbeddingLayer e:
                {
                    string weight = Take(text, Invariant($"{i}.weight"), [e.NumEmbeddings, e.EmbeddingDim]);
                    string indices = Node("Cast", [value], OnnxAttribute.Int("to", (long)TensorElementType.Int64));
                    return (Node("Gather", [weight, indices], OnnxAttribute.Int("axis", 0)), output);
                }

                case ReluLayer:
                    return (Node("Relu", [value]), output);
                case LeakyReluLayer l:
                    return (Node("LeakyRelu", [value], OnnxAttribute.Float("alpha", (float)l.NegativeSlope)), output);
                case SigmoidLayer:
                    return (Node("Sigmoid", [value]), output);
                case TanhLayer:
                    return (Node("Tanh", [value]), output);
                case SiluLayer:
                    return (Node("Mul", [value, Node("Sigmoid", [value])]), output);
                case GeluLayer:
                    return (Gelu(value), output);
                case SoftmaxLayer sm:
                    return (Node("Softmax", [value], OnnxAttribute.Int("axis", sm.Dim)), output);
                case LogSoftmaxLayer lsm:
                    return (Node("LogSoftmax", [value], OnnxAttribute.Int("axis", lsm.Dim)), output);
                case FlattenLayer:
                    return (Node("Flatten", [value], OnnxAttribute.Int("axis", 1)), output);
                case DropoutLayer:
                    // The identity at inference: no node.
                    return (value, output);
                default:
                    throw InvalidRequest($"Layer {i} is a {layer.GetType().Name}, which the sequential exporter does not support.");
            }
        }

        private (string Value, long[] Shape) Linear(int i, LinearLayer linear, string value, long[] shape)
        {
            string text = Invariant($"Layer {i} (Linear {linear.InFeatures}→{linear.OutFeatures})");
            if (linear.InFeatures < 1 || linear.OutFeatures < 1)
            {
                throw InvalidRequest(Invariant($"{text} has a feature count below 1; InFeatures and OutFeatures must be 1 or greater."));
            }

            if (shape.Length != 2)
            {
                throw InvalidRequest(
                    Invariant($"{text} receives shape {TensorSpec.FormatShape(shape)} of rank {shape.Length}, but a Linear layer (ONNX Gemm) needs rank 2 [N, {linear.InFeatures}]. Add a FlattenLayer before it."));
            }

            if (shape[1] != linear.InFeatures)
            {
                throw InvalidRequest(
                    Invariant($"{text} expects {linear.InFeatures} input features but receives shape {TensorSpec.FormatShape(shape)} ({(shape[1] < 0 ? "a dynamic number of" : shape[1].ToString(CultureInfo.InvariantCulture))} features). Fix InFeatures or the previous layer."));
            }

            string weight = Take(text, Invariant($"{i}.weight"), [linear.OutFeatures, linear.InFeatures]);
            string[] inputs = linear.Bias ? [value, weight, Take(text, Invariant($"{i}.bias"), [linear.OutFeatures])] : [value, weight];
            string output = Node("Gemm", inputs, OnnxAttribute.Float("alpha", 1f), OnnxAttribute.Float("beta", 1f), OnnxAttribute.Int("transB", 1));
            return (output, [shape[0], linear.OutFeatures]);
        }

        private string Conv(int i, string text, string value, long[] kernel, int stride, int padding, int dilation, int groups, bool bias, int outChannels, int inChannels)
        {
            string weight = Take(text, Invariant($"{i}.weight"), [outChannels, inChannels / groups, .. kernel]);
            string[] inputs = bias ? [value, weight, Take(text, Invariant($"{i}.bias"), [outChannels])] : [value, weight];
            long[] strides = [.. kernel.Select(_ => (long)stride)];
            long[] dilations = [.. kernel.Select(_ => (long)dilation)];
            long[] pads = [.. kernel.Select(_ => (long)padding), .. kernel.Select(_ => (long)padding)];
            return Node("Conv", inputs, OnnxAttribute.Ints("kernel_shape", kernel), OnnxAttribute.Ints("strides", strides), OnnxAttribute.Ints("pads", pads), OnnxAttribute.Ints("dilations", dilations), OnnxAttribute.Int("group", groups));
        }

        private static OnnxAttribute[] Pool(int kernel, int stride, int padding) =>
            [OnnxAttribute.Ints("kernel_shape", kernel, kernel), OnnxAttribute.Ints("strides", stride, stride), OnnxAttribute.Ints("pads", padding, padding, padding, padding)];

        private string BatchNorm(int i, string text, string value, int features, double epsilon)
        {
            string scale = Take(text, Invariant($"{i}.weight"), [features]);
            string bias = Take(text, Invariant($"{i}.bias"), [features]);
            string mean = Take(text, Invariant($"{i}.running_mean"), [features]);
            string variance = Take(text, Invariant($"{i}.running_var"), [features]);
            return Node("BatchNormalization", [value, scale, bias, mean, variance], OnnxAttribute.Float("epsilon", (float)epsilon));
        }

        // 0.5·x·(1 + erf(x/√2)): the Div → Erf → Add → Mul → Mul form that ONNX Runtime's GeluFusion turns into one Gelu.
        private string Gelu(string value)
        {
            if (!_geluConstants)
            {
                builder.AddInitializer("/gelu/sqrt2", [1.4142135f]);
                builder.AddInitializer("/gelu/one", [1f]);
                builder.AddInitializer("/gelu/half", [0.5f]);
                _geluConstants = true;
            }

            string scaled = Node("Div", [value, "/gelu/sqrt2"]);
            string erf = Node("Erf", [scaled]);
            string plusOne = Node("Add", [erf, "/gelu/one"]);
            string times = Node("Mul", [value, plusOne]);
            return Node("Mul", [times, "/gelu/half"]);
        }

        private string Take(string layerText, string name, long[] expectedShape)
        {
            if (!parameters.TryGetValue(name, out OnnxParameter? parameter))
            {
                string available = parameters.Count == 0 ? "none" : string.Join(", ", parameters.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));
                throw InvalidRequest(
                    $"{layerText} needs parameter '{name}' of shape {TensorSpec.FormatShape(expectedShape)}, but it is missing (parameters given: {available}). Pass the trained '{name}'.");
            }

            if (!parameter.Shape.AsSpan().SequenceEqual(expectedShape))
            {
                throw InvalidRequest(
                    $"{layerText} parameter '{name}' has shape {TensorSpec.FormatShape(parameter.Shape)}, expected {TensorSpec.FormatShape(expectedShape)} ([out, in] for a weight, [out] for a bias, as PyTorch stores them).");
            }

            long count = 1;
            foreach (long d in expectedShape)
            {
                count = checked(count * d);
            }

            if (parameter.Data.Length != count)
            {
                throw InvalidRequest(
                    Invariant($"{layerText} parameter '{name}' has shape {TensorSpec.FormatShape(parameter.Shape)}, which holds {count} values, but {parameter.Data.Length} were given."));
            }

            if (Used.Add(name))
            {
                builder.AddInitializer(parameter.Name, parameter.Data, parameter.Shape);
            }

            return name;
        }
    }
}
