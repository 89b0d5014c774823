using System.Globalization;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>
/// Raises a model's default-domain opset so the quantization operators exist (QuantizeLinear: 10; DynamicQuantizeLinear: 11;
/// per-channel DequantizeLinear: 13), rewriting the operators whose signature changed on the way (onnx/docs/Changelog.md):
/// Slice-10 (starts/ends/axes become inputs), Clip-11 and Pad-11 (min/max and pads become inputs), Dropout-12 (ratio),
/// Squeeze-13, Unsqueeze-13, ReduceSum-13 and Split-13 (axes/split become inputs), and Softmax/LogSoftmax/Hardmax-13 (which
/// no longer flatten to 2-D: rewritten as Flatten → op → Reshape, exactly the old semantics). A model with any other
/// operator whose semantics changed is not upgraded; the caller reports it and leaves the model in float.
/// </summary>
internal static class OpsetUpgrader
{
    // Default-domain operators whose inference semantics did not change from opset 7 to 13.
    private static readonly HashSet<string> s_unchanged = new(StringComparer.Ordinal)
    {
        "Abs", "Acos", "Add", "And", "ArgMax", "ArgMin", "Asin", "Atan", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Concat",
        "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "DepthToSpace", "Div", "Elu", "Equal", "Erf", "Exp", "Expand",
        "Flatten", "Floor", "Gather", "Gemm", "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "Identity",
        "InstanceNormalization", "LeakyRelu", "Less", "Log", "LRN", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "Not",
        "Or", "Pow", "PRelu", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin",
        "ReduceProd", "ReduceSumSquare", "Relu", "Reshape", "Selu", "Shape", "Sigmoid", "Sign", "Sin", "Size", "Softplus", "Softsign",
        "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tan", "Tanh", "Tile", "Transpose", "Where", "Xor",
    };

    private static readonly HashSet<string> s_rewritten = new(StringComparer.Ordinal)
    {
        "Slice", "Clip", "Pad", "Dropout", "Squeeze", "Unsqueeze", "ReduceSum", "Split", "Softmax", "LogSoftmax", "Hardmax",
    };

