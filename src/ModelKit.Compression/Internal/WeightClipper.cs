using System.Globalization;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Internal;

/// <summary>
/// Clips the constant weights (input 1) of MatMul, Gemm and Conv: to ± the chosen percentile of |w|, or to
/// mean ± k standard deviations. Measures: <c>weights_clipped</c>, <c>weights_total</c>, <c>max_abs_before</c>,
/// <c>max_abs_after</c> (largest over layers), <c>range_reduction</c> (1 − sum of clipped ranges ÷ sum of original ranges).
/// </summary>
internal static class WeightClipper
{
    public static StepResult Apply(OnnxGraph g, WeightClippingStep step)
    {
        var result = new StepResult(step);
        long clipped = 0, total = 0;
        double rangeBefore = 0, rangeAfter = 0, maxBefore = 0, maxAfter = 0;
        foreach ((NodeProto node, TensorProto weight) in WeightedLayers(g, result))
        {
            float[] w = OnnxGraph.ReadFloats(weight);
            if (w.Length == 0)
            {
                continue;
            }

            float lo, hi;
            if (step.Mode == WeightClippingMode.Percentile)
            {
                float[] abs = new float[w.Length];
                for (int i = 0; i < w.Length; i++)
                {
                    abs[i] = Math.Abs(w[i]);
                }

                Array.Sort(abs);
                int k = (int)Math.Clamp(Math.Ceiling(step.Percentile / 100 * abs.Length) - 1, 0, abs.Length - 1);
                hi = abs[k];
                lo = -hi;
            }
            else
            {
                double mean = 0;
                foreach (float v in w)
                {
                    mean += v;
                }

                mean /= w.Length;
                double variance = 0;
                foreach (float v in w)
                {
                    variance += (v - mean) * (v - mean);
                }

                double sd = Math.Sqrt(variance / w.Length);
                lo = (float)(mean - (step.StandardDeviations * sd));
                hi = (float)(mean + (step.StandardDeviations * sd));
            }

            float min = float.MaxValue, max = float.MinValue;
            foreach (float v in w)
            {
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }

            long count = 0;
            for (int i = 0; i < w.Length; i++)
            {
                float c = Math.Clamp(w[i], lo, hi);
                if (c != w[i])
                {
                    w[i] = c;
                    count++;
                }
            }

            float newMin = Math.Max(min, lo), newMax = Math.Min(max, hi);
            total += w.Length;
            rangeBefore += max - min;
            rangeAfter += newMax - newMin;
            maxBefore = Math.Max(maxBefore, Math.Max(Math.Abs(min), Math.Abs(max)));
            maxAfter = Math.Max(maxAfter, Math.Max(Math.Abs(newMin), Math.Abs(newMax)));
            if (count > 0)
            {
                OnnxGraph.WriteFloats(weight, w, OnnxGraph.Dims(weight));
                clipped += count;
                result.Transformed.Add(node.Name);
                result.Note(node.Name, string.Create(CultureInfo.InvariantCulture,
                    $"clipped {count} of {w.Length} weights of '{weight.Name}' to [{lo:G4}, {hi:G4}] (range [{min:G4}, {max:G4}] → [{newMin:G4}, {newMax:G4}])"));
            }
        }

        result.Measures["weights_clipped"] = clipped;
        result.Measures["weights_total"] = total;
        result.Measures["max_abs_before"] = maxBefore;
        result.Measures["max_abs_after"] = maxAfter;
        result.Measures["range_reduction"] = rangeBefore > 0 ? 1 - (rangeAfter / rangeBefore) : 0;
        return result;
    }

    /// <summary>The MatMul, Gemm and Conv nodes whose input 1 is a float32 initializer, each weight once.</summary>
    public static List<(NodeProto Node, TensorProto Weight)> WeightedLayers(OnnxGraph g, StepResult? result)
    {
        var layers = new List<(NodeProto, TensorProto)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (NodeProto node in g.Graph.Node)
        {
            if ((node.Domain.Length != 0 && node.Domain != "ai.onnx") || node.OpType is not ("MatMul" or "Gemm" or "Conv") || node.Input.Count < 2)
            {
                continue;
            }

            if (!g.TryGetFloatInitializer(node.Input[1], out TensorProto weight))
            {
                result?.Note(node.Name, $"left as is: weight '{node.Input[1]}' is not a float32 initializer");
                continue;
            }

            if (seen.Add(weight.Name))
            {
                layers.Add((node, weight));
            }
        }

        return layers;
    }
}
