using System.Collections;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Collections;
using Google.Protobuf.Reflection;
using ModelKit.Onnx.Protobuf;
using static System.FormattableString;
using DataType = ModelKit.Onnx.Protobuf.TensorProto.Types.DataType;

namespace ModelKit.Onnx.Internal;

/// <summary>Read access to the fields protobuf kept because the schema does not define them (see Protos/OnnxMessages.UnknownFields.cs).</summary>
internal interface IUnknownFieldsSource
{
    UnknownFieldSet? UnknownFields { get; }
}

/// <summary>
/// The one walk over an untrusted <c>ModelProto</c>. It is driven by the schema (every message-typed field of every
/// message, through protobuf reflection), so it reaches every place a <c>TensorProto</c> or <c>SparseTensorProto</c>
/// can live in ONNX 1.19 (graph initializers and sparse initializers, node attributes <c>t</c>, <c>tensors</c>,
/// <c>sparse_tensor</c>, <c>sparse_tensors</c>, subgraphs <c>g</c> and <c>graphs</c> at any depth, model-local functions
/// and their attribute defaults, <c>training_info</c> graphs) and would reach a new one without a code change.
/// It checks: unknown fields, limits (subgraph depth, nodes, tensors, bytes), each tensor's type, dimensions and data,
/// external data (refused, or checked against a folder), and <c>training_info</c> bindings.
/// </summary>
internal sealed class OnnxModelWalker
{
    // Protobuf's default recursion limit: a parsed model is never deeper; a model built in code must not be either.
    private const int MaxMessageDepth = 100;

    private readonly OnnxModelOptions _options;
    private readonly ExternalDataFolder? _externalData;
    private readonly List<Frame> _frames = [];
    private int _graphDepth = -1;
    private int _nodes;
    private int _tensors;
    private long _totalBytes;

    private OnnxModelWalker(OnnxModelOptions options, ExternalDataFolder? externalData)
    {
        _options = options;
        _externalData = externalData;
    }

    public static void Walk(ModelProto model, OnnxModelOptions options, ExternalDataFolder? externalData)
    {
        var walker = new OnnxModelWalker(options, externalData);
        walker._frames.Add(new Frame("ModelProto", -1, model));
        walker.Visit(model);
        walker._frames.Clear();
        CheckTrainingBindings(model);
        FunctionExpansion.Check(model, options.MaxNodes);
    }

    private void Visit(IMessage message)
    {
        if (_frames.Count > MaxMessageDepth)
        {
            throw new InvalidModelException(Invariant($"The ONNX model nests messages more than {MaxMessageDepth} deep (at {Path()}); protobuf's parser refuses such models and so does ModelKit."));
        }

        if (!_options.AllowUnknownFields)
        {
            CheckUnknownFields(message);
        }

        bool graph = false;
        switch (message)
        {
            case GraphProto:
                graph = true;
                if (++_graphDepth > _options.MaxSubgraphDepth)
                {
                    throw Invalid($"nests subgraphs {_graphDepth} levels deep, more than OnnxModelOptions.MaxSubgraphDepth ({_options.MaxSubgraphDepth})", "Raise the limit for a trusted model.");
                }

                break;
            case NodeProto:
                if (++_nodes > _options.MaxNodes)
                {
                    throw Invalid($"has more than OnnxModelOptions.MaxNodes ({_options.MaxNodes:N0}) nodes in its graphs, subgraphs and functions", "Raise the limit for a trusted model.");
                }

                break;
            case TensorProto tensor:
                bool partOfSparse = _frames.Count >= 2 && _frames[^2].Message is SparseTensorProto;
                if (!partOfSparse)
                {
                    CountTensor();
                }

                CheckTensor(tensor, partOfSparse);
                break;
            case SparseTensorProto sparse:
                CountTensor();
                CheckSparse(sparse);
                break;
        }

        foreach (FieldDescriptor field in message.Descriptor.Fields.InFieldNumberOrder())
        {
            if (field.FieldType is not (FieldType.Message or FieldType.Group))
            {
                continue;
            }

            object? value = field.Accessor.GetValue(message);
            if (field.IsRepeated)
            {
                var list = (IList)value!;
                for (int i = 0; i < list.Count; i++)
                {
                    VisitChild(field.Name, i, (IMessage)list[i]!);
                }
            }
            else if (value is IMessage child)
            {
                VisitChild(field.Name, -1, child);
            }
        }

        if (graph)
        {
            _graphDepth--;
        }
    }

