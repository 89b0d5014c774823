using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>
/// Converts float32 computation to float16. Every default-domain node not in the keep-list (and without subgraphs) reads
/// float16: its float32 initializers are converted, float32 activations reaching it pass through one shared
/// <c>Cast(to = FLOAT16)</c>, and its float outputs become float16. Kept nodes read float32 through
/// <c>Cast(to = FLOAT)</c>. Graph inputs and outputs stay float32 behind Casts when asked, otherwise they change type.
/// Inputs that ONNX requires in float32 whatever the data type (Resize's roi and scales, Upsample's scales) stay float32.
/// </summary>
internal static class Float16Converter
{
    private const int Float = (int)TensorProto.Types.DataType.Float;
    private const int Float16 = (int)TensorProto.Types.DataType.Float16;

    // Operators whose output types do not follow their float inputs, or that define their own types.
    private static readonly HashSet<string> s_neverConverted = new(StringComparer.Ordinal)
    {
        "Cast", "CastLike", "Shape", "Size", "Constant", "ConstantOfShape", "QuantizeLinear", "DequantizeLinear",
        "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearConv", "QLinearMatMul", "RandomNormal", "RandomUniform",
        "RandomNormalLike", "RandomUniformLike", "EyeLike", "Multinomial", "If", "Loop", "Scan", "Range",
    };

    public static StepResult Apply(OnnxGraph g, Float16Step step)
    {
        var result = new StepResult(step);
        var keepOps = new HashSet<string>(step.OperatorTypesToKeep, StringComparer.Ordinal);
        var keepNodes = new HashSet<string>(step.NodesToExclude, StringComparer.Ordinal);
        ProducersOfSubgraphReferences(g, keepNodes);

        // Precision of each float value as the rewrite goes: true when the value now holds float16.
        var half = new Dictionary<string, bool>(StringComparer.Ordinal);
        var castTo16 = new Dictionary<string, string>(StringComparer.Ordinal);
        var castTo32 = new Dictionary<string, string>(StringComparer.Ordinal);
        var initializers16 = new Dictionary<string, string>(StringComparer.Ordinal);
        var nodes = new List<NodeProto>(g.Graph.Node.Count + 8);

        if (!step.KeepInputsAndOutputsFloat32)
        {
            foreach (ValueInfoProto input in g.Graph.Input)
            {
                if (g.GraphInputs.Contains(input.Name) && input.Type?.TensorType?.ElemType == Float)
                {
                    input.Type.TensorType.ElemType = Float16;
                    half[input.Name] = true;
                }
            }
        }

        foreach (NodeProto node in g.Graph.Node)
        {
            bool standard = node.Domain.Length == 0 || node.Domain == "ai.onnx";
            bool convert = standard && !s_neverConverted.Contains(node.OpType) && !keepOps.Contains(node.OpType)
                && !keepNodes.Contains(node.Name) && !OnnxGraph.HasSubgraph(node);
            bool touchesFloat = node.Input.Any(i => g.IsFloat(i) || half.ContainsKey(i)) || node.Output.Any(g.IsFloat);
            if (!touchesFloat)
            {
                nodes.Add(node);
                continue;
            }

            for (int k = 0; k < node.Input.Count; k++)
            {
                string input = node.Input[k];
                if (input.Length == 0)
                {
                    continue;
                }

                bool isHalf = half.TryGetValue(input, out bool h) && h;
                bool wantHalf = convert && !RequiresFloat32(node.OpType, k);
                if (wantHalf && !isHalf && g.IsFloat(input))
                {
                    node.Input[k] = g.Initializers.ContainsKey(input) ? HalfInitializer(g, input, initializers16) : Cast(g, input, Float16, castTo16, nodes);
                }
                else if (!wantHalf && isHalf && node.OpType != "Cast")
                {
                    node.Input[k] = Cast(g, input, Float, castTo32, nodes);
                }
            }

            if (convert)
            {
                ConvertAttributes(node);
                foreach (string output in node.Output)
                {
                    if (output.Length != 0 && g.IsFloat(output))
                    {
                        half[output] = true;
                        g.SetType(output, Float16);
                    }
                }

                result.Transformed.Add(node.Name);
            }
            else if (standard && node.OpType is not ("Cast" or "Shape" or "Size") && (keepOps.Contains(node.OpType) || keepNodes.Contains(node.Name)))
            {
                result.Note(node.Name, $"kept in float32 ({node.OpType} is on the keep-list or the node is excluded)");
            }
            else if (!standard)
            {
                result.Note(node.Name, $"kept in float32: operator {node.Domain}.{node.OpType} is not in the default ONNX domain");
            }

            nodes.Add(node);
        }

        // Graph outputs now produced in float16.
        foreach (ValueInfoProto output in g.Graph.Output)
        {
            if (!(half.TryGetValue(output.Name, out bool h) && h))
            {
                continue;
            }

            if (step.KeepInputsAndOutputsFloat32)
            {
                // The producer writes a float16 value; a Cast restores the float32 output under the original name.
                string renamed = g.UniqueName(output.Name + "_float16");
                foreach (NodeProto node in nodes)
                {
                    for (int k = 0; k < node.Output.Count; k++)
                    {
                        if (node.Output[k] == output.Name)
                        {
                            node.Output[k] = renamed;
                        }
                    }

                    for (int k = 0; k < node.Input.Count; k++)
                    {
                        if (node.Input[k] == output.Name)
                        {
                            node.Input[k] = renamed;
                        }
                    }
                }

                nodes.Add(g.NewNode("Cast", output.Name + "_Cast", [renamed], [output.Name], OnnxGraph.IntAttribute("to", Float)));
            }
            else if (output.Type?.TensorType is { } tt)
            {
                tt.ElemType = Float16;
            }
        }

        g.Graph.Node.Clear();
        g.Graph.Node.Add(nodes);
        result.Measures["nodes_converted"] = result.Transformed.Count;
        result.Measures["initializers_converted"] = initializers16.Count;
        result.Measures["casts_inserted"] = castTo16.Count + castTo32.Count;
        return result;
    }

