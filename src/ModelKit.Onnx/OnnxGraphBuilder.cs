using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Google.Protobuf;
using ModelKit.Onnx.Internal;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving;

namespace ModelKit.Onnx;

/// <summary>
/// Builds an ONNX <c>ModelProto</c> (onnx/onnx.proto; semantics in onnx/docs/IR.md) one graph input, initializer,
/// node and output at a time, and validates the graph when it is built. Nodes bind to the default (<c>ai.onnx</c>)
/// operator set of the opset given to the constructor; see onnx/docs/Operators.md for the operators.
/// </summary>
/// <remarks>
/// <para>Values are named: graph inputs, initializers and node outputs share one namespace, and a node may only
/// consume a value that a graph input, an initializer or an earlier node defines (nodes are kept in the order
/// they were added, which must be a topological order). An empty input name marks an absent optional input.</para>
/// <para>Not thread-safe: use one builder from one thread. Every <see cref="Build"/> returns a new, independent
/// <c>ModelProto</c> that the caller owns.</para>
/// </remarks>
/// <example>
/// <code>
/// byte[] onnx = new OnnxGraphBuilder()
///     .AddInput("x", TensorElementType.Float, -1, 4)
///     .AddInitializer("w", weights, 3, 4)
///     .AddInitializer("b", bias, 3)
///     .AddNode("Gemm", ["x", "w", "b"], ["y"], OnnxAttribute.Int("transB", 1))
///     .AddOutput("y", TensorElementType.Float, -1, 3)
///     .ToBytes();
/// </code>
/// </example>
public sealed class OnnxGraphBuilder
{
    private readonly string _graphName;
    private readonly int _opset;
    private readonly List<ValueInfoProto> _inputs = [];
    private readonly List<ValueInfoProto> _outputs = [];
    private readonly List<TensorProto> _initializers = [];
    private readonly List<NodeProto> _nodes = [];
    private readonly List<StringStringEntryProto> _metadata = [];
    private string _producerName = "ModelKit";
    private string _producerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    /// <summary>Initializes a builder for one graph.</summary>
    /// <param name="graphName">The graph name (<c>GraphProto.name</c>); not empty.</param>
    /// <param name="opset">
    /// The default-domain opset the nodes bind to, from 7 to 23. The model's <c>ir_version</c> is the one the ONNX
    /// release that introduced this opset writes (onnx/docs/Versioning.md): for example 8 for opsets 15 to 18,
    /// 7 for opsets 12 to 14, 10 for opsets 21 and 22.
    /// </param>
    /// <exception cref="ArgumentException"><paramref name="graphName"/> is null or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="opset"/> is outside 7 to 23.</exception>
    public OnnxGraphBuilder(string graphName = "main", int opset = 17)
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        IrVersion = OnnxVersioning.IrVersionForOpset(opset);
        _graphName = graphName;
        _opset = opset;
    }

    /// <summary>Gets the default-domain opset the model imports.</summary>
    public int Opset => _opset;

    /// <summary>Gets the IR version written to <c>ModelProto.ir_version</c>, derived from <see cref="Opset"/>.</summary>
    public long IrVersion { get; }

    /// <summary>
    /// Adds a graph input (<c>GraphProto.input</c>) of tensor type. A dimension of <c>-1</c> becomes a symbolic
    /// dimension: <c>N</c> for dimension 0 (the batch), <c>d{i}</c> for dimension <c>i</c> otherwise.
    /// </summary>
    /// <param name="name">The input name; not empty.</param>
    /// <param name="elementType">The element type; not <see cref="TensorElementType.Undefined"/>.</param>
    /// <param name="shape">The dimensions, outermost first; each 0 or greater, or -1 for dynamic. Empty for a scalar.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The name is empty, the element type is undefined, or a dimension is less than -1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is <see langword="null"/>.</exception>
    public OnnxGraphBuilder AddInput(string name, TensorElementType elementType, params long[] shape)
    {
        _inputs.Add(CreateValueInfo(name, elementType, shape));
        return this;
    }

    /// <summary>
    /// Adds a graph output (<c>GraphProto.output</c>) of tensor type; a node must produce it. <c>-1</c> dimensions
    /// become symbolic as in <see cref="AddInput"/>.
    /// </summary>
    /// <param name="name">The name of the value to expose; not empty.</param>
    /// <param name="elementType">The element type; not <see cref="TensorElementType.Undefined"/>.</param>
    /// <param name="shape">The dimensions, outermost first; each 0 or greater, or -1 for dynamic. Empty for a scalar.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The name is empty, the element type is undefined, or a dimension is less than -1.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is <see langword="null"/>.</exception>
    public OnnxGraphBuilder AddOutput(string name, TensorElementType elementType, params long[] shape)
    {
        _outputs.Add(CreateValueInfo(name, elementType, shape));
        return this;
    }

    /// <summary>
    /// Adds a float32 initializer (a constant tensor, <c>GraphProto.initializer</c>) stored in <c>raw_data</c> as
    /// little-endian IEEE 754 values in row-major order. It is not listed as a graph input.
    /// </summary>
    /// <param name="name">The initializer name; not empty.</param>
    /// <param name="data">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions, each 0 or greater; their product must equal <c>data.Length</c>. Empty for a scalar.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The name is empty, a dimension is negative, or the element count does not match the shape.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is <see langword="null"/>.</exception>
    public OnnxGraphBuilder AddInitializer(string name, ReadOnlySpan<float> data, params long[] shape) =>
        AddRawInitializer(name, TensorElementType.Float, data, shape);

    /// <summary>
    /// Adds an int64 initializer (a constant tensor, for example a shape for <c>Reshape</c>) stored in <c>raw_data</c>
    /// as little-endian values in row-major order. It is not listed as a graph input.
    /// </summary>
    /// <param name="name">The initializer name; not empty.</param>
    /// <param name="data">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions, each 0 or greater; their product must equal <c>data.Length</c>. Empty for a scalar.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException">The name is empty, a dimension is negative, or the element count does not match the shape.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="shape"/> is <see langword="null"/>.</exception>
    public OnnxGraphBuilder AddInitializer(string name, ReadOnlySpan<long> data, params long[] shape) =>
        AddRawInitializer(name, TensorElementType.Int64, data, shape);

    // ONNX raw_data is little-endian, row-major (onnx.proto, TensorProto.raw_data).
    private OnnxGraphBuilder AddRawInitializer<T>(string name, TensorElementType elementType, ReadOnlySpan<T> data, long[] shape)
        where T : unmanaged
    {
        _initializers.Add(CreateRawTensor(name, elementType, data, shape));
        return this;
    }

    /// <summary>Creates a tensor with its data in <c>raw_data</c> (little-endian, row-major); the checks and messages of <see cref="AddInitializer(string, ReadOnlySpan{float}, long[])"/>.</summary>
    internal static TensorProto CreateRawTensor<T>(string name, TensorElementType elementType, ReadOnlySpan<T> data, long[] shape)
        where T : unmanaged
    {
        TensorProto tensor = CreateTensor(name, elementType, data.Length, shape);
        byte[] raw = MemoryMarshal.AsBytes(data).ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            int size = Unsafe.SizeOf<T>();
            for (int i = 0; i < raw.Length; i += size)
            {
                raw.AsSpan(i, size).Reverse();
            }
        }

        tensor.RawData = UnsafeByteOperations.UnsafeWrap(raw);
        return tensor;
    }

    /// <summary>
    /// Adds an initializer given as a complete <c>TensorProto</c> (any element type, for example the int8 weights and
    /// uint8 zero points of a quantized graph). The tensor is copied; its data must be stored inside it.
    /// </summary>
    /// <param name="tensor">The tensor; its <c>name</c> must be set.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tensor"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The tensor has no name, or its data is stored externally.</exception>
    internal OnnxGraphBuilder AddInitializer(TensorProto tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (string.IsNullOrEmpty(tensor.Name))
        {
            throw new ArgumentException("The initializer tensor has no name; set TensorProto.Name to the value name nodes consume.", nameof(tensor));
        }

        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new ArgumentException($"Initializer '{tensor.Name}' stores its data externally (data_location EXTERNAL); ModelKit writes self-contained models only. Load the data into raw_data first.", nameof(tensor));
        }

        _initializers.Add(tensor.Clone());
        return this;
    }

    /// <summary>
    /// Adds a node of the default ONNX domain. Its name is <c>{opType}_{index}</c>, where index counts the nodes added
    /// before it. Nodes must be added in topological order.
    /// </summary>
    /// <param name="opType">The operator, for example <c>Gemm</c> (onnx/docs/Operators.md); not empty.</param>
    /// <param name="inputs">The names of the values the node consumes, in the operator's input order; <c>""</c> marks an absent optional input.</param>
    /// <param name="outputs">The names of the values the node produces; at least one, none empty.</param>
    /// <param name="attributes">The node's attributes; names must be distinct.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="opType"/> is empty, there is no output, an output name is empty, or two attributes share a name.</exception>
    /// <exception cref="ArgumentNullException">An argument or a list element is <see langword="null"/>.</exception>
    public OnnxGraphBuilder AddNode(string opType, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(attributes);
        string nodeName = string.Create(CultureInfo.InvariantCulture, $"{opType}_{_nodes.Count}");
        if (outputs.Count == 0)
        {
            throw new ArgumentException($"Node '{nodeName}' has no outputs; every node must produce at least one named value.", nameof(outputs));
        }

        var node = new NodeProto { Name = nodeName, OpType = opType, Domain = string.Empty };
        foreach (string input in inputs)
        {
            ArgumentNullException.ThrowIfNull(input, nameof(inputs));
            node.Input.Add(input);
        }

        foreach (string output in outputs)
        {
            ArgumentNullException.ThrowIfNull(output, nameof(outputs));
            if (output.Length == 0)
            {
                throw new ArgumentException($"Node '{nodeName}' has an empty output name; name every output the node produces.", nameof(outputs));
            }

            node.Output.Add(output);
        }

        var attributeNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (OnnxAttribute attribute in attributes)
        {
            ArgumentNullException.ThrowIfNull(attribute, nameof(attributes));
            if (!attributeNames.Add(attribute.Name))
            {
                throw new ArgumentException($"Node '{nodeName}' has attribute '{attribute.Name}' twice; give each attribute once.", nameof(attributes));
            }

            node.Attribute.Add(attribute.ToProto());
        }

        _nodes.Add(node);
        return this;
    }

    /// <summary>Sets <c>ModelProto.producer_name</c> and <c>producer_version</c>.</summary>
    /// <param name="name">The producing tool, for example <c>ModelKit</c>. The default is <c>ModelKit</c>.</param>
    /// <param name="version">The tool's version. The default is this assembly's version.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    public OnnxGraphBuilder SetProducer(string name, string version)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(version);
        _producerName = name;
        _producerVersion = version;
        return this;
    }

    /// <summary>Adds an entry to <c>ModelProto.metadata_props</c>.</summary>
    /// <param name="key">The key; not empty and not added before (ONNX requires distinct keys).</param>
    /// <param name="value">The value.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="key"/> is empty or was added before.</exception>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    public OnnxGraphBuilder AddMetadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        foreach (StringStringEntryProto entry in _metadata)
        {
            if (entry.Key == key)
            {
                throw new ArgumentException($"Metadata key '{key}' was added before (value '{entry.Value}'); ONNX metadata keys must be distinct.", nameof(key));
            }
        }

        _metadata.Add(new StringStringEntryProto { Key = key, Value = value });
        return this;
    }

    /// <summary>
    /// Validates the graph and returns a new <c>ModelProto</c>: <c>ir_version</c> from the opset, one default-domain
    /// <c>opset_import</c>, the producer, the metadata, and the graph.
    /// </summary>
    /// <returns>A new model; the caller owns it, and later changes to this builder do not affect it.</returns>
    /// <exception cref="InvalidOperationException">
    /// The graph is invalid; the message names the offending value or node: there is no input or no output, a value
    /// name is defined twice (graph input, initializer or node output), a graph output is listed twice, a node consumes
    /// a value that no graph input, initializer or earlier node defines, or a graph output is produced by no node.
    /// </exception>
    internal ModelProto Build()
    {
        Validate();
        var graph = new GraphProto { Name = _graphName };
        foreach (NodeProto node in _nodes)
        {
            graph.Node.Add(node.Clone());
        }

        foreach (TensorProto tensor in _initializers)
        {
            graph.Initializer.Add(tensor.Clone());
        }

        foreach (ValueInfoProto input in _inputs)
        {
            graph.Input.Add(input.Clone());
        }

        foreach (ValueInfoProto output in _outputs)
        {
            graph.Output.Add(output.Clone());
        }

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = _producerName,
            ProducerVersion = _producerVersion,
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = _opset });
        foreach (StringStringEntryProto entry in _metadata)
        {
            model.MetadataProps.Add(entry.Clone());
        }

        return model;
    }

    /// <summary>
    /// Validates the graph and returns the serialized model (a <c>ModelProto</c>: <c>ir_version</c> from the opset, one
    /// default-domain <c>opset_import</c>, the producer, the metadata, and the graph), ready to write as a <c>.onnx</c>
    /// file or to pass to <see cref="OnnxModel.Load(ReadOnlySpan{byte})"/>.
    /// </summary>
    /// <returns>The protobuf bytes; a new array the caller owns.</returns>
    /// <exception cref="InvalidOperationException">
    /// The graph is invalid; the message names the offending value or node: there is no input or no output, a value
    /// name is defined twice (graph input, initializer or node output), a graph output is listed twice, a node consumes
    /// a value that no graph input, initializer or earlier node defines, or a graph output is produced by no node.
    /// </exception>
    public byte[] ToBytes() => Build().ToByteArray();

    private void Validate()
    {
        if (_inputs.Count == 0 && _initializers.Count == 0 && _nodes.Count == 0)
        {
            throw new InvalidOperationException($"Graph '{_graphName}' is empty; add inputs, nodes and outputs before building it.");
        }

        if (_outputs.Count == 0)
        {
            throw new InvalidOperationException($"Graph '{_graphName}' has no outputs; call AddOutput for each value the model returns.");
        }

        // Where each value name is defined, to name both places in a duplicate error.
        var defined = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (ValueInfoProto input in _inputs)
        {
            Define(defined, input.Name, "graph input");
        }

        foreach (TensorProto tensor in _initializers)
        {
            Define(defined, tensor.Name, "initializer");
        }

        foreach (NodeProto node in _nodes)
        {
            foreach (string input in node.Input)
            {
                if (input.Length != 0 && !defined.ContainsKey(input))
                {
                    throw new InvalidOperationException(
                        $"Node '{node.Name}' consumes '{input}', which no graph input, initializer or earlier node defines. " +
                        "Add the input or initializer, or add the node that produces it before this one (nodes must be in topological order).");
                }
            }

            foreach (string output in node.Output)
            {
                Define(defined, output, $"output of node '{node.Name}'");
            }
        }

        var outputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (ValueInfoProto output in _outputs)
        {
            if (!outputs.Add(output.Name))
            {
                throw new InvalidOperationException($"Graph output '{output.Name}' is listed twice; add each graph output once.");
            }

            if (!defined.ContainsKey(output.Name))
            {
                throw new InvalidOperationException(
                    $"Graph output '{output.Name}' is not produced by any node, graph input or initializer. Add the node that produces it, or fix the output name.");
            }
        }
    }

    private static void Define(Dictionary<string, string> defined, string name, string where)
    {
        if (!defined.TryAdd(name, where))
        {
            throw new InvalidOperationException(
                $"Value '{name}' is defined twice: as {defined[name]} and as {where}. Value names must be unique across graph inputs, initializers and node outputs; rename one.");
        }
    }

    private static ValueInfoProto CreateValueInfo(string name, TensorElementType elementType, long[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (elementType == TensorElementType.Undefined || !Enum.IsDefined(elementType))
        {
            throw new ArgumentException($"Value '{name}' has element type {elementType}; give a defined tensor element type such as Float or Int64.", nameof(elementType));
        }

        var tensorShape = new TensorShapeProto();
        for (int i = 0; i < shape.Length; i++)
        {
            long d = shape[i];
            if (d < -1)
            {
                throw new ArgumentException(
                    $"Value '{name}' has shape {TensorSpec.FormatShape(shape)} with dimension {i} = {d}; each dimension must be 0 or greater, or -1 for a dynamic dimension.",
                    nameof(shape));
            }

            tensorShape.Dim.Add(d == -1
                ? new TensorShapeProto.Types.Dimension { DimParam = i == 0 ? "N" : string.Create(CultureInfo.InvariantCulture, $"d{i}") }
                : new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)elementType, Shape = tensorShape } },
        };
    }

    private static TensorProto CreateTensor(string name, TensorElementType elementType, int elementCount, long[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        foreach (long d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException(
                    $"Initializer '{name}' has shape {TensorSpec.FormatShape(shape)} with a negative dimension; initializer dimensions must be 0 or greater.",
                    nameof(shape));
            }
        }

        long count;
        try
        {
            count = Tensor.GetElementCount(shape);
        }
        catch (ArgumentException)
        {
            throw new ArgumentException(
                $"Initializer '{name}' has shape {TensorSpec.FormatShape(shape)}, whose element count overflows 64 bits; {elementCount} elements were given. Fix the shape.",
                nameof(shape));
        }

        if (count != elementCount)
        {
            throw new ArgumentException(
                $"Initializer '{name}' has shape {TensorSpec.FormatShape(shape)}, which holds {count} elements, but {elementCount} were given. Pass exactly {count} values or fix the shape.",
                nameof(shape));
        }

        var tensor = new TensorProto { Name = name, DataType = (int)elementType };
        tensor.Dims.Add(shape);
        return tensor;
    }
}