    private void VisitChild(string field, int index, IMessage child)
    {
        _frames.Add(new Frame(field, index, child));
        Visit(child);
        _frames.RemoveAt(_frames.Count - 1);
    }

    private void CountTensor()
    {
        if (++_tensors > _options.MaxTensors)
        {
            throw Invalid($"has more than OnnxModelOptions.MaxTensors ({_options.MaxTensors:N0}) tensors (initializers and attribute tensors)", "Raise the limit for a trusted model.");
        }
    }

    private void AddBytes(long bytes, string what)
    {
        if (bytes > _options.MaxTensorBytes)
        {
            throw Invalid($"{what} {bytes:N0} bytes, more than OnnxModelOptions.MaxTensorBytes ({_options.MaxTensorBytes:N0} bytes)", "A hostile model can declare huge shapes with tiny data; raise the limit only for a trusted model.");
        }

        _totalBytes += bytes; // cannot overflow: each term is at most MaxTensorBytes and the sum is checked every time
        if (_totalBytes > _options.MaxTotalTensorBytes)
        {
            throw Invalid($"needs more than OnnxModelOptions.MaxTotalTensorBytes ({_options.MaxTotalTensorBytes:N0} bytes) for its tensors", "Raise the limit for a trusted model.");
        }
    }

    private void CheckTensor(TensorProto tensor, bool partOfSparse)
    {
        if (!tensor.HasDataType || tensor.DataType == 0)
        {
            throw Invalid($"has no data_type (element type)", "Every ONNX tensor must declare its element type; re-export the model.");
        }

        if (!Enum.IsDefined((DataType)tensor.DataType))
        {
            throw Invalid($"has the unknown element type {tensor.DataType}; ONNX 1.19 defines 1 to 24", "Re-export the model with a defined element type.");
        }

        var type = (DataType)tensor.DataType;
        long count = ElementCount(tensor.Dims, "dims");
        long bytes = type == DataType.String ? 0 : DenseBytes(count, type, tensor.Dims);

        if (!Enum.IsDefined(tensor.DataLocation))
        {
            throw Invalid($"has the unknown data_location {(int)tensor.DataLocation}; ONNX defines 0 (DEFAULT) and 1 (EXTERNAL)", "Re-export the model.");
        }

        int inlineFields = (tensor.HasRawData ? 1 : 0) + (tensor.FloatData.Count > 0 ? 1 : 0) + (tensor.Int32Data.Count > 0 ? 1 : 0) +
            (tensor.StringData.Count > 0 ? 1 : 0) + (tensor.Int64Data.Count > 0 ? 1 : 0) + (tensor.DoubleData.Count > 0 ? 1 : 0) +
            (tensor.Uint64Data.Count > 0 ? 1 : 0);
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
        {
            if (inlineFields > 0)
            {
                throw Invalid($"is stored externally (data_location EXTERNAL) and also holds data inside the model", "Keep the data in one place.");
            }

            if (type == DataType.String)
            {
                throw Invalid($"is a string tensor stored externally; ONNX does not allow external data for strings", "Store string tensors inside the model.");
            }

            if (_externalData is null)
            {
                string location = "an unnamed location";
                foreach (StringStringEntryProto entry in tensor.ExternalData)
                {
                    if (entry.Key == "location")
                    {
                        location = $"'{entry.Value}'";
                    }
                }

                throw new InvalidModelException(
                    $"Tensor data stored externally is not supported here: {Where()} keeps its data in an external file ({location}, data_location EXTERNAL), " +
                    "and a model given as bytes has no folder that the file could be checked against (ONNX Runtime would resolve it against the working directory). " +
                    "Save the model with all tensors inside the .onnx file (in Python: onnx.save_model(model, path, save_as_external_data=False)), which works up to " +
                    "protobuf's 2 GiB limit, or load it from its file with OnnxModel.LoadFile so that external data is checked against the model's folder.");
            }

            _externalData.Check(tensor, Where(), bytes);
            AddBytes(bytes, "keeps");
            return;
        }

        if (tensor.ExternalData.Count > 0)
        {
            throw Invalid($"has external_data entries but data_location DEFAULT", "Set data_location EXTERNAL, or remove the entries.");
        }

        if (inlineFields > 1)
        {
            throw Invalid($"holds its data in more than one of raw_data and the typed *_data fields", "Keep one of them.");
        }

        long held;
        string field;
        if (tensor.HasRawData)
        {
            if (type == DataType.String)
            {
                throw Invalid($"is a string tensor with raw_data; strings must be in string_data", "Re-export the model.");
            }

            field = "raw_data";
            held = tensor.RawData.Length;
            if (held != bytes)
            {
                throw Invalid($"declares dims {FormatDims(tensor.Dims)} of {type} ({count:N0} elements, {bytes:N0} bytes) but raw_data holds {held:N0} bytes", "The dimensions and the data disagree; re-export the model.");
            }
        }
        else
        {
            (field, held, bool allowed, long expected) = tensor switch
            {
                _ when tensor.FloatData.Count > 0 => ("float_data", tensor.FloatData.Count, type is DataType.Float or DataType.Complex64, type == DataType.Complex64 ? 2 * count : count),
                _ when tensor.Int32Data.Count > 0 => ("int32_data", tensor.Int32Data.Count, IsInt32DataType(type), Is4Bit(type) ? (count + 1) / 2 : count),
                _ when tensor.StringData.Count > 0 => ("string_data", tensor.StringData.Count, type == DataType.String, count),
                _ when tensor.Int64Data.Count > 0 => ("int64_data", tensor.Int64Data.Count, type == DataType.Int64, count),
                _ when tensor.DoubleData.Count > 0 => ("double_data", tensor.DoubleData.Count, type is DataType.Double or DataType.Complex128, type == DataType.Complex128 ? 2 * count : count),
                _ when tensor.Uint64Data.Count > 0 => ("uint64_data", tensor.Uint64Data.Count, type is DataType.Uint32 or DataType.Uint64, count),
                _ => ("no data field", 0L, true, count),
            };

            if (!allowed)
            {
                throw Invalid($"is of type {type} but holds its data in {field}, which ONNX does not use for that type", "Re-export the model.");
            }

            if (held != expected)
            {
                throw Invalid($"declares dims {FormatDims(tensor.Dims)} of {type} ({count:N0} elements) but {field} holds {held:N0} values (expected {expected:N0})", "The dimensions and the data disagree; re-export the model.");
            }
        }

        if (type == DataType.String)
        {
            long stringBytes = 0;
            foreach (ByteString s in tensor.StringData)
            {
                stringBytes += s.Length; // at most 2 GiB in all: it came from one protobuf message
            }

            bytes = stringBytes;
        }

        if (!partOfSparse)
        {
            AddBytes(bytes, $"holds (in {field})");
        }
    }