    private static bool RequiresFloat32(string opType, int input) => (opType, input) switch
    {
        ("Resize", 1 or 2) => true,
        ("Upsample", 1) => true,
        ("Dropout", 1) => true,
        _ => false,
    };

    private static string HalfInitializer(OnnxGraph g, string name, Dictionary<string, string> converted)
    {
        if (!converted.TryGetValue(name, out string? half))
        {
            TensorProto t = g.Initializers[name];
            half = g.UniqueName(name + "_float16");
            g.AddInitializer(OnnxGraph.Float16Tensor(half, OnnxGraph.ReadFloats(t), OnnxGraph.Dims(t)));
            converted[name] = half;
        }

        return half;
    }

    private static string Cast(OnnxGraph g, string value, int to, Dictionary<string, string> cache, List<NodeProto> nodes)
    {
        if (!cache.TryGetValue(value, out string? cast))
        {
            cast = g.UniqueName(value + (to == Float16 ? "_to_float16" : "_to_float32"));
            nodes.Add(g.NewNode("Cast", cast, [value], [cast], OnnxGraph.IntAttribute("to", to)));
            g.SetType(cast, to);
            cache[value] = cast;
        }

        return cast;
    }

    // Float tensors inside attributes (for example a Constant's value) and ConstantOfShape values follow the node's precision.
    private static void ConvertAttributes(NodeProto node)
    {
        foreach (AttributeProto a in node.Attribute)
        {
            if (a.T is { DataType: Float } t)
            {
                float[] v = OnnxGraph.ReadFloats(t);
                a.T = OnnxGraph.Float16Tensor(t.Name, v, OnnxGraph.Dims(t));
            }
        }
    }

    private static void ProducersOfSubgraphReferences(OnnxGraph g, HashSet<string> keepNodes)
    {
        if (g.SubgraphReferences.Count == 0)
        {
            return;
        }

        foreach (NodeProto node in g.Graph.Node)
        {
            if (node.Output.Any(g.SubgraphReferences.Contains))
            {
                keepNodes.Add(node.Name);
            }
        }
    }
}
