using System.Globalization;
using ModelKit.Onnx.Protobuf;
using ModelKit.Training;
using Google.Protobuf;

namespace ModelKit.Onnx;

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
/// <param name="Parameters">A <c>{index}.weight</c> and <c>{index}.bias</c> for every <see cref="LinearLayer"/>, and nothing else.</param>
/// <param name="Input">
/// The graph input: its name, element type (must be <see cref="TensorElementType.Float"/>) and shape, batch dimension
/// first (<c>-1</c> for a dynamic batch, which is usual), every other dimension fixed, for example <c>[-1, 1, 28, 28]</c>.
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
/// Exports a trained sequential network (<see cref="LinearLayer"/>, <see cref="ReluLayer"/>, <see cref="FlattenLayer"/>,
/// <see cref="DropoutLayer"/>) as an ONNX model for inference. Thread-safe (stateless).
/// </summary>
/// <remarks>
/// <para>Operator mapping (onnx/docs/Operators.md):</para>
/// <list type="bullet">
/// <item><see cref="LinearLayer"/> → <c>Gemm(X, W, B)</c> with <c>transB=1</c>, <c>alpha=beta=1</c>: <c>Y = X·Wᵀ + B</c>, where
/// <c>X</c> is <c>[N, in]</c>, <c>W</c> is the PyTorch weight <c>[out, in]</c> and <c>B</c> the bias <c>[out]</c>
/// broadcast over rows (Gemm-13, unidirectional broadcasting of C). The initializers keep the PyTorch names
/// (<c>0.weight</c>, <c>0.bias</c>).</item>
/// <item><see cref="ReluLayer"/> → <c>Relu</c> (<c>max(0, x)</c> element-wise).</item>
/// <item><see cref="FlattenLayer"/> → <c>Flatten</c> with <c>axis=1</c>: <c>[N, d1, …, dk]</c> to <c>[N, d1·…·dk]</c> (Flatten-13).</item>
/// <item><see cref="DropoutLayer"/> → no node: dropout is the identity at inference.</item>
/// </list>
/// <para>The graph has one float32 input (the request's) and one float32 output <c>[N, out]</c> of the last layer, whose
/// batch dimension is the input's (symbolic <c>N</c> when the input's is <c>-1</c>).</para>
/// </remarks>
public static class SequentialModelExporter
{
    /// <summary>The lowest opset the exporter writes (Gemm-13, Flatten-13 and Relu-6/14 all exist from here on).</summary>
    public const int MinOpset = 13;

    /// <summary>The highest opset the exporter writes.</summary>
    public const int MaxOpset = 23;

