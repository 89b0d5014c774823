using System.Globalization;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>
/// Dynamic int8 quantization. A MatMul or Gemm with a constant float32 weight W becomes
/// <c>DynamicQuantizeLinear(A) → MatMulInteger(A_q, W_q, A_zp, W_zp) → Cast(float) → Mul(A_scale × W_scale) → Add(bias)</c>,
/// the form ONNX Runtime's optimizer fuses into <c>DynamicQuantizeMatMul</c> (ORT's MatMulIntegerToFloat and
/// DynamicQuantizeMatMul fusions). W is int8, symmetric (zero point 0), with one scale per output column or per tensor. A Conv
/// becomes <c>DynamicQuantizeLinear → ConvInteger → Cast → Mul → Add</c> with uint8 weights whose zero point is 128
/// (symmetric in value; ONNX Runtime's CPU ConvInteger takes uint8 weights). Each activation is quantized once however many
/// nodes read it.
/// </summary>
internal static class DynamicQuantizer
{
    public static StepResult Apply(OnnxGraph g, DynamicQuantizationStep step)
    {
        var result = new StepResult(step);
        if (g.Opset < 11)
        {
            int from = g.Opset;
            if (OpsetUpgrader.TryUpgrade(g, 11) is { } reason)
            {
                result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"model: kept in float: DynamicQuantizeLinear needs opset 11, the model imports opset {from} and cannot be upgraded: {reason}"));
                return result;
            }

