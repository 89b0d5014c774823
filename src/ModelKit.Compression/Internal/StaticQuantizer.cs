using System.Globalization;
using Google.Protobuf;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving;

namespace ModelKit.Compression.Internal;

/// <summary>
/// Static int8 quantization in QDQ format (onnx/docs/Operators.md, QuantizeLinear and DequantizeLinear; ONNX Runtime's
/// "QDQ format" that its optimizer fuses into QLinearConv, QGemm, QLinearMatMul, QLinearAdd, ...). Each quantized activation
/// gets one <c>QuantizeLinear → DequantizeLinear</c> pair right after it is produced, which every quantized consumer reads;
/// weights are stored as int8 behind a DequantizeLinear; Conv and Gemm biases as int32 at scale input × weight.
/// </summary>
internal static class StaticQuantizer
{
    private const int Float = (int)TensorProto.Types.DataType.Float;

    private static readonly HashSet<string> s_weighted = new(StringComparer.Ordinal) { "Conv", "Gemm", "MatMul" };

    // Operators that only move or select values: their output shares the input's scale and zero point, so ORT drops the pair.
    private static readonly HashSet<string> s_sharesParameters = new(StringComparer.Ordinal)
    {
        "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "MaxPool",
    };

    public static StepResult Apply(OnnxGraph g, StaticQuantizationStep step, IInferenceSessionFactory sessions, CalibrationData? data, CancellationToken cancellationToken)
    {
        var result = new StepResult(step);
        CheckCalibration(g, data);
        int from = g.Opset;
        if (from < 13 && step.PerChannel && OpsetUpgrader.TryUpgrade(g, 13) is { } reason13)
        {
            result.Notes.Add($"model: opset {from} kept: {reason13}");
        }

        if (g.Opset < 10 && OpsetUpgrader.TryUpgrade(g, 10) is { } reason10)
        {
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"model: kept in float: QuantizeLinear needs opset 10, the model imports opset {from} and cannot be upgraded: {reason10}"));
            return result;
        }

        if (g.Opset != from)
        {
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"model: default-domain opset upgraded from {from} to {g.Opset}"));
        }

        bool perChannel = step.PerChannel && g.Opset >= 13;
        if (step.PerChannel && !perChannel)
        {
            result.Notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"model: weights quantized per tensor: per-channel DequantizeLinear (axis) needs opset 13, the model imports opset {g.Opset}"));
        }

        int foldedNorms = BatchNormFolder.Fold(g, result);
        result.Measures["batch_normalizations_folded"] = foldedNorms;

        // 1. Which nodes are quantized, and which of their float inputs and outputs.
        var ops = new HashSet<string>(step.OperatorTypes, StringComparer.Ordinal);
        var exclude = new HashSet<string>(step.NodesToExclude, StringComparer.Ordinal);
        var selected = new List<NodeProto>();
        var activations = new HashSet<string>(StringComparer.Ordinal);
        var weightInputs = new Dictionary<NodeProto, int>(ReferenceEqualityComparer.Instance);
        foreach (NodeProto node in g.Graph.Node)
        {
            if ((node.Domain.Length != 0 && node.Domain != "ai.onnx") || !ops.Contains(node.OpType))
            {
                continue;
            }

            if (exclude.Contains(node.Name))
            {
                result.Note(node.Name, "kept in float: listed in NodesToExclude");
                continue;
            }

            if (!Select(g, node, result, out bool constantWeight))
            {
                continue;
            }

            selected.Add(node);
            if (constantWeight)
            {
                weightInputs[node] = 1;
            }
        }

        var selectedSet = new HashSet<NodeProto>(selected, ReferenceEqualityComparer.Instance);
        foreach (NodeProto node in selected)
        {
            foreach (int k in ActivationInputs(g, node, weightInputs.ContainsKey(node)))
            {
                activations.Add(node.Input[k]);
            }

            string output = node.Output[0];
            if (g.IsFloat(output) && !g.GraphOutputs.Contains(output))
            {
                activations.Add(output);
            }
        }

        // 2. Relu and Clip(min 0) after a quantized producer fold into its output's quantization (asymmetric activations only):
        // a uint8 zero point of 0 clamps negatives exactly as the activation would.
        var folded = new Dictionary<NodeProto, NodeProto>(ReferenceEqualityComparer.Instance);
        if (!step.SymmetricActivations)
        {
            Dictionary<string, List<NodeProto>> consumers = g.ConsumerMap();
            Dictionary<string, NodeProto> producers = g.ProducerMap();
            foreach (NodeProto act in selected.Where(n => n.OpType is "Relu" or "Clip").ToList())
            {
                if (act.OpType == "Clip" && !ClipsAtZero(g, act))
                {
                    continue;
                }

                string x = act.Input[0], y = act.Output[0];
                if (!producers.TryGetValue(x, out NodeProto? producer) || !selectedSet.Contains(producer) || producer.OpType is "Relu" or "Clip"
                    || s_sharesParameters.Contains(producer.OpType) || consumers[x].Count != 1 || g.GraphOutputs.Contains(x) || g.SubgraphReferences.Contains(x)
                    || g.GraphOutputs.Contains(y) || g.SubgraphReferences.Contains(y)
                    || !consumers.TryGetValue(y, out List<NodeProto>? readers) || readers.Any(r => !selectedSet.Contains(r)))
                {
                    continue;
                }

                folded[act] = producer;
                activations.Remove(x);
            }
        }

        // 3. Calibrate: run the data with every activation exposed as a graph output.
        Dictionary<string, TensorStatistics> stats = Calibrate(g, activations, step, sessions, data!, cancellationToken);
        result.Measures["calibration_batches"] = data!.Batches.Count;

        // 4. Scales and zero points.
        var parameters = new Dictionary<string, (float Scale, int ZeroPoint)>(StringComparer.Ordinal);
        foreach (string a in activations)
        {
            (float lo, float hi) = Calibration.Range(stats[a], step.Method, step.Percentile, step.SymmetricActivations);
            if (step.SymmetricActivations)
            {
                parameters[a] = (Quantization.SymmetricInt8(lo, hi), 0);
            }
            else
            {
                (float s, byte zp) = Quantization.AsymmetricUInt8(lo, hi);
                parameters[a] = (s, zp);
            }
        }

        foreach (NodeProto node in selected)
        {
            if (s_sharesParameters.Contains(node.OpType) && parameters.TryGetValue(node.Input[0], out var p) && parameters.ContainsKey(node.Output[0]))
            {
                parameters[node.Output[0]] = p;
            }
        }

        // 5. Rewrite.
        Rewrite(g, step, perChannel, selected, folded, weightInputs, parameters, result);
        result.Measures["activations_quantized"] = parameters.Count;
        result.Measures["nodes_quantized"] = result.Transformed.Count;
        return result;
    }

    private static bool Select(OnnxGraph g, NodeProto node, StepResult result, out bool constantWeight)
    {
        constantWeight = false;
        if (node.Input.Count == 0 || !g.IsFloat(node.Input[0]))
        {
            result.Note(node.Name, "kept in float: input 0 is not known to be float32");
            return false;
        }

        if (!s_weighted.Contains(node.OpType))
        {
            return true;
        }

        if (node.Input.Count < 2)
        {
            return false;
        }

        if (node.OpType == "Gemm" && OnnxGraph.IntAttributeOr(node, "transA", 0) != 0)
        {
            result.Note(node.Name, "kept in float: transA = 1 is not supported");
            return false;
        }

        if (g.TryGetFloatInitializer(node.Input[1], out TensorProto w))
        {
            if ((node.OpType == "Conv" && w.Dims.Count < 3) || (node.OpType == "Gemm" && w.Dims.Count != 2))
            {
                result.Note(node.Name, $"kept in float: weight '{w.Name}' has an unexpected rank {w.Dims.Count}");
                return false;
            }

            constantWeight = true;
            return true;
        }

        if (node.OpType == "MatMul" && g.IsFloat(node.Input[1]) && !g.Initializers.ContainsKey(node.Input[1]))
        {
            return true;
        }

        result.Note(node.Name, $"kept in float: weight '{node.Input[1]}' is not a float32 constant");
        return false;
    }

    private static IEnumerable<int> ActivationInputs(OnnxGraph g, NodeProto node, bool constantWeight)
    {
        int count = node.OpType switch
        {
            "Conv" or "Gemm" => 1,
            "MatMul" => constantWeight ? 1 : 2,
            "Add" or "Mul" or "Concat" => node.Input.Count,
            _ => 1,
        };
        for (int k = 0; k < count; k++)
        {
            string input = node.Input[k];
            if (input.Length != 0 && g.IsFloat(input) && !g.Initializers.ContainsKey(input))
            {
                yield return k;
            }
        }
    }

    private static bool ClipsAtZero(OnnxGraph g, NodeProto clip)
    {
        if (g.Opset < 11)
        {
            return OnnxGraph.FloatAttributeOr(clip, "min", float.MinValue) == 0;
        }

        return clip.Input.Count > 1 && g.TryGetFloatInitializer(clip.Input[1], out TensorProto min)
            && OnnxGraph.ElementCount(min) == 1 && OnnxGraph.ReadFloats(min)[0] == 0;
    }

    private static void CheckCalibration(OnnxGraph g, CalibrationData? data)
    {
        if (data is null)
        {
            throw new CompressionException("Static quantization needs calibration data (a few hundred representative inputs) to measure activation ranges, but none was given. Pass CalibrationData, for example CalibrationData.FromSamples(...).");
        }

        if (data.Batches.Count == 0)
        {
            throw new CompressionException("The calibration data is empty (0 batches). Give at least one batch of representative inputs.");
        }

        ModelSignature signature;
        try
        {
            signature = OnnxModel.Load(g.Model.ToByteArray()).ReadSignature();
        }
        catch (InvalidModelException ex)
        {
            throw new CompressionException($"The model before static quantization failed ONNX validation ({ex.Message}). This is a defect in the compressor: report it with the model.", ex);
        }

        for (int b = 0; b < data.Batches.Count; b++)
        {
            IReadOnlyList<NamedTensor> batch = data.Batches[b];
            foreach (TensorSpec spec in signature.Inputs)
            {
                NamedTensor? found = batch.FirstOrDefault(t => t.Name == spec.Name) is { Value: not null } t0 ? t0 : null;
                if (found is not { } tensor)
                {
                    throw new CompressionException(string.Create(CultureInfo.InvariantCulture,
                        $"Calibration batch {b} has no tensor for model input '{spec.Name}' ({spec.ElementType} {TensorSpec.FormatShape(spec.Shape)}); it has {string.Join(", ", batch.Select(x => $"'{x.Name}'"))}. Name each tensor after a model input."));
                }

                if (tensor.Value.ElementType != spec.ElementType || !spec.Accepts(tensor.Value.Shape))
                {
                    throw new CompressionException(string.Create(CultureInfo.InvariantCulture,
                        $"Calibration batch {b} input '{spec.Name}' is {tensor.Value.ElementType} {TensorSpec.FormatShape(tensor.Value.Shape)} but the model expects {spec.ElementType} {TensorSpec.FormatShape(spec.Shape)} (-1 = any size). Reshape or convert the calibration data."));
                }
            }

            foreach (NamedTensor t in batch)
            {
                if (!signature.Inputs.Any(s => s.Name == t.Name))
                {
                    throw new CompressionException(
                        $"Calibration batch {b} has tensor '{t.Name}', which is not a model input; the inputs are {string.Join(", ", signature.Inputs.Select(s => $"'{s.Name}'"))}.");
                }
            }
        }
    }

    private static Dictionary<string, TensorStatistics> Calibrate(
        OnnxGraph g, HashSet<string> activations, StaticQuantizationStep step, IInferenceSessionFactory sessions, CalibrationData data, CancellationToken cancellationToken)
    {
        ModelProto augmented = g.Model.Clone();
        var exposed = new HashSet<string>(g.GraphOutputs, StringComparer.Ordinal);
        foreach (string a in activations.Order(StringComparer.Ordinal))
        {
            if (exposed.Add(a))
            {
                augmented.Graph.Output.Add(new ValueInfoProto
                {
                    Name = a,
                    Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float } },
                });
            }
        }

        augmented.Graph.ValueInfo.Clear();
        var stats = activations.ToDictionary(a => a, _ => new TensorStatistics(), StringComparer.Ordinal);
        using IInferenceSession session = sessions.Create(augmented.ToByteArray());
        bool histograms = step.Method != CalibrationMethod.MinMax;
        for (int pass = 0; pass < (histograms ? 2 : 1); pass++)
        {
            if (pass == 1)
            {
                foreach (TensorStatistics s in stats.Values)
                {
                    s.StartHistograms(step.HistogramBins);
                }
            }

            foreach (IReadOnlyList<NamedTensor> batch in data.Batches)
            {
                cancellationToken.ThrowIfCancellationRequested();
                IReadOnlyList<NamedTensor> outputs = session.Run(batch);
                foreach (NamedTensor output in outputs)
                {
                    if (stats.TryGetValue(output.Name, out TensorStatistics? s) && output.Value is Tensor<float> values)
                    {
                        if (pass == 0)
                        {
                            s.AddRange(values.Span);
                        }
                        else
                        {
                            s.AddToHistograms(values.Span);
                        }
                    }
                }
            }
        }

        return stats;
    }

    private static void Rewrite(
        OnnxGraph g,
        StaticQuantizationStep step,
        bool perChannel,
        List<NodeProto> selected,
        Dictionary<NodeProto, NodeProto> folded,
        Dictionary<NodeProto, int> weightInputs,
        Dictionary<string, (float Scale, int ZeroPoint)> parameters,
        StepResult result)
    {
        var selectedSet = new HashSet<NodeProto>(selected, ReferenceEqualityComparer.Instance);
        var dequantized = new Dictionary<string, string>(StringComparer.Ordinal);
        var weights = new Dictionary<string, (string Name, float[] Scales)>(StringComparer.Ordinal);
        var nodes = new List<NodeProto>(g.Graph.Node.Count * 3);
        TensorProto.Types.DataType activationType = step.SymmetricActivations ? TensorProto.Types.DataType.Int8 : TensorProto.Types.DataType.Uint8;

        // A folded activation's output is now written by its producer.
        var foldedOutputs = new Dictionary<NodeProto, string>(ReferenceEqualityComparer.Instance);
        foreach ((NodeProto act, NodeProto producer) in folded)
        {
            foldedOutputs[producer] = act.Output[0];
            result.Note(act.Name, $"folded into the quantization of '{producer.Name}' (uint8 zero point 0 clamps as {act.OpType} does)");
        }

        foreach (string input in g.GraphInputs)
        {
            if (parameters.TryGetValue(input, out var p))
            {
                EmitPair(g, input, p, activationType, nodes, dequantized);
            }
        }

        foreach (NodeProto node in g.Graph.Node)
        {
            if (folded.ContainsKey(node))
            {
                continue;
            }

            if (foldedOutputs.TryGetValue(node, out string? newOutput))
            {
                node.Output[0] = newOutput;
            }

            if (selectedSet.Contains(node))
            {
                (float Scale, int ZeroPoint)? input0 = parameters.TryGetValue(node.Input[0], out var p0) ? p0 : null;
                bool any = false;
                for (int k = 0; k < node.Input.Count; k++)
                {
                    if (dequantized.TryGetValue(node.Input[k], out string? dq))
                    {
                        node.Input[k] = dq;
                        any = true;
                    }
                }

                if (weightInputs.ContainsKey(node))
                {
                    any |= QuantizeWeightAndBias(g, node, perChannel, input0, weights, nodes, result);
                }
                else if (node.OpType is "Add" or "Mul" or "Concat")
                {
                    for (int k = 0; k < node.Input.Count; k++)
                    {
                        if (g.TryGetFloatInitializer(node.Input[k], out TensorProto c))
                        {
                            node.Input[k] = ConstantPerTensor(g, c, nodes);
                        }
                    }
                }

                if (any)
                {
                    result.Transformed.Add(node.Name);
                }
            }

            nodes.Add(node);
            foreach (string output in node.Output)
            {
                if (parameters.TryGetValue(output, out var p))
                {
                    EmitPair(g, output, p, activationType, nodes, dequantized);
                }
            }
        }

        g.Graph.Node.Clear();
        g.Graph.Node.Add(nodes);
    }

    private static void EmitPair(OnnxGraph g, string value, (float Scale, int ZeroPoint) p, TensorProto.Types.DataType type, List<NodeProto> nodes, Dictionary<string, string> dequantized)
    {
        string scale = g.UniqueName(value + "_scale");
        string zp = g.UniqueName(value + "_zero_point");
        string q = g.UniqueName(value + "_quantized");
        string dq = g.UniqueName(value + "_dequantized");
        g.AddInitializer(OnnxGraph.FloatTensor(scale, [p.Scale]));
        g.AddInitializer(type == TensorProto.Types.DataType.Int8
            ? OnnxGraph.Int8Tensor(zp, [(sbyte)p.ZeroPoint])
            : OnnxGraph.UInt8Tensor(zp, [(byte)p.ZeroPoint]));
        nodes.Add(g.NewNode("QuantizeLinear", value + "_QuantizeLinear", [value, scale, zp], [q]));
        nodes.Add(g.NewNode("DequantizeLinear", value + "_DequantizeLinear", [q, scale, zp], [dq]));
        g.SetType(q, (int)type);
        g.SetType(dq, Float);
        dequantized[value] = dq;
    }

    private static string ConstantPerTensor(OnnxGraph g, TensorProto c, List<NodeProto> nodes)
    {
        float[] v = OnnxGraph.ReadFloats(c);
        long[] dims = OnnxGraph.Dims(c);
        float[] scales = Quantization.SymmetricScales(v, dims, -1);
        sbyte[] q = Quantization.QuantizeInt8(v, dims, -1, scales);
        return EmitWeight(g, c.Name, q, dims, scales, -1, nodes);
    }

    private static string EmitWeight(OnnxGraph g, string name, sbyte[] q, long[] dims, float[] scales, int axis, List<NodeProto> nodes)
    {
        string wq = g.UniqueName(name + "_quantized");
        string ws = g.UniqueName(name + "_scale");
        string wzp = g.UniqueName(name + "_zero_point");
        string dq = g.UniqueName(name + "_dequantized");
        g.AddInitializer(OnnxGraph.Int8Tensor(wq, q, dims));
        if (axis >= 0)
        {
            g.AddInitializer(OnnxGraph.FloatTensor(ws, scales, scales.Length));
            g.AddInitializer(OnnxGraph.Int8Tensor(wzp, new sbyte[scales.Length], scales.Length));
            nodes.Add(g.NewNode("DequantizeLinear", name + "_DequantizeLinear", [wq, ws, wzp], [dq], OnnxGraph.IntAttribute("axis", axis)));
        }
        else
        {
            g.AddInitializer(OnnxGraph.FloatTensor(ws, scales));
            g.AddInitializer(OnnxGraph.Int8Tensor(wzp, [0]));
            nodes.Add(g.NewNode("DequantizeLinear", name + "_DequantizeLinear", [wq, ws, wzp], [dq]));
        }

        g.SetType(dq, Float);
        return dq;
    }

    private static bool QuantizeWeightAndBias(
        OnnxGraph g, NodeProto node, bool perChannel, (float Scale, int ZeroPoint)? input,
        Dictionary<string, (string Name, float[] Scales)> weights, List<NodeProto> nodes, StepResult result)
    {
        g.TryGetFloatInitializer(node.Input[1], out TensorProto w);
        long[] dims = OnnxGraph.Dims(w);
        int axis = node.OpType switch
        {
            "Conv" => 0,
            "Gemm" => OnnxGraph.IntAttributeOr(node, "transB", 0) != 0 ? 0 : 1,
            _ => dims.Length == 2 ? 1 : -1,
        };
        if (!perChannel)
        {
            axis = -1;
        }

        if (!weights.TryGetValue(w.Name, out (string Name, float[] Scales) quantized))
        {
            float[] v = OnnxGraph.ReadFloats(w);
            float[] scales = Quantization.SymmetricScales(v, dims, axis);
            sbyte[] q = Quantization.QuantizeInt8(v, dims, axis, scales);
            quantized = (EmitWeight(g, w.Name, q, dims, scales, axis, nodes), scales);
            weights[w.Name] = quantized;
        }

        node.Input[1] = quantized.Name;

        // Bias: int32 at scale input_scale × weight_scale, zero point 0 (the form QLinearConv and QGemm take).
        bool hasBias = node.OpType is "Conv" or "Gemm" && node.Input.Count > 2 && node.Input[2].Length != 0;
        if (!hasBias)
        {
            return true;
        }

        bool plainGemm = node.OpType != "Gemm" || (OnnxGraph.FloatAttributeOr(node, "alpha", 1) == 1 && OnnxGraph.FloatAttributeOr(node, "beta", 1) == 1);
        if (input is not { } x || !g.TryGetFloatInitializer(node.Input[2], out TensorProto b) || !plainGemm)
        {
            result.Note(node.Name, "bias kept in float32 (not a constant, alpha/beta ≠ 1, or input not quantized)");
            return true;
        }

        int channels = quantized.Scales.Length;
        float[] bias = OnnxGraph.ReadFloats(b);
        if (b.Dims.Count != 1 || (channels > 1 && bias.Length != channels))
        {
            result.Note(node.Name, $"bias '{b.Name}' kept in float32: shape {TensorSpec.FormatShape(OnnxGraph.Dims(b))} is not one value per output channel");
            return true;
        }

        float[] biasScales = new float[channels];
        for (int c = 0; c < channels; c++)
        {
            biasScales[c] = x.Scale * quantized.Scales[c];
        }

        int[] q32 = new int[bias.Length];
        for (int c = 0; c < bias.Length; c++)
        {
            double value = Math.Round(bias[c] / (double)biasScales[channels > 1 ? c : 0], MidpointRounding.ToEven);
            q32[c] = (int)Math.Clamp(value, int.MinValue + 1, int.MaxValue);
        }

        string bq = g.UniqueName(b.Name + "_quantized");
        string bs = g.UniqueName(b.Name + "_scale");
        string bzp = g.UniqueName(b.Name + "_zero_point");
        string bdq = g.UniqueName(b.Name + "_dequantized");
        g.AddInitializer(OnnxGraph.Int32Tensor(bq, q32, bias.Length));
        if (biasScales.Length > 1)
        {
            g.AddInitializer(OnnxGraph.FloatTensor(bs, biasScales, biasScales.Length));
            g.AddInitializer(OnnxGraph.Int32Tensor(bzp, new int[biasScales.Length], biasScales.Length));
            nodes.Add(g.NewNode("DequantizeLinear", b.Name + "_DequantizeLinear", [bq, bs, bzp], [bdq], OnnxGraph.IntAttribute("axis", 0)));
        }
        else
        {
            g.AddInitializer(OnnxGraph.FloatTensor(bs, biasScales));
            g.AddInitializer(OnnxGraph.Int32Tensor(bzp, [0]));
            nodes.Add(g.NewNode("DequantizeLinear", b.Name + "_DequantizeLinear", [bq, bs, bzp], [bdq]));
        }

        g.SetType(bdq, Float);
        node.Input[2] = bdq;
        return true;
    }
}