    private void CheckSparse(SparseTensorProto sparse)
    {
        if (sparse.Values is null || sparse.Indices is null)
        {
            throw Invalid($"has no {(sparse.Values is null ? "values" : "indices")} tensor", "A sparse tensor needs both values and indices; re-export the model.");
        }

        if (!sparse.Values.HasDataType || !Enum.IsDefined((DataType)sparse.Values.DataType) || sparse.Values.DataType == 0)
        {
            throw Invalid($"has values of unknown element type {sparse.Values.DataType}", "Re-export the model.");
        }

        var type = (DataType)sparse.Values.DataType;
        long count = ElementCount(sparse.Dims, "dims (dense shape)");
        if (sparse.Values.Dims.Count != 1)
        {
            throw Invalid($"has values of shape {FormatDims(sparse.Values.Dims)}; ONNX requires a 1-D [NNZ] values tensor", "Re-export the model.");
        }

        long nnz = sparse.Values.Dims[0];
        if (nnz > count)
        {
            throw Invalid($"has {nnz:N0} values but its dense shape {FormatDims(sparse.Dims)} holds only {count:N0} elements", "Re-export the model.");
        }

        if (sparse.Indices.DataType != (int)DataType.Int64)
        {
            throw Invalid($"has indices of element type {sparse.Indices.DataType}; ONNX requires INT64 (7)", "Re-export the model.");
        }

        bool linear = sparse.Indices.Dims.Count == 1 && sparse.Indices.Dims[0] == nnz;
        bool coordinates = sparse.Indices.Dims.Count == 2 && sparse.Indices.Dims[0] == nnz && sparse.Indices.Dims[1] == sparse.Dims.Count;
        if (!linear && !coordinates)
        {
            throw Invalid($"has indices of shape {FormatDims(sparse.Indices.Dims)}; ONNX requires [NNZ] = [{nnz}] or [NNZ, rank] = [{nnz}, {sparse.Dims.Count}]", "Re-export the model.");
        }

        // ONNX Runtime densifies sparse initializers and Constant sparse_value attributes, so the dense size is what counts.
        AddBytes(type == DataType.String ? 0 : DenseBytes(count, type, sparse.Dims), "densifies to");
    }

