using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>
/// Folds an inference-mode BatchNormalization into the Conv before it (W' = W·γ/√(σ²+ε) per output channel,
/// b' = (b − μ)·γ/√(σ²+ε) + β), the rewrite ONNX Runtime's optimizer makes when it loads a model; done before static
/// quantization so that the folded weights, not the unfolded ones, are quantized and no float BatchNormalization stays between
/// int8 convolutions.
/// </summary>
internal static class BatchNormFolder
{
    public static int Fold(OnnxGraph g, StepResult result)
    {
        Dictionary<string, List<NodeProto>> consumers = g.ConsumerMap();
        Dictionary<string, NodeProto> producers = g.ProducerMap();
        var removed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        foreach (NodeProto bn in g.Graph.Node)
        {
            if (bn.OpType != "BatchNormalization" || (bn.Domain.Length != 0 && bn.Domain != "ai.onnx") || bn.Input.Count != 5
                || bn.Output.Skip(1).Any(o => o.Length != 0) || OnnxGraph.IntAttributeOr(bn, "training_mode", 0) != 0)
            {
                continue;
            }

            string x = bn.Input[0];
            if (!producers.TryGetValue(x, out NodeProto? conv) || conv.OpType != "Conv" || consumers[x].Count != 1
                || g.GraphOutputs.Contains(x) || g.SubgraphReferences.Contains(x) || conv.Input.Count < 2
                || !g.TryGetFloatInitializer(conv.Input[1], out TensorProto w) || consumers[w.Name].Count != 1)
            {
                continue;
            }

            var parameters = new float[4][];
            bool constant = true;
            for (int k = 0; k < 4; k++)
            {
                constant &= g.TryGetFloatInitializer(bn.Input[k + 1], out TensorProto p);
                parameters[k] = constant ? OnnxGraph.ReadFloats(p) : [];
            }

            long channels = w.Dims[0];
            if (!constant || parameters.Any(p => p.Length != channels))
            {
                continue;
            }

            TensorProto? bias = null;
            if (conv.Input.Count > 2 && conv.Input[2].Length != 0)
            {
                if (!g.TryGetFloatInitializer(conv.Input[2], out TensorProto b) || consumers[b.Name].Count != 1 || OnnxGraph.ElementCount(b) != channels)
                {
                    continue;
                }

                bias = b;
            }

            float epsilon = OnnxGraph.FloatAttributeOr(bn, "epsilon", 1e-5f);
            float[] weights = OnnxGraph.ReadFloats(w);
            float[] b0 = bias is null ? new float[channels] : OnnxGraph.ReadFloats(bias);
            int perChannel = (int)(weights.Length / channels);
            float[] folded = new float[channels];
            for (int c = 0; c < channels; c++)
            {
                float factor = parameters[0][c] / MathF.Sqrt(parameters[3][c] + epsilon);
                for (int i = c * perChannel; i < (c + 1) * perChannel; i++)
                {
                    weights[i] *= factor;
                }

                folded[c] = ((b0[c] - parameters[2][c]) * factor) + parameters[1][c];
            }

            OnnxGraph.WriteFloats(w, weights, OnnxGraph.Dims(w));
            string biasName = g.UniqueName(conv.Name + "_folded_bias");
            g.AddInitializer(OnnxGraph.FloatTensor(biasName, folded, channels));
            while (conv.Input.Count < 3)
            {
                conv.Input.Add(string.Empty);
            }

            conv.Input[2] = biasName;
            conv.Output[0] = bn.Output[0];
            removed.Add(bn);
            result.Note(bn.Name, $"folded into '{conv.Name}'");
        }

        if (removed.Count > 0)
        {
            var kept = g.Graph.Node.Where(n => !removed.Contains(n)).ToList();
            g.Graph.Node.Clear();
            g.Graph.Node.Add(kept);
            g.RemoveUnused();
        }

        return removed.Count;
    }
}
