using System.Globalization;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>Magnitude pruning (zeroes the smallest |w|) and structured pruning (removes whole channels from two layers).</summary>
internal static class Pruning
{
    private static readonly HashSet<string> s_channelwise = new(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Identity", "Dropout",
    };

    private static readonly HashSet<string> s_pooling = new(StringComparer.Ordinal)
    {
        "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
    };

    public static StepResult ApplyMagnitude(OnnxGraph g, MagnitudePruningStep step)
    {
        var result = new StepResult(step);
        List<(NodeProto Node, TensorProto Weight)> layers = WeightClipper.WeightedLayers(g, result);
        var weights = layers.Select(l => OnnxGraph.ReadFloats(l.Weight)).ToList();
        long total = weights.Sum(w => (long)w.Length);
        float globalThreshold = 0;
        long globalAtThreshold = 0;
        if (step.Global && total > 0)
        {
            float[] all = new float[total];
            long offset = 0;
            foreach (float[] w in weights)
            {
                for (int i = 0; i < w.Length; i++)
                {
                    all[offset + i] = Math.Abs(w[i]);
                }

                offset += w.Length;
            }

            (globalThreshold, globalAtThreshold) = Threshold(all, (long)Math.Floor(step.Sparsity * total));
        }

        long zeroed = 0, zeros = 0;
        for (int l = 0; l < layers.Count; l++)
        {
            float[] w = weights[l];
            float threshold;
            long atThreshold;
            if (step.Global)
            {
                (threshold, atThreshold) = (globalThreshold, globalAtThreshold);
            }
            else
            {
                float[] abs = w.Select(Math.Abs).ToArray();
                (threshold, atThreshold) = Threshold(abs, (long)Math.Floor(step.Sparsity * w.Length));
            }

            long count = 0;
            for (int i = 0; i < w.Length; i++)
            {
                float a = Math.Abs(w[i]);
                bool prune = a < threshold || (a == threshold && atThreshold-- > 0);
                if (prune && w[i] != 0)
                {
                    w[i] = 0;
                    count++;
                }

                if (w[i] == 0)
                {
                    zeros++;
                }
            }

            if (count > 0)
            {
                OnnxGraph.WriteFloats(layers[l].Weight, w, OnnxGraph.Dims(layers[l].Weight));
                result.Transformed.Add(layers[l].Node.Name);
                zeroed += count;
            }
        }

        result.Measures["weights_zeroed"] = zeroed;
        result.Measures["weights_total"] = total;
        result.Measures["sparsity"] = total == 0 ? 0 : (double)zeros / total;
        return result;
    }

    /// <summary>The k-th smallest magnitude (the threshold) and how many values equal to it are still to prune so that exactly k are pruned.</summary>
    private static (float Threshold, long AtThreshold) Threshold(float[] magnitudes, long k)
    {
        if (k <= 0)
        {
            return (0, 0);
        }

        float[] sorted = (float[])magnitudes.Clone();
        Array.Sort(sorted);
        float threshold = sorted[k - 1];
        long below = 0;
        foreach (float v in sorted)
        {
            if (v < threshold)
            {
                below++;
            }
            else
            {
                break;
            }
        }

        return (threshold, k - below);
    }

    public static StepResult ApplyStructured(OnnxGraph g, StructuredPruningStep step)
    {
        var result = new StepResult(step);
        var only = new HashSet<string>(step.Layers, StringComparer.Ordinal);
        long removed = 0, before = 0;
        foreach (NodeProto first in g.Graph.Node.ToList())
        {
            if (first.OpType is not ("Gemm" or "MatMul" or "Conv") || (first.Domain.Length != 0 && first.Domain != "ai.onnx"))
            {
                continue;
            }

            if (only.Count > 0 && !only.Contains(first.Name))
            {
                continue;
            }

            Dictionary<string, List<NodeProto>> consumers = g.ConsumerMap();
            if (!TryFindChain(g, first, consumers, out NodeProto? second, out bool flatten, out string? reason))
            {
                if (only.Count > 0 || reason is not null)
                {
                    result.Note(first.Name, "not pruned: " + (reason ?? "its output does not feed exactly one following layer through channel-wise operators"));
                }

                continue;
            }

            int pruned = PruneChain(g, first, second!, flatten, step.Fraction, consumers, out int channels, out string? failure);
            if (failure is not null)
            {
                result.Note(first.Name, "not pruned: " + failure);
                continue;
            }

            before += channels;
            if (pruned > 0)
            {
                removed += pruned;
                result.Transformed.Add(first.Name);
                result.Note(first.Name, string.Create(CultureInfo.InvariantCulture,
                    $"removed {pruned} of {channels} output channels (smallest L1 norm) and the matching inputs of '{second!.Name}'"));
            }
        }

        result.Measures["channels_removed"] = removed;
        result.Measures["channels_before"] = before;
        return result;
    }

