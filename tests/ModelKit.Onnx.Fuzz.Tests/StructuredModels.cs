using System.Globalization;
using CsCheck;
using Google.Protobuf;
using ModelKit.Onnx.Protobuf;
using DataType = ModelKit.Onnx.Protobuf.TensorProto.Types.DataType;

namespace ModelKit.Onnx.Fuzz.Tests;

/// <summary>
/// Structured generation: small valid models (an MLP x → Gemm → Relu → MatMul → + bias, with the bias in an initializer,
/// a Constant node, a model-local function, an If subgraph, a sparse initializer, or training_info next to it), then one
/// targeted corruption from <see cref="Corruptions"/>.
/// </summary>
internal static class StructuredModels
{
    public static readonly string[] Corruptions =
    [
        "none", "raw_data length", "negative dim", "huge dims", "dims disagree with data", "dangling node input", "cycle",
        "duplicate names", "unknown element type", "external data", "external data", "external data", "unknown field",
        "wrong attribute type", "unknown operator", "deep subgraph nesting", "huge input dimension", "input without shape",
        "sparse index out of range", "string tensor count", "opset and ir_version", "typed data of the wrong type",
        "truncated bytes", "output without type", "4-bit and float8 tensors", "huge sparse dense shape", "tensor segment", "function expansion",
    ];

    private static readonly string[] Structures = ["initializer", "constant node", "local function", "if subgraph", "training_info", "sparse initializer"];

    private static readonly string[] Locations =
    [
        "appsettings.json", "../canary.bin", "../../canary.bin", "{canary}", "link.bin", "weights.bin", "weights.bin (bad offset)",
        "weights.bin (bad length)", "*/_ORT_MEM_ADDR_/*", "data/../../canary.bin", "/proc/self/environ", "/dev/zero", "sub/weights.bin",
    ];

    /// <summary>The generator: sizes, structure, corruption, and a seed for the values and the corruption's details.</summary>
    public static Gen<FuzzCase> Generator(string canaryPath) =>
        Gen.Select(Gen.Int[1, 8], Gen.Int[1, 8], Gen.Int[0, Structures.Length - 1], Gen.Int[0, Corruptions.Length - 1], Gen.Int)
            .Select(t => Build(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, canaryPath));

