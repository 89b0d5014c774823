using Google.Protobuf;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Onnx.Tests;

/// <summary>Small valid models and the hostile variants the validation tests feed to <see cref="OnnxModel"/>.</summary>
internal static class HostileModels
{
    /// <summary>y = x + b, x: float [-1, 4], b an initializer of four floats.</summary>
    public static ModelProto AddBias() =>
        new OnnxGraphBuilder("main", opset: 17)
            .AddInput("x", TensorElementType.Float, -1, 4)
            .AddInitializer("b", [1f, 2f, 3f, 4f], 4)
            .AddNode("Add", ["x", "b"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 4)
            .Build();

    /// <summary>A float tensor of <paramref name="dims"/> whose data ONNX Runtime would read from <paramref name="location"/>.</summary>
    public static TensorProto External(string name, string location, long[] dims, long? offset = null, long? length = null)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, DataLocation = TensorProto.Types.DataLocation.External };
        tensor.Dims.Add(dims);
        tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        if (offset is { } o)
        {
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = o.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        if (length is { } l)
        {
            tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = l.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        return tensor;
    }

    public static TensorProto Floats(string name, long[] dims, byte[] raw)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(raw) };
        tensor.Dims.Add(dims);
        return tensor;
    }

    public static NodeProto Constant(string name, string output, TensorProto value)
    {
        var node = new NodeProto { Name = name, OpType = "Constant" };
        node.Output.Add(output);
        node.Attribute.Add(OnnxAttribute.Tensor("value", value).ToProto());
        return node;
    }

    /// <summary>
    /// The model of issue 13: a model-local function (domain <c>local</c>) whose <c>Constant</c> node reads its tensor
    /// from <paramref name="constant"/>; the main graph calls the function. ONNX Runtime inlines the function.
    /// </summary>
    public static ModelProto WithLocalFunction(TensorProto constant)
    {
        ModelProto model = AddBias();
        var function = new FunctionProto { Name = "AddConstant", Domain = "local" };
        function.Input.Add("fx");
        function.Output.Add("fy");
        function.Node.Add(Constant("c", "fc", constant));
        var add = new NodeProto { Name = "add", OpType = "Add" };
        add.Input.Add("fx");
        add.Input.Add("fc");
        add.Output.Add("fy");
        function.Node.Add(add);
        function.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        model.Functions.Add(function);
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });

        // y = AddConstant(x + b)
        model.Graph.Node[0].Output[0] = "h";
        var call = new NodeProto { Name = "call", OpType = "AddConstant", Domain = "local" };
        call.Input.Add("h");
        call.Output.Add("y");
        model.Graph.Node.Add(call);
        return model;
    }

    /// <summary>A model with one <c>training_info</c> entry whose initialization graph holds <paramref name="initializer"/>.</summary>
    public static ModelProto WithTrainingInfo(TensorProto initializer)
    {
        ModelProto model = AddBias();
        var init = new GraphProto { Name = "init" };
        init.Initializer.Add(initializer);
        var identity = new NodeProto { Name = "copy", OpType = "Identity" };
        identity.Input.Add(initializer.Name);
        identity.Output.Add("b_init");
        init.Node.Add(identity);
        init.Output.Add(new ValueInfoProto { Name = "b_init", Type = FloatType(4) });
        var info = new TrainingInfoProto { Initialization = init };
        info.InitializationBinding.Add(new StringStringEntryProto { Key = "b", Value = "b_init" });
        model.TrainingInfo.Add(info);
        return model;
    }

    public static TypeProto FloatType(params long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (long d in dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        return new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } };
    }

    /// <summary>Wraps the main graph's nodes in <paramref name="levels"/> nested <c>If</c> then-branches.</summary>
    public static ModelProto NestedIfs(int levels, TensorProto? innermostInitializer = null)
    {
        ModelProto model = AddBias();
        GraphProto body = new() { Name = "level" + levels };
        body.Node.Add(model.Graph.Node);
        body.Output.Add(new ValueInfoProto { Name = "y", Type = FloatType() });
        if (innermostInitializer is not null)
        {
            body.Initializer.Add(innermostInitializer);
        }

        for (int level = levels - 1; level >= 1; level--)
        {
            body = new GraphProto { Name = "level" + level, Node = { If("if" + level, body) } };
            body.Output.Add(new ValueInfoProto { Name = "y", Type = FloatType() });
        }

        model.Graph.Node.Clear();
        model.Graph.Initializer.Add(new TensorProto { Name = "cond", DataType = (int)TensorProto.Types.DataType.Bool, RawData = ByteString.CopyFrom(1) });
        model.Graph.Node.Add(If("if0", body));
        return model;
    }

    private static NodeProto If(string name, GraphProto then)
    {
        var node = new NodeProto { Name = name, OpType = "If" };
        node.Input.Add("cond");
        node.Output.Add("y");
        node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = then });
        node.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = then.Clone() });
        return node;
    }

    /// <summary>The repository root (the folder that holds ModelKit.sln).</summary>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("ModelKit.sln not found above " + AppContext.BaseDirectory);
    }
}