    private static bool TryFindChain(
        OnnxGraph g, NodeProto first, Dictionary<string, List<NodeProto>> consumers, out NodeProto? second, out bool flatten, out string? reason)
    {
        second = null;
        flatten = false;
        reason = null;
        if (first.Input.Count < 2 || !g.TryGetFloatInitializer(first.Input[1], out _))
        {
            reason = "its weight is not a float32 initializer";
            return false;
        }

        if (first.OpType == "Conv" && OnnxGraph.IntAttributeOr(first, "group", 1) != 1)
        {
            reason = "grouped convolution";
            return false;
        }

        string value = first.Output[0];
        for (int hops = 0; hops < 8; hops++)
        {
            if (g.GraphOutputs.Contains(value) || g.SubgraphReferences.Contains(value)
                || !consumers.TryGetValue(value, out List<NodeProto>? readers) || readers.Count != 1)
            {
                return false;
            }

            NodeProto next = readers[0];
            for (int k = 1; k < next.Output.Count; k++)
            {
                if (next.Output[k].Length != 0 && (consumers.ContainsKey(next.Output[k]) || g.GraphOutputs.Contains(next.Output[k])))
                {
                    return false;
                }
            }

            if (next.OpType is "Gemm" or "MatMul" or "Conv" && next.Input[0] == value && next.Input.Count > 1 && g.TryGetFloatInitializer(next.Input[1], out _))
            {
                if (next.OpType == "Conv" && (first.OpType != "Conv" || flatten || OnnxGraph.IntAttributeOr(next, "group", 1) != 1))
                {
                    return false;
                }

                if (next.OpType != "Conv" && first.OpType == "Conv" && !flatten)
                {
                    return false;
                }

                second = next;
                return true;
            }

            bool channelwise = s_channelwise.Contains(next.OpType) && next.Input.Count >= 1 && next.Input[0] == value;
            bool pooling = first.OpType == "Conv" && !flatten && s_pooling.Contains(next.OpType);
            bool isFlatten = first.OpType == "Conv" && !flatten && next.OpType == "Flatten" && OnnxGraph.IntAttributeOr(next, "axis", 1) == 1;
            if (!(channelwise || pooling || isFlatten) || next.Input.Count > 1 && next.OpType != "Dropout")
            {
                return false;
            }

            flatten |= isFlatten;
            value = next.Output[0];
        }

        return false;
    }