    private long ElementCount(RepeatedField<long> dims, string field)
    {
        long count = 1;
        for (int i = 0; i < dims.Count; i++)
        {
            if (dims[i] < 0)
            {
                throw Invalid($"has {field} {FormatDims(dims)} with dimension {i} = {dims[i]}; tensor dimensions must be 0 or greater", "Re-export the model.");
            }

            if (dims[i] != 0 && count > long.MaxValue / dims[i])
            {
                // Keep scanning for a 0, which makes the product 0 however large the others are.
                bool zero = false;
                for (int j = i + 1; j < dims.Count; j++)
                {
                    zero |= dims[j] == 0;
                    if (dims[j] < 0)
                    {
                        throw Invalid($"has {field} {FormatDims(dims)} with dimension {j} = {dims[j]}; tensor dimensions must be 0 or greater", "Re-export the model.");
                    }
                }

                if (zero)
                {
                    return 0;
                }

                throw Invalid($"has {field} {FormatDims(dims)} whose element count overflows 64 bits", "A hostile model can declare huge shapes with tiny data; ModelKit refuses them.");
            }

            count *= dims[i];
        }

        return count;
    }

    private long DenseBytes(long count, DataType type, RepeatedField<long> dims)
    {
        int bits = BitsPerElement(type);
        if (bits == 4)
        {
            return (count / 2) + (count % 2); // two elements per byte, the last byte half used
        }

        int size = bits / 8;
        if (count > long.MaxValue / size)
        {
            throw Invalid($"has dims {FormatDims(dims)} of {type} ({count:N0} elements) whose size in bytes overflows 64 bits", "A hostile model can declare huge shapes with tiny data; ModelKit refuses them.");
        }

        return count * size;
    }

    private static int BitsPerElement(DataType type) => type switch
    {
        DataType.Uint4 or DataType.Int4 or DataType.Float4E2M1 => 4,
        DataType.Uint8 or DataType.Int8 or DataType.Bool or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or
            DataType.Float8E5M2 or DataType.Float8E5M2Fnuz or DataType.Float8E8M0 => 8,
        DataType.Uint16 or DataType.Int16 or DataType.Float16 or DataType.Bfloat16 => 16,
        DataType.Float or DataType.Int32 or DataType.Uint32 => 32,
        DataType.Int64 or DataType.Uint64 or DataType.Double or DataType.Complex64 => 64,
        DataType.Complex128 => 128,
        _ => 8, // STRING is sized by its strings, not here
    };

    private static bool Is4Bit(DataType type) => type is DataType.Uint4 or DataType.Int4 or DataType.Float4E2M1;

    private static bool IsInt32DataType(DataType type) => type is DataType.Int32 or DataType.Int16 or DataType.Int8 or DataType.Uint16 or
        DataType.Uint8 or DataType.Bool or DataType.Float16 or DataType.Bfloat16 or DataType.Float8E4M3Fn or DataType.Float8E4M3Fnuz or
        DataType.Float8E5M2 or DataType.Float8E5M2Fnuz or DataType.Float8E8M0 or DataType.Int4 or DataType.Uint4 or DataType.Float4E2M1;