    /// <summary>Upgrades to <paramref name="target"/>; returns <see langword="null"/> on success, otherwise why not (the model is unchanged).</summary>
    public static string? TryUpgrade(OnnxGraph g, int target)
    {
        int from = g.Opset;
        if (from >= target)
        {
            return null;
        }

        if (from < 7)
        {
            return string.Create(CultureInfo.InvariantCulture, $"opset {from} is older than 7; convert the model to opset {target} or later first");
        }

        foreach (NodeProto node in g.Graph.Node)
        {
            if (node.Domain.Length != 0 && node.Domain != "ai.onnx")
            {
                continue;
            }

            if (OnnxGraph.HasSubgraph(node))
            {
                return $"node '{node.Name}' ({node.OpType}) has a subgraph; convert the model to opset {target} or later first";
            }

            bool known = s_unchanged.Contains(node.OpType) || s_rewritten.Contains(node.OpType);
            if (!known || (node.OpType == "BatchNormalization" && OnnxGraph.IntAttributeOr(node, "spatial", 1) == 0)
                || (node.OpType is "Clip" or "Pad" && from < 11 && node.Input.Count > 0 && !g.IsFloat(node.Input[0])))
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"operator {node.OpType} (node '{node.Name}') is not known to keep its meaning from opset {from} to {target}; convert the model to opset {target} or later first");
            }
        }

        var nodes = new List<NodeProto>(g.Graph.Node.Count + 8);
        foreach (NodeProto node in g.Graph.Node)
        {
            if (node.Domain.Length != 0 && node.Domain != "ai.onnx")
            {
                nodes.Add(node);
                continue;
            }

            switch (node.OpType)
            {
                case "Slice" when from < 10:
                    MoveIntsToInputs(g, node, ["starts", "ends", "axes"]);
                    break;
                case "Clip" when from < 11:
                    MoveFloatsToInputs(g, node, [("min", float.MinValue), ("max", float.MaxValue)]);
                    break;
                case "Pad" when from < 11:
                    MoveIntsToInputs(g, node, ["pads"]);
                    MoveFloatsToInputs(g, node, [("value", 0f)]);
                    break;
                case "Dropout" when from < 12 && target >= 12:
                    RemoveAttribute(node, "ratio");
                    RemoveAttribute(node, "is_test");
                    break;
                case "Squeeze" or "Unsqueeze" or "ReduceSum" when from < 13 && target >= 13:
                    MoveIntsToInputs(g, node, ["axes"]);
                    break;
                case "Split" when from < 13 && target >= 13:
                    MoveIntsToInputs(g, node, ["split"]);
                    break;
                case "Softmax" or "LogSoftmax" or "Hardmax" when from < 13 && target >= 13:
                    nodes.AddRange(FlattenSoftmax(g, node));
                    continue;
            }

            nodes.Add(node);
        }

        g.Graph.Node.Clear();
        g.Graph.Node.Add(nodes);
        g.SetOpset(target);
        long ir = target >= 13 ? 7 : target >= 11 ? 6 : 5;
        if (g.Model.IrVersion < ir)
        {
            g.Model.IrVersion = ir;
        }

        g.Refresh();
        return null;
    }

    // Before opset 13 these operators coerce the input to 2-D at 'axis' (default 1); Flatten + op(axis -1) + Reshape to the input's shape keeps that.
    private static IEnumerable<NodeProto> FlattenSoftmax(OnnxGraph g, NodeProto node)
    {
        long axis = OnnxGraph.IntAttributeOr(node, "axis", 1);
        string x = node.Input[0], y = node.Output[0];
        string shape = g.UniqueName(x + "_shape");
        string flat = g.UniqueName(x + "_2d");
        string result = g.UniqueName(y + "_2d");
        yield return g.NewNode("Shape", node.Name + "_Shape", [x], [shape]);
        yield return g.NewNode("Flatten", node.Name + "_Flatten", [x], [flat], OnnxGraph.IntAttribute("axis", axis));
        NodeProto op = g.NewNode(node.OpType, node.Name + "_2d", [flat], [result], OnnxGraph.IntAttribute("axis", -1));
        yield return op;
        var reshape = new NodeProto { OpType = "Reshape", Name = node.Name, Domain = string.Empty };
        reshape.Input.Add([result, shape]);
        reshape.Output.Add(y);
        yield return reshape;
    }

    private static void MoveIntsToInputs(OnnxGraph g, NodeProto node, string[] names)
    {
        foreach (string name in names)
        {
            AttributeProto? a = OnnxGraph.FindAttribute(node, name);
            if (a is null)
            {
                // Optional inputs keep their positions: an absent one is "" unless nothing follows it.
                if (name != names[^1])
                {
                    node.Input.Add(string.Empty);
                }

                continue;
            }

            string value = g.UniqueName($"{node.Name}_{name}");
            g.AddInitializer(OnnxGraph.Int64Tensor(value, [.. a.Ints], a.Ints.Count));
            node.Input.Add(value);
            node.Attribute.Remove(a);
        }

        TrimTrailingEmpty(node);
    }

    private static void MoveFloatsToInputs(OnnxGraph g, NodeProto node, (string Name, float Default)[] names)
    {
        foreach ((string name, float fallback) in names)
        {
            AttributeProto? a = OnnxGraph.FindAttribute(node, name);
            string value = g.UniqueName($"{node.Name}_{name}");
            g.AddInitializer(OnnxGraph.FloatTensor(value, [a?.F ?? fallback]));
            node.Input.Add(value);
            if (a is not null)
            {
                node.Attribute.Remove(a);
            }
        }
    }

    private static void RemoveAttribute(NodeProto node, string name)
    {
        if (OnnxGraph.FindAttribute(node, name) is { } a)
        {
            node.Attribute.Remove(a);
        }
    }

    private static void TrimTrailingEmpty(NodeProto node)
    {
        while (node.Input.Count > 0 && node.Input[^1].Length == 0)
        {
            node.Input.RemoveAt(node.Input.Count - 1);
        }
    }
}