            result.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"model: default-domain opset upgraded from {from} to 11"));
        }

        var exclude = new HashSet<string>(step.NodesToExclude, StringComparer.Ordinal);
        var ops = new HashSet<string>(step.OperatorTypes, StringComparer.Ordinal);
        var activations = new Dictionary<string, (string Q, string Scale, string ZeroPoint)>(StringComparer.Ordinal);
        var nodes = new List<NodeProto>(g.Graph.Node.Count * 3);
        foreach (NodeProto node in g.Graph.Node)
        {
            if ((node.Domain.Length != 0 && node.Domain != "ai.onnx") || !ops.Contains(node.OpType))
            {
                nodes.Add(node);
                continue;
            }

            if (exclude.Contains(node.Name))
            {
                result.Note(node.Name, "kept in float: listed in NodesToExclude");
                nodes.Add(node);
                continue;
            }

            List<NodeProto>? replacement = node.OpType == "Conv"
                ? QuantizeConv(g, node, step, activations, result)
                : QuantizeMatMul(g, node, step, activations, result);
            if (replacement is null)
            {
                nodes.Add(node);
            }
            else
            {
                nodes.AddRange(replacement);
                result.Transformed.Add(node.Name);
            }
        }

        g.Graph.Node.Clear();
        g.Graph.Node.Add(nodes);
        result.Measures["nodes_quantized"] = result.Transformed.Count;
        result.Measures["activations_quantized"] = activations.Count;
        return result;
    }

    private static List<NodeProto>? QuantizeMatMul(
        OnnxGraph g, NodeProto node, DynamicQuantizationStep step, Dictionary<string, (string, string, string)> activations, StepResult result)
    {
        bool gemm = node.OpType == "Gemm";
        if (node.Input.Count < 2 || !g.IsFloat(node.Input[0]))
        {
            result.Note(node.Name, "kept in float: input A is not known to be float32");
            return null;
        }

        if (!g.TryGetFloatInitializer(node.Input[1], out TensorProto weight))
        {
            result.Note(node.Name, g.Initializers.ContainsKey(node.Input[1])
                ? $"kept in float: weight '{node.Input[1]}' is not float32"
                : $"kept in float: input B '{node.Input[1]}' is not a constant initializer (activation × activation products are not quantized dynamically)");
            return null;
        }

        if (weight.Dims.Count != 2)
        {
            result.Note(node.Name, $"kept in float: weight '{weight.Name}' has rank {weight.Dims.Count}; only 2-D weights are quantized");
            return null;
        }

        float alpha = 1, beta = 1;
        bool transB = false;
        if (gemm)
        {
            if (OnnxGraph.IntAttributeOr(node, "transA", 0) != 0)
            {
                result.Note(node.Name, "kept in float: transA = 1 is not supported");
                return null;
            }

            alpha = OnnxGraph.FloatAttributeOr(node, "alpha", 1);
            beta = OnnxGraph.FloatAttributeOr(node, "beta", 1);
            transB = OnnxGraph.IntAttributeOr(node, "transB", 0) != 0;
        }

        string? bias = null;
        if (gemm && node.Input.Count > 2 && node.Input[2].Length != 0)
        {
            if (g.TryGetFloatInitializer(node.Input[2], out TensorProto c))
            {
                float[] cv = OnnxGraph.ReadFloats(c);
                if (beta != 1)
                {
                    for (int i = 0; i < cv.Length; i++)
                    {
                        cv[i] *= beta;
                    }
                }

                bias = g.UniqueName(c.Name + "_bias");
                g.AddInitializer(OnnxGraph.FloatTensor(bias, cv, OnnxGraph.Dims(c)));
            }
            else if (beta == 1 && g.IsFloat(node.Input[2]))
            {
                bias = node.Input[2];
            }
            else
            {
                result.Note(node.Name, "kept in float: bias C is not a float32 constant and beta ≠ 1");
                return null;
            }
        }

        float[] w = OnnxGraph.ReadFloats(weight);
        int rows = (int)weight.Dims[0], cols = (int)weight.Dims[1];
        if (transB)
        {
            w = Quantization.Transpose(w, rows, cols);
            (rows, cols) = (cols, rows);
        }

        if (alpha != 1)
        {
            for (int i = 0; i < w.Length; i++)
            {
                w[i] *= alpha;
            }
        }

        // W is [K, N]: one scale per output column N (axis 1).
        long[] dims = [rows, cols];
        int axis = step.PerChannel ? 1 : -1;
        float[] scales = Quantization.SymmetricScales(w, dims, axis);
        sbyte[] q = Quantization.QuantizeInt8(w, dims, axis, scales);
        string baseName = node.Name;
        string wq = g.UniqueName(weight.Name + "_quantized");
        string ws = g.UniqueName(weight.Name + "_scale");
        string wzp = g.UniqueName(weight.Name + "_zero_point");
        g.AddInitializer(OnnxGraph.Int8Tensor(wq, q, dims));
        g.AddInitializer(scales.Length == 1 ? OnnxGraph.FloatTensor(ws, scales) : OnnxGraph.FloatTensor(ws, scales, cols));
        g.AddInitializer(OnnxGraph.Int8Tensor(wzp, [0]));

        var nodes = new List<NodeProto>(6);
        (string aq, string aScale, string aZp) = QuantizeActivation(g, node.Input[0], activations, nodes);
        string integer = g.UniqueName(baseName + "_MatMulInteger_output");
        string asFloat = g.UniqueName(baseName + "_Cast_output");
        string scale = g.UniqueName(baseName + "_scales_mul_output");
        nodes.Add(g.NewNode("MatMulInteger", baseName + "_MatMulInteger", [aq, wq, aZp, wzp], [integer]));
        nodes.Add(g.NewNode("Cast", baseName + "_Cast", [integer], [asFloat], OnnxGraph.IntAttribute("to", (int)TensorProto.Types.DataType.Float)));
        nodes.Add(g.NewNode("Mul", baseName + "_scales_mul", [aScale, ws], [scale]));
        string output = node.Output[0];
        if (bias is null)
        {
            nodes.Add(g.NewNode("Mul", baseName + "_output_scale_mul", [asFloat, scale], [output]));
        }
        else
        {
            string scaled = g.UniqueName(baseName + "_output_scale_mul_output");
            nodes.Add(g.NewNode("Mul", baseName + "_output_scale_mul", [asFloat, scale], [scaled]));
            nodes.Add(g.NewNode("Add", baseName + "_bias_add", [scaled, bias], [output]));
        }

        return nodes;
    }

    private static List<NodeProto>? QuantizeConv(
        OnnxGraph g, NodeProto node, DynamicQuantizationStep step, Dictionary<string, (string, string, string)> activations, StepResult result)
    {
        if (node.Input.Count < 2 || !g.IsFloat(node.Input[0]))
        {
            result.Note(node.Name, "kept in float: input X is not known to be float32");
            return null;
        }

        if (!g.TryGetFloatInitializer(node.Input[1], out TensorProto weight) || weight.Dims.Count < 3)
        {
            result.Note(node.Name, $"kept in float: weight '{node.Input[1]}' is not a float32 constant of rank 3 or more");
            return null;
        }

        string? bias = null;
        long[] dims = OnnxGraph.Dims(weight);
        long m = dims[0];
        long[] channelShape = new long[dims.Length - 1];
        channelShape.AsSpan().Fill(1);
        channelShape[0] = m;
        if (node.Input.Count > 2 && node.Input[2].Length != 0)
        {
            if (!g.TryGetFloatInitializer(node.Input[2], out TensorProto b) || OnnxGraph.ElementCount(b) != m)
            {
                result.Note(node.Name, $"kept in float: bias '{node.Input[2]}' is not a float32 constant of {m} values");
                return null;
            }

            bias = g.UniqueName(b.Name + "_reshaped");
            g.AddInitializer(OnnxGraph.FloatTensor(bias, OnnxGraph.ReadFloats(b), channelShape));
        }

        float[] w = OnnxGraph.ReadFloats(weight);
        int axis = step.PerChannel ? 0 : -1;
        float[] scales = Quantization.SymmetricScales(w, dims, axis);
        sbyte[] q = Quantization.QuantizeInt8(w, dims, axis, scales);
        byte[] uq = new byte[q.Length];
        for (int i = 0; i < q.Length; i++)
        {
            uq[i] = (byte)(q[i] + 128);
        }

        string wq = g.UniqueName(weight.Name + "_quantized");
        string ws = g.UniqueName(weight.Name + "_scale");
        string wzp = g.UniqueName(weight.Name + "_zero_point");
        g.AddInitializer(OnnxGraph.UInt8Tensor(wq, uq, dims));
        g.AddInitializer(scales.Length == 1 ? OnnxGraph.FloatTensor(ws, scales) : OnnxGraph.FloatTensor(ws, scales, channelShape));
        g.AddInitializer(OnnxGraph.UInt8Tensor(wzp, [128]));

        var nodes = new List<NodeProto>(6);
        (string xq, string xScale, string xZp) = QuantizeActivation(g, node.Input[0], activations, nodes);
        string baseName = node.Name;
        string integer = g.UniqueName(baseName + "_ConvInteger_output");
        string asFloat = g.UniqueName(baseName + "_Cast_output");
        string scale = g.UniqueName(baseName + "_scales_mul_output");
        NodeProto conv = g.NewNode("ConvInteger", baseName + "_ConvInteger", [xq, wq, xZp, wzp], [integer]);
        conv.Attribute.Add(node.Attribute.Select(a => a.Clone()));
        nodes.Add(conv);
        nodes.Add(g.NewNode("Cast", baseName + "_Cast", [integer], [asFloat], OnnxGraph.IntAttribute("to", (int)TensorProto.Types.DataType.Float)));
        nodes.Add(g.NewNode("Mul", baseName + "_scales_mul", [xScale, ws], [scale]));
        string output = node.Output[0];
        if (bias is null)
        {
            nodes.Add(g.NewNode("Mul", baseName + "_output_scale_mul", [asFloat, scale], [output]));
        }
        else
        {
            string scaled = g.UniqueName(baseName + "_output_scale_mul_output");
            nodes.Add(g.NewNode("Mul", baseName + "_output_scale_mul", [asFloat, scale], [scaled]));
            nodes.Add(g.NewNode("Add", baseName + "_bias_add", [scaled, bias], [output]));
        }

        return nodes;
    }

    private static (string Q, string Scale, string ZeroPoint) QuantizeActivation(
        OnnxGraph g, string value, Dictionary<string, (string Q, string Scale, string ZeroPoint)> activations, List<NodeProto> nodes)
    {
        if (activations.TryGetValue(value, out (string, string, string) existing))
        {
            return existing;
        }

        // The DynamicQuantizeLinear node goes right before its first consumer: the value is defined by then.
        var names = (g.UniqueName(value + "_quantized"), g.UniqueName(value + "_scale"), g.UniqueName(value + "_zero_point"));
        nodes.Add(g.NewNode("DynamicQuantizeLinear", value + "_DynamicQuantizeLinear", [value], [names.Item1, names.Item2, names.Item3]));
        activations[value] = names;
        return names;
    }
}
