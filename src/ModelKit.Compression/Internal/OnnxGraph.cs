using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>
/// A mutable view of one model's main graph for the rewrites: initializers by name, producers and consumers of each value,
/// element types inferred for each value, the default-domain opset, and fresh unique names. Not thread-safe; one rewrite at a time.
/// </summary>
internal sealed class OnnxGraph
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private Dictionary<string, TensorProto> _initializers = null!;
    private Dictionary<string, int> _types = null!;

    public OnnxGraph(ModelProto model)
    {
        Model = model;
        Graph = model.Graph;
        Opset = DefaultOpset(model);
        foreach (NodeProto node in Graph.Node)
        {
            if (string.IsNullOrEmpty(node.Name))
            {
                continue;
            }

            _names.Add(node.Name);
        }

        // Unnamed nodes get a name so reports and keep-lists can refer to them.
        for (int i = 0; i < Graph.Node.Count; i++)
        {
            NodeProto node = Graph.Node[i];
            if (string.IsNullOrEmpty(node.Name))
            {
                node.Name = UniqueName(string.Create(CultureInfo.InvariantCulture, $"{node.OpType}_{i}"));
            }
        }

        Refresh();
    }

    public ModelProto Model { get; }

    public GraphProto Graph { get; }

    public int Opset { get; private set; }

    /// <summary>Gets the names of values that nodes inside subgraphs (If, Loop, Scan bodies) read from the main graph.</summary>
    public HashSet<string> SubgraphReferences { get; } = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, TensorProto> Initializers => _initializers;

    public HashSet<string> GraphOutputs { get; } = new(StringComparer.Ordinal);

    public HashSet<string> GraphInputs { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Moves the tensors of default-domain <c>Constant</c> nodes of the main graph into initializers under the same value names
    /// (what exporters such as Paddle2ONNX emit for weights); the meaning of the graph does not change. Returns how many moved.
    /// </summary>
    public int HoistConstants()
    {
        int moved = 0;
        for (int i = Graph.Node.Count - 1; i >= 0; i--)
        {
            NodeProto node = Graph.Node[i];
            if (node.OpType != "Constant" || (node.Domain.Length != 0 && node.Domain != "ai.onnx") || node.Output.Count != 1
                || node.Attribute.Count != 1 || node.Attribute[0].Name != "value" || node.Attribute[0].T is not { } t
                || t.DataLocation == TensorProto.Types.DataLocation.External)
            {
                continue;
            }

            TensorProto tensor = t.Clone();
            tensor.Name = node.Output[0];
            Graph.Node.RemoveAt(i);
            Graph.Initializer.Add(tensor);
            if (Model.IrVersion < 4)
            {
                Graph.Input.Add(new ValueInfoProto
                {
                    Name = tensor.Name,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = tensor.DataType, Shape = ShapeOf(tensor) } },
                });
            }

            moved++;
        }

        if (moved > 0)
        {
            Refresh();
        }

        return moved;
    }

    /// <summary>Rebuilds the indexes after nodes or initializers changed.</summary>
    public void Refresh()
    {
        _initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (TensorProto t in Graph.Initializer)
        {
            _initializers[t.Name] = t;
            _names.Add(t.Name);
        }

        GraphOutputs.Clear();
        foreach (ValueInfoProto o in Graph.Output)
        {
            GraphOutputs.Add(o.Name);
            _names.Add(o.Name);
        }

        GraphInputs.Clear();
        foreach (ValueInfoProto i in Graph.Input)
        {
            if (!_initializers.ContainsKey(i.Name))
            {
                GraphInputs.Add(i.Name);
            }

            _names.Add(i.Name);
        }

        SubgraphReferences.Clear();
        foreach (NodeProto node in Graph.Node)
        {
            _names.Add(node.Name);
            foreach (string o in node.Output)
            {
                _names.Add(o);
            }

            foreach (AttributeProto a in node.Attribute)
            {
                if (a.G is not null)
                {
                    CollectReferences(a.G);
                }

                foreach (GraphProto g in a.Graphs)
                {
                    CollectReferences(g);
                }
            }
        }

        _types = InferTypes();
    }

    /// <summary>Returns the nodes that read <paramref name="value"/>, in graph order.</summary>
    public List<NodeProto> ConsumersOf(string value)
    {
        var result = new List<NodeProto>();
        foreach (NodeProto node in Graph.Node)
        {
            foreach (string input in node.Input)
            {
                if (input == value)
                {
                    result.Add(node);
                    break;
                }
            }
        }

        return result;
    }

    public Dictionary<string, List<NodeProto>> ConsumerMap()
    {
        var map = new Dictionary<string, List<NodeProto>>(StringComparer.Ordinal);
        foreach (NodeProto node in Graph.Node)
        {
            foreach (string input in node.Input.Distinct(StringComparer.Ordinal))
            {
                if (input.Length == 0)
                {
                    continue;
                }

                if (!map.TryGetValue(input, out List<NodeProto>? list))
                {
                    map[input] = list = [];
                }

                list.Add(node);
            }
        }

        return map;
    }

    public Dictionary<string, NodeProto> ProducerMap()
    {
        var map = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (NodeProto node in Graph.Node)
        {
            foreach (string output in node.Output)
            {
                if (output.Length != 0)
                {
                    map[output] = node;
                }
            }
        }

        return map;
    }

    /// <summary>Gets the inferred ONNX element type of a value (<c>TensorProto.DataType</c>), or 0 when unknown.</summary>
    public int TypeOf(string value) => _types.TryGetValue(value, out int t) ? t : 0;

    public bool IsFloat(string value) => TypeOf(value) == (int)TensorProto.Types.DataType.Float;

    public bool TryGetFloatInitializer(string name, out TensorProto tensor)
    {
        if (_initializers.TryGetValue(name, out TensorProto? t) && t.DataType == (int)TensorProto.Types.DataType.Float)
        {
            tensor = t;
            return true;
        }

        tensor = null!;
        return false;
    }

    public string UniqueName(string baseName)
    {
        string name = baseName;
        for (int i = 1; !_names.Add(name); i++)
        {
            name = string.Create(CultureInfo.InvariantCulture, $"{baseName}_{i}");
        }

        return name;
    }

    public void AddInitializer(TensorProto tensor)
    {
        _names.Add(tensor.Name);
        Graph.Initializer.Add(tensor);
        _initializers[tensor.Name] = tensor;
        _types[tensor.Name] = tensor.DataType;

        // IR 3 requires every initializer to be listed as a graph input as well.
        if (Model.IrVersion < 4)
        {
            Graph.Input.Add(new ValueInfoProto
            {
                Name = tensor.Name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = tensor.DataType, Shape = ShapeOf(tensor) } },
            });
        }
    }

    public void SetType(string value, int elementType) => _types[value] = elementType;

    /// <summary>
    /// Removes initializers (and their graph-input entries) that no node reads, that are not graph outputs and not read by
    /// a subgraph; then drops value_info entries of values that no longer exist or whose type changed, so stale shapes
    /// do not reach the engine.
    /// </summary>
    public void RemoveUnused()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (NodeProto node in Graph.Node)
        {
            foreach (string input in node.Input)
            {
                used.Add(input);
            }
        }

        used.UnionWith(GraphOutputs);
        used.UnionWith(SubgraphReferences);
        var removed = new HashSet<string>(StringComparer.Ordinal);
        for (int i = Graph.Initializer.Count - 1; i >= 0; i--)
        {
            if (!used.Contains(Graph.Initializer[i].Name))
            {
                removed.Add(Graph.Initializer[i].Name);
                Graph.Initializer.RemoveAt(i);
            }
        }

        for (int i = Graph.Input.Count - 1; i >= 0; i--)
        {
            if (removed.Contains(Graph.Input[i].Name))
            {
                Graph.Input.RemoveAt(i);
            }
        }

        Refresh();
    }

    /// <summary>Drops every value_info entry of the main graph: after a rewrite they may carry stale types or shapes, and the engine infers them again.</summary>
    public void ClearValueInfo() => Graph.ValueInfo.Clear();

    /// <summary>Sets the default-domain opset.</summary>
    public void SetOpset(int opset)
    {
        foreach (OperatorSetIdProto o in Model.OpsetImport)
        {
            if (o.Domain.Length == 0 || o.Domain == "ai.onnx")
            {
                o.Version = opset;
            }
        }

        Opset = opset;
    }

    public NodeProto NewNode(string opType, string baseName, IEnumerable<string> inputs, IEnumerable<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = UniqueName(baseName), Domain = string.Empty };
        node.Input.Add(inputs);
        node.Output.Add(outputs);
        node.Attribute.Add(attributes);
        return node;
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto? FindAttribute(NodeProto node, string name)
    {
        foreach (AttributeProto a in node.Attribute)
        {
            if (a.Name == name)
            {
                return a;
            }
        }

        return null;
    }

    public static long IntAttributeOr(NodeProto node, string name, long fallback) => FindAttribute(node, name) is { } a ? a.I : fallback;

    public static float FloatAttributeOr(NodeProto node, string name, float fallback) => FindAttribute(node, name) is { } a ? a.F : fallback;

    public static bool HasSubgraph(NodeProto node)
    {
        foreach (AttributeProto a in node.Attribute)
        {
            if (a.G is not null || a.Graphs.Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    // ---- tensors ----

    public static long[] Dims(TensorProto t) => [.. t.Dims];

    public static long ElementCount(TensorProto t)
    {
        long n = 1;
        foreach (long d in t.Dims)
        {
            n = checked(n * d);
        }

        return n;
    }

    /// <summary>Reads a float32 tensor (raw_data or float_data) into a new array.</summary>
    /// <exception cref="InvalidModelException">The stored element count differs from the shape's.</exception>
    public static float[] ReadFloats(TensorProto t)
    {
        long count = ElementCount(t);
        float[] values;
        if (t.HasRawData)
        {
            ReadOnlySpan<byte> raw = t.RawData.Span;
            if (raw.Length != count * 4)
            {
                throw new InvalidModelException(string.Create(CultureInfo.InvariantCulture,
                    $"Initializer '{t.Name}' has shape {TensorSpec.FormatShape(Dims(t))} ({count} float32 values) but {raw.Length} bytes of raw_data; the model is corrupt. Export it again."));
            }

            values = new float[count];
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4, 4));
            }
        }
        else
        {
            if (t.FloatData.Count != count)
            {
                throw new InvalidModelException(string.Create(CultureInfo.InvariantCulture,
                    $"Initializer '{t.Name}' has shape {TensorSpec.FormatShape(Dims(t))} ({count} float32 values) but {t.FloatData.Count} in float_data; the model is corrupt. Export it again."));
            }

            values = [.. t.FloatData];
        }

        return values;
    }

    public static TensorProto FloatTensor(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        byte[] raw = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(raw.AsSpan(i * 4), data[i]);
        }

        return Raw(name, TensorProto.Types.DataType.Float, raw, dims);
    }

    public static TensorProto Float16Tensor(string name, ReadOnlySpan<float> data, params long[] dims)
    {
        byte[] raw = new byte[data.Length * 2];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(raw.AsSpan(i * 2), (Half)data[i]);
        }

        return Raw(name, TensorProto.Types.DataType.Float16, raw, dims);
    }

    public static TensorProto Int8Tensor(string name, ReadOnlySpan<sbyte> data, params long[] dims) =>
        Raw(name, TensorProto.Types.DataType.Int8, MemoryMarshal.AsBytes(data).ToArray(), dims);

    public static TensorProto UInt8Tensor(string name, ReadOnlySpan<byte> data, params long[] dims) =>
        Raw(name, TensorProto.Types.DataType.Uint8, data.ToArray(), dims);

    public static TensorProto Int32Tensor(string name, ReadOnlySpan<int> data, params long[] dims)
    {
        byte[] raw = new byte[data.Length * 4];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(raw.AsSpan(i * 4), data[i]);
        }

        return Raw(name, TensorProto.Types.DataType.Int32, raw, dims);
    }

    public static TensorProto Int64Tensor(string name, ReadOnlySpan<long> data, params long[] dims)
    {
        byte[] raw = new byte[data.Length * 8];
        for (int i = 0; i < data.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(raw.AsSpan(i * 8), data[i]);
        }

        return Raw(name, TensorProto.Types.DataType.Int64, raw, dims);
    }

    /// <summary>Replaces the data of a float32 initializer in place (same shape).</summary>
    public static void WriteFloats(TensorProto t, ReadOnlySpan<float> data, params long[] dims)
    {
        TensorProto replacement = FloatTensor(t.Name, data, dims);
        t.FloatData.Clear();
        t.Dims.Clear();
        t.Dims.Add(dims);
        t.RawData = replacement.RawData;
    }

    private static TensorProto Raw(string name, TensorProto.Types.DataType type, byte[] raw, long[] dims)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = UnsafeByteOperations.UnsafeWrap(raw) };
        t.Dims.Add(dims);
        return t;
    }

    private static TensorShapeProto ShapeOf(TensorProto t)
    {
        var shape = new TensorShapeProto();
        foreach (long d in t.Dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return shape;
    }

    private static int DefaultOpset(ModelProto model)
    {
        foreach (OperatorSetIdProto o in model.OpsetImport)
        {
            if (o.Domain.Length == 0 || o.Domain == "ai.onnx")
            {
                return (int)o.Version;
            }
        }

        return 0;
    }

    private void CollectReferences(GraphProto g)
    {
        var local = new HashSet<string>(StringComparer.Ordinal);
        foreach (ValueInfoProto i in g.Input)
        {
            local.Add(i.Name);
        }

        foreach (TensorProto t in g.Initializer)
        {
            local.Add(t.Name);
        }

        foreach (NodeProto node in g.Node)
        {
            foreach (string input in node.Input)
            {
                if (input.Length != 0 && !local.Contains(input))
                {
                    SubgraphReferences.Add(input);
                }
            }

            foreach (string o in node.Output)
            {
                local.Add(o);
            }

            foreach (AttributeProto a in node.Attribute)
            {
                if (a.G is not null)
                {
                    CollectReferences(a.G);
                }

                foreach (GraphProto sub in a.Graphs)
                {
                    CollectReferences(sub);
                }
            }
        }

        foreach (ValueInfoProto o in g.Output)
        {
            if (!local.Contains(o.Name))
            {
                SubgraphReferences.Add(o.Name);
            }
        }
    }

    // Element types of every value: declared ones first (inputs, initializers, value_info, outputs), then propagated
    // through the nodes in order with the operators' type rules (onnx/docs/Operators.md, "Type Constraints").
    private Dictionary<string, int> InferTypes()
    {
        const int Float = (int)TensorProto.Types.DataType.Float;
        const int Int64 = (int)TensorProto.Types.DataType.Int64;
        const int Int32 = (int)TensorProto.Types.DataType.Int32;
        const int Bool = (int)TensorProto.Types.DataType.Bool;
        const int UInt8 = (int)TensorProto.Types.DataType.Uint8;
        var types = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (ValueInfoProto v in Graph.Input.Concat(Graph.ValueInfo).Concat(Graph.Output))
        {
            if (v.Type?.TensorType is { } tt && tt.ElemType != 0)
            {
                types[v.Name] = tt.ElemType;
            }
        }

        foreach (TensorProto t in Graph.Initializer)
        {
            types[t.Name] = t.DataType;
        }

        foreach (NodeProto node in Graph.Node)
        {
            if (node.Domain.Length != 0 && node.Domain != "ai.onnx")
            {
                continue;
            }

            int first = 0;
            foreach (string input in node.Input)
            {
                if (input.Length != 0 && types.TryGetValue(input, out int t))
                {
                    first = t;
                    break;
                }
            }

            for (int k = 0; k < node.Output.Count; k++)
            {
                string output = node.Output[k];
                if (output.Length == 0 || types.ContainsKey(output))
                {
                    continue;
                }

                int type = node.OpType switch
                {
                    "Cast" => (int)IntAttributeOr(node, "to", 0),
                    "CastLike" => node.Input.Count > 1 && types.TryGetValue(node.Input[1], out int like) ? like : 0,
                    "Shape" or "Size" or "NonZero" or "ArgMax" or "ArgMin" or "NonMaxSuppression" => Int64,
                    "TopK" => k == 1 ? Int64 : first,
                    "Unique" => k == 0 ? first : Int64,
                    "MaxPool" => k == 1 ? Int64 : first,
                    "Equal" or "Greater" or "GreaterOrEqual" or "Less" or "LessOrEqual" or "Not" or "And" or "Or" or "Xor" or "IsNaN" or "IsInf" => Bool,
                    "MatMulInteger" or "ConvInteger" => Int32,
                    "DynamicQuantizeLinear" => k == 0 ? UInt8 : k == 1 ? Float : UInt8,
                    "QuantizeLinear" => node.Input.Count > 2 && types.TryGetValue(node.Input[2], out int zp) ? zp : UInt8,
                    "DequantizeLinear" => Float,
                    "Constant" => ConstantType(node),
                    "ConstantOfShape" => FindAttribute(node, "value")?.T is { } v ? v.DataType : Float,
                    "EyeLike" or "RandomNormalLike" or "RandomUniformLike" or "Multinomial" => (int)IntAttributeOr(node, "dtype", first),
                    "RandomNormal" or "RandomUniform" => (int)IntAttributeOr(node, "dtype", Float),
                    "Where" => node.Input.Count > 1 && types.TryGetValue(node.Input[1], out int w) ? w : 0,
                    "Dropout" => k == 1 ? Bool : first,
                    "If" or "Loop" or "Scan" or "SequenceConstruct" or "SplitToSequence" or "SequenceAt" or "Optional" => 0,
                    _ => first,
                };
                if (type != 0)
                {
                    types[output] = type;
                }
            }
        }

        _ = Int32;
        return types;
    }

    private static int ConstantType(NodeProto node)
    {
        foreach (AttributeProto a in node.Attribute)
        {
            switch (a.Name)
            {
                case "value" when a.T is not null:
                    return a.T.DataType;
                case "value_float" or "value_floats":
                    return (int)TensorProto.Types.DataType.Float;
                case "value_int" or "value_ints":
                    return (int)TensorProto.Types.DataType.Int64;
            }
        }

        return 0;
    }
}