    private static FuzzCase Build(int features, int outputs, int structure, int corruption, int seed, string canaryPath)
    {
        var random = new Random(seed);
        ModelProto model = BaseModel(features, outputs, random);
        ApplyStructure(model, Structures[structure], outputs, random);
        string description = $"structure '{Structures[structure]}', corruption '{Corruptions[corruption]}', F={features}, O={outputs}, seed {seed}";
        Dictionary<string, byte[]>? files = null;
        byte[]? bytes = null;
        switch (Corruptions[corruption])
        {
            case "none":
                break;
            case "raw_data length":
                {
                    TensorProto t = Pick(Tensors(model), random);
                    byte[] raw = t.RawData.ToByteArray();
                    t.RawData = ByteString.CopyFrom(random.Next(2) == 0 ? raw[..(raw.Length * random.Next(4) / 4)] : [.. raw, .. new byte[1 + random.Next(64)]]);
                    break;
                }

            case "negative dim":
                Pick(Tensors(model), random).Dims[0] = -random.Next(1, 1 << 20);
                break;
            case "huge dims":
                {
                    TensorProto t = Pick(Tensors(model), random);
                    t.Dims.Clear();
                    t.Dims.Add(random.Next(3) switch { 0 => [1L << 40, 1L << 40], 1 => [1L << 62, 4], _ => [long.MaxValue, 2, 0] });
                    break;
                }

            case "dims disagree with data":
                {
                    TensorProto t = Pick(Tensors(model), random);
                    t.Dims[0] *= 1 + random.Next(1, 1 << 16);
                    break;
                }

            case "dangling node input":
                Pick(model.Graph.Node.Where(n => n.Input.Count > 0).ToList(), random).Input[0] = "nowhere";
                break;
            case "cycle":
                model.Graph.Node.First(n => n.Input.Count > 0).Input[0] = model.Graph.Node[^1].Output[0];
                break;
            case "duplicate names":
                if (random.Next(2) == 0 && model.Graph.Initializer.Count > 1)
                {
                    model.Graph.Initializer[1].Name = model.Graph.Initializer[0].Name;
                }
                else
                {
                    model.Graph.Node[0].Output[0] = "x";
                }

                break;
            case "unknown element type":
                if (random.Next(2) == 0)
                {
                    Pick(Tensors(model), random).DataType = random.Next(25, 1000);
                }
                else
                {
                    model.Graph.Input[0].Type.TensorType.ElemType = random.Next(25, 1000);
                }

                break;
            case "external data":
                files = PlaceExternal(model, random, canaryPath, ref description);
                break;
            case "unknown field":
                bytes = WithUnknownField(model, random);
                break;
            case "wrong attribute type":
                {
                    AttributeProto transB = model.Graph.Node.First(n => n.OpType == "Gemm").Attribute[0];
                    transB.ClearI();
                    transB.F = 1.5f;
                    transB.Type = random.Next(2) == 0 ? AttributeProto.Types.AttributeType.Float : (AttributeProto.Types.AttributeType)random.Next(15, 100);
                    break;
                }

            case "unknown operator":
                {
                    NodeProto node = Pick(model.Graph.Node, random);
                    if (random.Next(2) == 0)
                    {
                        node.OpType = "NoSuchOperator";
                    }
                    else
                    {
                        node.Domain = "evil.example";
                    }

                    break;
                }

            case "deep subgraph nesting":
                Nest(model, random.Next(2, 40));
                break;
            case "huge input dimension":
                model.Graph.Input[0].Type.TensorType.Shape.Dim[1] = new TensorShapeProto.Types.Dimension { DimValue = random.Next(2) == 0 ? long.MaxValue : 1L << 40 };
                break;
            case "input without shape":
                model.Graph.Input[0].Type.TensorType.Shape = null;
                break;
            case "sparse index out of range":
                {
                    TensorProto bias = RemoveInitializer(model, "bias");
                    var sparse = new SparseTensorProto { Values = bias, Dims = { bias.Dims[0] } };
                    sparse.Indices = new TensorProto { Name = "bias_indices", DataType = (int)DataType.Int64, Dims = { bias.Dims[0] } };
                    for (int i = 0; i < bias.Dims[0]; i++)
                    {
                        sparse.Indices.Int64Data.Add(random.Next(3) == 0 ? random.NextInt64(long.MinValue, long.MaxValue) : i);
                    }

                    model.Graph.SparseInitializer.Add(sparse);
                    break;
                }

            case "string tensor count":
                {
                    var strings = new TensorProto { Name = "labels", DataType = (int)DataType.String, Dims = { random.Next(2) == 0 ? 1L << 40 : 3 } };
                    strings.StringData.Add(ByteString.CopyFromUtf8("cat"));
                    model.Graph.Initializer.Add(strings);
                    break;
                }

            case "opset and ir_version":
                if (random.Next(2) == 0)
                {
                    model.OpsetImport[0].Version = random.Next(2) == 0 ? 999 : 1;
                }
                else
                {
                    model.IrVersion = random.Next(2) == 0 ? 99 : 2;
                }

                break;
            case "typed data of the wrong type":
                {
                    TensorProto t = Pick(Tensors(model), random);
                    long n = t.Dims.Aggregate(1L, (a, d) => a * d);
                    t.ClearRawData();
                    t.Int64Data.Add(Enumerable.Repeat(7L, (int)n));
                    break;
                }

            case "truncated bytes":
                {
                    byte[] full = model.ToByteArray();
                    bytes = full[..random.Next(1, full.Length)];
                    break;
                }

            case "output without type":
                model.Graph.Output[0].Type = random.Next(2) == 0 ? null : new TypeProto { SequenceType = new TypeProto.Types.Sequence() };
                break;
            case "4-bit and float8 tensors":
                {
                    DataType type = Pick([DataType.Int4, DataType.Uint4, DataType.Float4E2M1, DataType.Float8E4M3Fn, DataType.Float8E5M2, DataType.Float8E8M0, DataType.Bfloat16], random);
                    int count = random.Next(1, 9);
                    var odd = new TensorProto { Name = "odd", DataType = (int)type, Dims = { count } };
                    odd.RawData = ByteString.CopyFrom(new byte[random.Next(0, 20)]);
                    model.Graph.Initializer.Add(odd);
                    var cast = new NodeProto { Name = "cast_odd", OpType = "Cast", Input = { "odd" }, Output = { "odd_f" } };
                    cast.Attribute.Add(new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                    model.Graph.Node.Add(cast);
                    break;
                }

            case "huge sparse dense shape":
                {
                    TensorProto bias = RemoveInitializer(model, "bias");
                    var sparse = new SparseTensorProto { Values = bias, Dims = { 1L << random.Next(20, 40), 1L << random.Next(20, 40) } };
                    sparse.Indices = new TensorProto { Name = "bias_indices", DataType = (int)DataType.Int64, Dims = { bias.Dims[0] } };
                    sparse.Indices.Int64Data.Add(Enumerable.Range(0, (int)bias.Dims[0]).Select(i => (long)i));
                    model.Graph.SparseInitializer.Add(sparse);
                    break;
                }

            case "function expansion":
                {
                    // Functions that each call the next twice: small depths run, large ones must be refused before inlining.
                    int levels = random.Next(2) == 0 ? random.Next(1, 8) : random.Next(20, 60);
                    for (int level = 0; level < levels; level++)
                    {
                        string callee = level == levels - 1 ? "Relu" : "F" + (level + 1);
                        string domain = level == levels - 1 ? string.Empty : "local";
                        var function = new FunctionProto { Name = "F" + level, Domain = "local", Input = { "i" }, Output = { "o" } };
                        function.Node.Add(new NodeProto { Name = "a", OpType = callee, Domain = domain, Input = { "i" }, Output = { "t" } });
                        function.Node.Add(new NodeProto { Name = "b", OpType = callee, Domain = domain, Input = { "t" }, Output = { "o" } });
                        function.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
                        model.Functions.Add(function);
                    }

                    if (!model.OpsetImport.Any(o => o.Domain == "local"))
                    {
                        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });
                    }

                    NodeProto relu = model.Graph.Node.First(n => n.OpType == "Relu");
                    relu.OpType = "F0";
                    relu.Domain = "local";
                    break;
                }

            case "tensor segment":
                Pick(Tensors(model), random).Segment = new TensorProto.Types.Segment { Begin = random.Next(-5, 5), End = random.Next(-5, 100) };
                break;
        }