    private void CheckUnknownFields(IMessage message)
    {
        if (message is not IUnknownFieldsSource { UnknownFields: { } unknown })
        {
            if (message is not IUnknownFieldsSource)
            {
                throw new InvalidOperationException($"ModelKit bug: message type {message.Descriptor.FullName} does not expose its unknown fields.");
            }

            return;
        }

        byte[] bytes;
        using (var buffer = new MemoryStream())
        {
            var output = new CodedOutputStream(buffer, leaveOpen: true);
            unknown.WriteTo(output);
            output.Flush();
            bytes = buffer.ToArray();
        }

        var numbers = new List<string>();
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0 && numbers.Count < 5)
        {
            int number = WireFormat.GetTagFieldNumber(tag);
            WireFormat.WireType wireType = WireFormat.GetTagWireType(tag);
            FieldDescriptor? known = message.Descriptor.FindFieldByNumber(number);
            numbers.Add(known is null
                ? Invariant($"field number {number} (wire type {wireType})")
                : Invariant($"field number {number} ('{known.Name}') with wire type {wireType}, which is not how onnx.proto encodes it"));
            input.SkipLastField();
        }

        throw new InvalidModelException(
            $"The ONNX model has fields that ONNX 1.19's onnx.proto (IR version 12) does not define: {string.Join(", ", numbers)} of message {message.Descriptor.FullName} at {Where()}. " +
            "A newer ONNX may keep tensors or file references there, which ModelKit cannot check, so such models are refused. " +
            "Re-export the model with ONNX 1.19 or older, or set OnnxModelOptions.AllowUnknownFields for a trusted source.");
    }

    private static void CheckTrainingBindings(ModelProto model)
    {
        if (model.TrainingInfo.Count == 0)
        {
            return;
        }

        var initializers = new HashSet<string>(StringComparer.Ordinal);
        foreach (TensorProto tensor in model.Graph.Initializer)
        {
            initializers.Add(tensor.Name);
        }

        for (int i = 0; i < model.TrainingInfo.Count; i++)
        {
            TrainingInfoProto info = model.TrainingInfo[i];
            CheckBindings(info.InitializationBinding, info.Initialization, Invariant($"training_info[{i}].initialization_binding"), "initialization", initializers);
            CheckBindings(info.UpdateBinding, info.Algorithm, Invariant($"training_info[{i}].update_binding"), "algorithm", initializers);
        }
    }

    private static void CheckBindings(IList<StringStringEntryProto> bindings, GraphProto? graph, string where, string graphName, HashSet<string> initializers)
    {
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        if (graph is not null)
        {
            foreach (ValueInfoProto output in graph.Output)
            {
                outputs.Add(output.Name);
            }
        }

        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (StringStringEntryProto binding in bindings)
        {
            if (!keys.Add(binding.Key) || !initializers.Contains(binding.Key) || !outputs.Contains(binding.Value))
            {
                throw new InvalidModelException(
                    $"The ONNX model's {where} binds '{binding.Key}' to '{binding.Value}'; each key must be a distinct initializer of the main graph and each value an output of the {graphName} graph " +
                    "(onnx.proto, TrainingInfoProto). Re-export the model, or remove its training_info for serving.");
            }
        }
    }

    private InvalidModelException Invalid(FormattableString what, string fix) => new($"The ONNX model's {Where()} {Invariant(what)}. {fix}");

    private static string FormatDims(RepeatedField<long> dims) => TensorSpec.FormatShape([.. dims]);

    /// <summary>Where the walk is, in ONNX's terms from the innermost element out, then the field path.</summary>
    private string Where()
    {
        var text = new StringBuilder();
        for (int i = _frames.Count - 1; i >= 1; i--)
        {
            Frame frame = _frames[i];
            Frame parent = _frames[i - 1];
            string? part = frame.Message switch
            {
                GraphProto g when parent.Message is TrainingInfoProto => $"{frame.Field} graph '{g.Name}' of training_info[{parent.Index}]",
                GraphProto g when parent.Message is ModelProto => $"graph '{g.Name}'",
                GraphProto g => $"subgraph '{g.Name}'",
                NodeProto n => n.Domain.Length == 0 ? $"node '{n.Name}' ({n.OpType})" : $"node '{n.Name}' ({n.Domain}:{n.OpType})",
                AttributeProto a when parent.Message is FunctionProto => $"attribute default '{a.Name}'",
                AttributeProto a => $"attribute '{a.Name}'",
                FunctionProto f => f.Domain.Length == 0 ? $"model-local function '{f.Name}'" : $"model-local function '{f.Domain}:{f.Name}'",
                TensorProto t when frame.Field == "initializer" => $"initializer '{t.Name}'",
                SparseTensorProto s when frame.Field == "sparse_initializer" => $"sparse initializer '{s.Values?.Name}'",
                TensorProto when parent.Message is SparseTensorProto => $"{frame.Field} tensor",
                TensorProto or SparseTensorProto when frame.Index >= 0 => Invariant($"tensor {frame.Index}"),
                TensorProto or SparseTensorProto => "tensor",
                ValueInfoProto v => $"{frame.Field.Replace('_', ' ')} '{v.Name}'",
                _ => null,
            };

            if (part is not null)
            {
                text.Append(text.Length == 0 ? string.Empty : " of ").Append(part);
            }
        }

        return text.Length == 0 ? Path() : $"{text} ({Path()})";
    }

    private string Path()
    {
        var path = new StringBuilder();
        foreach (Frame frame in _frames)
        {
            path.Append(path.Length == 0 ? string.Empty : ".").Append(frame.Field);
            if (frame.Index >= 0)
            {
                path.Append('[').Append(frame.Index).Append(']');
            }
        }

        return path.ToString();
    }

    private readonly record struct Frame(string Field, int Index, IMessage Message);
}