    /// <summary>Exports the network as a <c>ModelProto</c>.</summary>
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
    public static ModelProto Export(SequentialExportRequest request)
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
            if (input.Shape[d] < 1)
            {
                throw InvalidRequest(
                    $"Input '{input.Name}' has shape {TensorSpec.FormatShape(input.Shape)} with dimension {d} = {input.Shape[d]}; every dimension after the batch must be fixed and 1 or greater so that layer sizes can be checked.");
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

        // Plan the nodes first: the last node's output must carry the graph output's name.
        var plan = new List<(string OpType, string[] Inputs, OnnxAttribute[] Attributes)>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        List<long> shape = [.. inputShape];
        const string Previous = ""; // replaced by the previous node's output below
        for (int i = 0; i < request.Layers.Count; i++)
        {
            LayerSpec layer = request.Layers[i] ?? throw InvalidRequest(Invariant($"Layer {i} is null; give a layer spec for every position."));
            switch (layer)
            {
                case LinearLayer linear:
                {
                    if (linear.InFeatures < 1 || linear.OutFeatures < 1)
                    {
                        throw InvalidRequest(
                            Invariant($"Layer {i} (Linear {linear.InFeatures}→{linear.OutFeatures}) has a feature count below 1; InFeatures and OutFeatures must be 1 or greater."));
                    }

                    if (shape.Count != 2)
                    {
                        throw InvalidRequest(
                            Invariant($"Layer {i} (Linear {linear.InFeatures}→{linear.OutFeatures}) receives shape {TensorSpec.FormatShape(shape)} of rank {shape.Count}, but a Linear layer (ONNX Gemm) needs rank 2 [N, {linear.InFeatures}]. Add a FlattenLayer before it."));
                    }

                    if (shape[1] != linear.InFeatures)
                    {
                        throw InvalidRequest(
                            Invariant($"Layer {i} (Linear {linear.InFeatures}→{linear.OutFeatures}) expects {linear.InFeatures} input features but receives shape {TensorSpec.FormatShape(shape)} ({shape[1]} features). Fix InFeatures or the previous layer."));
                    }

                    string weightName = Invariant($"{i}.weight");
                    string biasName = Invariant($"{i}.bias");
                    OnnxParameter weight = Require(parameters, weightName, i, linear, [linear.OutFeatures, linear.InFeatures]);
                    OnnxParameter bias = Require(parameters, biasName, i, linear, [linear.OutFeatures]);
                    builder.AddInitializer(weight.Name, weight.Data, weight.Shape);
                    builder.AddInitializer(bias.Name, bias.Data, bias.Shape);
                    used.Add(weightName);
                    used.Add(biasName);
                    plan.Add(("Gemm", [Previous, weightName, biasName], [OnnxAttribute.Float("alpha", 1f), OnnxAttribute.Float("beta", 1f), OnnxAttribute.Int("transB", 1)]));
                    shape = [shape[0], linear.OutFeatures];
                    break;
                }

                case ReluLayer:
                    plan.Add(("Relu", [Previous], []));
                    break;

                case FlattenLayer:
                {
                    long features = 1;
                    for (int d = 1; d < shape.Count; d++)
                    {
                        features = checked(features * shape[d]);
                    }

                    plan.Add(("Flatten", [Previous], [OnnxAttribute.Int("axis", 1)]));
                    shape = [shape[0], features];
                    break;
                }

                case DropoutLayer:
                    // The identity at inference: no node.
                    break;

                default:
                    throw InvalidRequest(
                        $"Layer {i} is a {layer.GetType().Name}, which the sequential exporter does not support; supported: LinearLayer, ReluLayer, FlattenLayer, DropoutLayer.");
            }
        }

        foreach (string name in parameters.Keys)
        {
            if (!used.Contains(name))
            {
                throw InvalidRequest(
                    $"Parameter '{name}' belongs to no Linear layer of the network ({request.Layers.Count} layers); parameters must be named '{{index}}.weight' and '{{index}}.bias' of Linear layers. Remove it or fix the layer list.");
            }
        }

        if (plan.Count == 0)
        {
            // Only dropout layers: the network is the identity.
            plan.Add(("Identity", [input.Name], []));
        }

        string value = input.Name;
        for (int n = 0; n < plan.Count; n++)
        {
            (string opType, string[] inputs, OnnxAttribute[] attributes) = plan[n];
            inputs[0] = value;
            value = n == plan.Count - 1 ? request.OutputName : Invariant($"/{n}/{opType}_output_0");
            builder.AddNode(opType, inputs, [value], attributes);
        }

        builder.AddOutput(request.OutputName, TensorElementType.Float, [.. shape]);
        foreach (KeyValuePair<string, string> entry in request.Metadata)
        {
            builder.AddMetadata(entry.Key, entry.Value);
        }

        return builder.Build();
    }

    /// <summary>Exports the network and serializes it (the bytes of a <c>.onnx</c> file).</summary>
    /// <param name="request">The layers, parameters and input.</param>
    /// <returns>The serialized model; a new array the caller owns.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> or one of its lists is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The request is inconsistent; see <see cref="Export(SequentialExportRequest)"/>.</exception>
    public static byte[] ExportToBytes(SequentialExportRequest request) => Export(request).ToByteArray();

    /// <summary>Exports the network and writes the serialized model to <paramref name="destination"/>.</summary>
    /// <param name="request">The layers, parameters and input.</param>
    /// <param name="destination">A writable stream; written from its current position, flushed, and not disposed (the caller keeps ownership).</param>
    /// <exception cref="ArgumentNullException">An argument or one of the request's lists is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The request is inconsistent (see <see cref="Export(SequentialExportRequest)"/>), or <paramref name="destination"/> is not writable.</exception>
    /// <exception cref="IOException">Writing to the stream failed.</exception>
    public static void Export(SequentialExportRequest request, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!destination.CanWrite)
        {
            throw InvalidRequest("The destination stream is not writable; pass a stream opened for writing.", nameof(destination));
        }

        ModelProto model = Export(request);
        model.WriteTo(destination);
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

    private static OnnxParameter Require(Dictionary<string, OnnxParameter> parameters, string name, int index, LinearLayer layer, long[] expectedShape)
    {
        string layerText = Invariant($"Layer {index} (Linear {layer.InFeatures}→{layer.OutFeatures})");
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
            count *= d;
        }

        if (parameter.Data.Length != count)
        {
            throw InvalidRequest(
                Invariant($"{layerText} parameter '{name}' has shape {TensorSpec.FormatShape(parameter.Shape)}, which holds {count} values, but {parameter.Data.Length} were given."));
        }

        return parameter;
    }

    private static ArgumentException InvalidRequest(string message, string paramName = "request") => new(message, paramName);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