        return new FuzzCase(description, bytes ?? model.ToByteArray(), files, Corruptions[corruption] + (files is null ? string.Empty : " (folder)"));
    }

    private static ModelProto BaseModel(int features, int outputs, Random random)
    {
        int hidden = random.Next(1, 9);
        return new OnnxGraphBuilder("fuzz", opset: 17)
            .AddInput("x", TensorElementType.Float, -1, features)
            .AddInitializer("w1", Floats(hidden * features, random), hidden, features)
            .AddInitializer("b1", Floats(hidden, random), hidden)
            .AddNode("Gemm", ["x", "w1", "b1"], ["h"], OnnxAttribute.Int("transB", 1))
            .AddNode("Relu", ["h"], ["r"])
            .AddInitializer("w2", Floats(hidden * outputs, random), hidden, outputs)
            .AddNode("MatMul", ["r", "w2"], ["m"])
            .AddInitializer("bias", Floats(outputs, random), outputs)
            .AddNode("Add", ["m", "bias"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, outputs)
            .Build();
    }

    private static void ApplyStructure(ModelProto model, string structure, int outputs, Random random)
    {
        switch (structure)
        {
            case "constant node":
                {
                    TensorProto bias = RemoveInitializer(model, "bias");
                    model.Graph.Node.Insert(0, Constant("bias_constant", "bias", bias));
                    break;
                }

            case "local function":
                {
                    TensorProto bias = RemoveInitializer(model, "bias");
                    var function = new FunctionProto { Name = "BiasAdd", Domain = "local", Input = { "in" }, Output = { "out" } };
                    function.Node.Add(Constant("c", "fc", bias));
                    function.Node.Add(new NodeProto { Name = "add", OpType = "Add", Input = { "in", "fc" }, Output = { "out" } });
                    function.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
                    model.Functions.Add(function);
                    model.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });
                    NodeProto add = model.Graph.Node[^1];
                    model.Graph.Node[^1] = new NodeProto { Name = "call", OpType = "BiasAdd", Domain = "local", Input = { add.Input[0] }, Output = { "y" } };
                    break;
                }

            case "if subgraph":
                {
                    TensorProto thenBias = model.Graph.Initializer.Single(t => t.Name == "bias").Clone();
                    thenBias.Name = "then_bias";
                    var then = new GraphProto { Name = "then", Initializer = { thenBias } };
                    then.Node.Add(new NodeProto { Name = "then_add", OpType = "Add", Input = { "m", "then_bias" }, Output = { "then_y" } });
                    then.Output.Add(new ValueInfoProto { Name = "then_y", Type = FloatType(-1, outputs) });
                    var otherwise = new GraphProto { Name = "else" };
                    otherwise.Node.Add(new NodeProto { Name = "else_add", OpType = "Add", Input = { "m", "bias" }, Output = { "else_y" } });
                    otherwise.Output.Add(new ValueInfoProto { Name = "else_y", Type = FloatType(-1, outputs) });
                    model.Graph.Initializer.Add(new TensorProto { Name = "cond", DataType = (int)DataType.Bool, RawData = ByteString.CopyFrom((byte)random.Next(2)) });
                    var node = new NodeProto { Name = "if", OpType = "If", Input = { "cond" }, Output = { "y" } };
                    node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = then });
                    node.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = otherwise });
                    model.Graph.Node[^1] = node;
                    break;
                }

            case "training_info":
                {
                    TensorProto seedBias = model.Graph.Initializer.Single(t => t.Name == "bias").Clone();
                    seedBias.Name = "seed_bias";
                    var init = new GraphProto { Name = "init", Initializer = { seedBias } };
                    init.Node.Add(new NodeProto { Name = "copy", OpType = "Identity", Input = { "seed_bias" }, Output = { "bias_init" } });
                    init.Output.Add(new ValueInfoProto { Name = "bias_init", Type = FloatType(outputs) });
                    var info = new TrainingInfoProto { Initialization = init };
                    info.InitializationBinding.Add(new StringStringEntryProto { Key = "bias", Value = "bias_init" });
                    model.TrainingInfo.Add(info);
                    break;
                }

            case "sparse initializer":
                {
                    TensorProto bias = RemoveInitializer(model, "bias");
                    var sparse = new SparseTensorProto { Values = bias, Dims = { outputs } };
                    sparse.Indices = new TensorProto { Name = "bias_indices", DataType = (int)DataType.Int64, Dims = { outputs } };
                    sparse.Indices.Int64Data.Add(Enumerable.Range(0, outputs).Select(i => (long)i));
                    model.Graph.SparseInitializer.Add(sparse);
                    break;
                }
        }
    }

    /// <summary>Moves one tensor's data (the one the structure put in play, or another) to an external location.</summary>
    private static Dictionary<string, byte[]>? PlaceExternal(ModelProto model, Random random, string canaryPath, ref string description)
    {
        List<TensorProto> tensors = Tensors(model);
        TensorProto target = tensors.FirstOrDefault(t => t.Name is "bias" or "then_bias" or "seed_bias") ?? Pick(tensors, random);
        if (random.Next(4) == 0)
        {
            target = Pick(tensors, random);
        }

        if (random.Next(5) == 0 && model.Functions.Count > 0)
        {
            // A function attribute default that nothing uses: ONNX Runtime may never read it, ModelKit must still check it.
            var unused = new TensorProto { Name = "unused", DataType = (int)DataType.Float, Dims = { 4 } };
            model.Functions[0].AttributeProto.Add(new AttributeProto { Name = "scale", Type = AttributeProto.Types.AttributeType.Tensor, T = unused });
            target = unused;
        }

        int bytes = target.RawData.Length;
        string location = Pick(Locations, random);
        description += $", external '{location}' for tensor '{target.Name}'";
        string written = location switch
        {
            "{canary}" => canaryPath,
            "weights.bin (bad offset)" or "weights.bin (bad length)" => "weights.bin",
            _ => location,
        };

        target.ClearRawData();
        target.DataLocation = TensorProto.Types.DataLocation.External;
        target.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = written });
        if (location == "weights.bin (bad offset)")
        {
            target.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = random.Next(2) == 0 ? "99999999999999999999" : "4096" });
        }
        else if (location == "weights.bin (bad length)")
        {
            target.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = (bytes + random.Next(1, 64)).ToString(CultureInfo.InvariantCulture) });
        }
        else if (random.Next(3) == 0)
        {
            target.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "16" });
            target.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = bytes.ToString(CultureInfo.InvariantCulture) });
        }

        if (random.Next(3) == 0)
        {
            return null; // given as bytes: external data must be refused whatever the location
        }

        // From a folder: the legitimate files, plus a link out of it; the data file holds the tensor after 16 bytes.
        byte[] data = new byte[16 + bytes + 64];
        random.NextBytes(data);
        return new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["weights.bin"] = data,
            ["sub/weights.bin"] = data,
            ["link.bin"] = [],
        };
    }

    private static byte[] WithUnknownField(ModelProto model, Random random)
    {
        int field = random.Next(2) == 0 ? random.Next(30, 1000) : random.Next(1 << 20, 1 << 28);
        byte[] unknown = [.. Varint(((ulong)field << 3) | 2), 3, 1, 2, 3];
        switch (random.Next(3))
        {
            case 0:
                return [.. model.ToByteArray(), .. unknown];
            case 1:
                {
                    TensorProto t = Pick(Tensors(model), random);
                    TensorProto withUnknown = TensorProto.Parser.ParseFrom([.. t.ToByteArray(), .. unknown]);
                    t.Dims.Clear();
                    t.MergeFrom(withUnknown); // the same fields again, and the unknown one
                    return model.ToByteArray();
                }

            default:
                {
                    NodeProto node = Pick(model.Graph.Node, random);
                    NodeProto withUnknown = NodeProto.Parser.ParseFrom([.. node.ToByteArray(), .. unknown]);
                    int index = model.Graph.Node.IndexOf(node);
                    model.Graph.Node[index] = withUnknown;
                    return model.ToByteArray();
                }
        }
    }

    private static void Nest(ModelProto model, int levels)
    {
        GraphProto body = new() { Name = "level" + levels };
        body.Node.Add(model.Graph.Node.Select(n => n.Clone()));
        body.Output.Add(new ValueInfoProto { Name = "y", Type = FloatType() });
        model.Graph.Initializer.Add(new TensorProto { Name = "cond", DataType = (int)DataType.Bool, RawData = ByteString.CopyFrom(1) });
        for (int level = levels - 1; level >= 0; level--)
        {
            var node = new NodeProto { Name = "if" + level, OpType = "If", Input = { "cond" }, Output = { "y" } };
            node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = body });
            node.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = ElseBranch(level) });
            body = new GraphProto { Name = "level" + level, Node = { node } };
            body.Output.Add(new ValueInfoProto { Name = "y", Type = FloatType() });
        }

        model.Graph.Node.Clear();
        model.Graph.Node.Add(body.Node);
    }

    // A small else branch (a copy of the then branch would double the model at every level).
    private static GraphProto ElseBranch(int level)
    {
        var graph = new GraphProto { Name = "else" + level };
        graph.Node.Add(new NodeProto { Name = "else_copy" + level, OpType = "Identity", Input = { "x" }, Output = { "else_y" + level } });
        graph.Output.Add(new ValueInfoProto { Name = "else_y" + level, Type = FloatType() });
        return graph;
    }

    private static List<TensorProto> Tensors(ModelProto model)
    {
        var all = new List<TensorProto>(model.Graph.Initializer);
        all.AddRange(model.Graph.SparseInitializer.Select(s => s.Values));
        foreach (NodeProto node in model.Graph.Node.Concat(model.Functions.SelectMany(f => f.Node)))
        {
            foreach (AttributeProto attribute in node.Attribute)
            {
                if (attribute.T is { } t)
                {
                    all.Add(t);
                }

                if (attribute.G is { } g)
                {
                    all.AddRange(g.Initializer);
                }
            }
        }

        all.AddRange(model.TrainingInfo.SelectMany(i => i.Initialization?.Initializer ?? []));
        all.RemoveAll(t => !t.HasRawData || t.Dims.Count == 0);
        return all;
    }

    private static TensorProto RemoveInitializer(ModelProto model, string name)
    {
        // The structure may have moved the bias already: then take another 1-D initializer.
        TensorProto tensor = model.Graph.Initializer.SingleOrDefault(t => t.Name == name) ?? model.Graph.Initializer.First(t => t.Dims.Count == 1);
        model.Graph.Initializer.Remove(tensor);
        return tensor;
    }

    private static NodeProto Constant(string name, string output, TensorProto value)
    {
        var node = new NodeProto { Name = name, OpType = "Constant", Output = { output } };
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
        return node;
    }

    private static TypeProto FloatType(params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(d < 0 ? new TensorShapeProto.Types.Dimension { DimParam = "N" } : new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = dims.Length == 0 ? null : shape } };
    }

    private static float[] Floats(int count, Random random)
    {
        float[] values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = (float)((random.NextDouble() * 2) - 1);
        }

        return values;
    }

    private static T Pick<T>(IList<T> items, Random random) => items[random.Next(items.Count)];

    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }
}