    private static int PruneChain(
        OnnxGraph g, NodeProto first, NodeProto second, bool flatten, double fraction, Dictionary<string, List<NodeProto>> consumers,
        out int channels, out string? failure)
    {
        failure = null;
        g.TryGetFloatInitializer(first.Input[1], out TensorProto w1);
        g.TryGetFloatInitializer(second.Input[1], out TensorProto w2);
        channels = 0;
        if (consumers[w1.Name].Count != 1 || consumers[w2.Name].Count != 1 || g.SubgraphReferences.Contains(w1.Name) || g.SubgraphReferences.Contains(w2.Name))
        {
            failure = "a weight is shared with another node";
            return 0;
        }

        long[] d1 = OnnxGraph.Dims(w1), d2 = OnnxGraph.Dims(w2);
        int outAxis = first.OpType switch
        {
            "Conv" => 0,
            "Gemm" => OnnxGraph.IntAttributeOr(first, "transB", 0) != 0 ? 0 : 1,
            _ => d1.Length - 1,
        };
        if (first.OpType != "Conv" && d1.Length != 2)
        {
            failure = "its weight is not 2-D";
            return 0;
        }

        if (first.OpType == "Gemm" && OnnxGraph.IntAttributeOr(first, "transA", 0) != 0)
        {
            failure = "transA = 1";
            return 0;
        }

        channels = (int)d1[outAxis];
        int inAxis = second.OpType switch
        {
            "Conv" => 1,
            "Gemm" => OnnxGraph.IntAttributeOr(second, "transB", 0) != 0 ? 1 : 0,
            _ => 0,
        };
        if (second.OpType != "Conv" && d2.Length != 2)
        {
            failure = $"the weight of '{second.Name}' is not 2-D";
            return 0;
        }

        if (second.OpType == "Gemm" && OnnxGraph.IntAttributeOr(second, "transA", 0) != 0)
        {
            failure = $"'{second.Name}' has transA = 1";
            return 0;
        }

        long inputs = d2[inAxis];
        if (inputs % channels != 0 || (!flatten && inputs != channels))
        {
            failure = string.Create(CultureInfo.InvariantCulture, $"'{second.Name}' reads {inputs} inputs, which does not match {channels} channels");
            return 0;
        }

        int block = (int)(inputs / channels);

        // Bias of the first layer: a constant with one value per channel.
        TensorProto? bias = null;
        if (first.OpType != "MatMul" && first.Input.Count > 2 && first.Input[2].Length != 0)
        {
            if (!g.TryGetFloatInitializer(first.Input[2], out TensorProto b) || OnnxGraph.ElementCount(b) != channels || consumers[b.Name].Count != 1)
            {
                failure = $"its bias '{first.Input[2]}' is not a float32 constant of {channels} values used only here";
                return 0;
            }

            bias = b;
        }

        float[] v1 = OnnxGraph.ReadFloats(w1);
        var norms = new double[channels];
        (int outer, _, int inner) = Quantization.Split(d1, outAxis);
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                int start = ((o * channels) + c) * inner;
                for (int i = start; i < start + inner; i++)
                {
                    norms[c] += Math.Abs(v1[i]);
                }
            }
        }

        int remove = Math.Min((int)Math.Floor(fraction * channels), channels - 1);
        if (remove <= 0)
        {
            return 0;
        }

        int[] order = Enumerable.Range(0, channels).OrderBy(c => norms[c]).ThenBy(c => c).ToArray();
        bool[] keep = new bool[channels];
        Array.Fill(keep, true);
        for (int i = 0; i < remove; i++)
        {
            keep[order[i]] = false;
        }

        (float[] n1, long[] nd1) = Remove(v1, d1, outAxis, keep, 1);
        OnnxGraph.WriteFloats(w1, n1, nd1);
        (float[] n2, long[] nd2) = Remove(OnnxGraph.ReadFloats(w2), d2, inAxis, keep, block);
        OnnxGraph.WriteFloats(w2, n2, nd2);
        if (bias is not null)
        {
            long[] bd = OnnxGraph.Dims(bias);
            int count = channels;
            int axis = Array.FindIndex(bd, d => d == count);
            (float[] nb, long[] nbd) = Remove(OnnxGraph.ReadFloats(bias), bd, axis, keep, 1);
            OnnxGraph.WriteFloats(bias, nb, nbd);
        }

        return remove;
    }

    /// <summary>Removes the channels whose <paramref name="keep"/> is false along <paramref name="axis"/>; each channel spans <paramref name="block"/> consecutive indices.</summary>
    internal static (float[] Values, long[] Dims) Remove(float[] values, long[] dims, int axis, bool[] keep, int block)
    {
        (int outer, int size, int inner) = Quantization.Split(dims, axis);
        int kept = keep.Count(k => k) * block;
        var result = new float[outer * kept * inner];
        int w = 0;
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0; i < size; i++)
            {
                if (keep[i / block])
                {
                    Array.Copy(values, ((o * size) + i) * inner, result, w, inner);
                    w += inner;
                }
            }
        }

        long[] newDims = (long[])dims.Clone();
        newDims[axis] = kept;
        return (result, newDims);
    }
}