/// <summary>
/// ONNX Runtime inlines every call of a model-local function, so a few functions that each call the next one twice
/// expand to 2^n nodes at load time although the file holds a handful. This counts the nodes after inlining (without
/// building anything) and refuses recursion, which ONNX forbids (onnx/docs/IR.md, Functions).
/// </summary>
internal static class FunctionExpansion
{
    public static void Check(ModelProto model, int maxNodes)
    {
        if (model.Functions.Count == 0 || model.Graph is null)
        {
            return;
        }

        var functions = new Dictionary<(string Domain, string Name, string Overload), FunctionProto>();
        foreach (FunctionProto function in model.Functions)
        {
            if (!functions.TryAdd((function.Domain, function.Name, function.Overload), function))
            {
                throw new InvalidModelException($"The ONNX model defines model-local function '{Name(function)}' twice; (domain, name, overload) must be unique (onnx.proto, ModelProto.functions). Re-export the model.");
            }
        }

        long cap = (long)maxNodes + 1;
        var expanded = new Dictionary<FunctionProto, long>();
        var calling = new List<FunctionProto>();

        long Graph(GraphProto graph)
        {
            long total = 0;
            foreach (NodeProto node in graph.Node)
            {
                total = Math.Min(cap, total + Node(node));
            }

            return total;
        }

        long Node(NodeProto node)
        {
            long total = functions.TryGetValue((node.Domain, node.OpType, node.Overload), out FunctionProto? function) ? Function(function) : 1;
            foreach (AttributeProto attribute in node.Attribute)
            {
                if (attribute.G is not null)
                {
                    total = Math.Min(cap, total + Graph(attribute.G));
                }

                foreach (GraphProto subgraph in attribute.Graphs)
                {
                    total = Math.Min(cap, total + Graph(subgraph));
                }
            }

            return total;
        }

        long Function(FunctionProto function)
        {
            if (expanded.TryGetValue(function, out long known))
            {
                return known;
            }

            if (calling.Contains(function))
            {
                throw new InvalidModelException(
                    $"The ONNX model's model-local function '{Name(function)}' calls itself (through {string.Join(" -> ", calling.Select(f => $"'{Name(f)}'"))}); " +
                    "ONNX forbids recursive functions. Re-export the model.");
            }

            calling.Add(function);
            long total = 0;
            foreach (NodeProto node in function.Node)
            {
                total = Math.Min(cap, total + Node(node));
            }

            calling.RemoveAt(calling.Count - 1);
            expanded[function] = total;
            return total;
        }

        if (Graph(model.Graph) >= cap)
        {
            throw new InvalidModelException(
                Invariant($"The ONNX model's graph expands to more than OnnxModelOptions.MaxNodes ({maxNodes:N0}) nodes once ONNX Runtime inlines its model-local functions ") +
                "(functions that call other functions multiply). Raise the limit for a trusted model.");
        }
    }

    private static string Name(FunctionProto function) => function.Domain.Length == 0 ? function.Name : $"{function.Domain}:{function.Name}";
}
