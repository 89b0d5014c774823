namespace ModelKit.Compression.Internal;

/// <summary>
/// Linear quantization arithmetic as QuantizeLinear defines it (onnx/docs/Operators.md): q = saturate(round(x / scale) + zero_point),
/// rounding half to even; x ≈ (q − zero_point) × scale.
/// </summary>
internal static class Quantization
{
    /// <summary>
    /// The largest magnitude a quantized weight takes: 63, i.e. 7-bit weights stored as int8 ("reduce range"). ONNX Runtime
    /// multiplies uint8 activations by int8 weights with VPMADDUBSW on x86-64 CPUs that have AVX2 or AVX-512 but not VNNI;
    /// it adds two u8×s8 products into a saturating int16, which overflows for 255 × 127 × 2 = 64,770 and silently corrupts
    /// results (ONNX Runtime's quantization documentation, "When and why do I need to try U8U8?" / reduce_range). With
    /// |q| ≤ 63 a pair stays within 2 × 255 × 63 = 32,130 &lt; 32,767, so the model computes the same on every CPU, with
    /// or without VNNI. The cost is one bit of weight resolution.
    /// </summary>
    public const int WeightLimit = 63;

    /// <summary>Symmetric int8 weight scales, one per channel along <paramref name="axis"/> (or one for the whole tensor when <paramref name="axis"/> is -1): max|w| / <see cref="WeightLimit"/>.</summary>
    public static float[] SymmetricScales(ReadOnlySpan<float> w, long[] dims, int axis)
    {
        if (axis < 0)
        {
            float max = 0;
            foreach (float v in w)
            {
                max = Math.Max(max, Math.Abs(v));
            }

            return [ScaleFor(max, WeightLimit)];
        }

        (int outer, int channels, int inner) = Split(dims, axis);
        float[] maxima = new float[channels];
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                ReadOnlySpan<float> block = w.Slice(((o * channels) + c) * inner, inner);
                float m = maxima[c];
                foreach (float v in block)
                {
                    m = Math.Max(m, Math.Abs(v));
                }

                maxima[c] = m;
            }
        }

        for (int c = 0; c < channels; c++)
        {
            maxima[c] = ScaleFor(maxima[c], WeightLimit);
        }

        return maxima;
    }

    /// <summary>Quantizes weights to int8 in [−<see cref="WeightLimit"/>, <see cref="WeightLimit"/>] with zero point 0 using per-channel (or one) scales.</summary>
    public static sbyte[] QuantizeInt8(ReadOnlySpan<float> w, long[] dims, int axis, float[] scales)
    {
        var q = new sbyte[w.Length];
        if (axis < 0)
        {
            for (int i = 0; i < w.Length; i++)
            {
                q[i] = (sbyte)Math.Clamp(MathF.Round(w[i] / scales[0], MidpointRounding.ToEven), -WeightLimit, WeightLimit);
            }

            return q;
        }

        (int outer, int channels, int inner) = Split(dims, axis);
        for (int o = 0; o < outer; o++)
        {
            for (int c = 0; c < channels; c++)
            {
                int start = ((o * channels) + c) * inner;
                float s = scales[c];
                for (int i = start; i < start + inner; i++)
                {
                    q[i] = (sbyte)Math.Clamp(MathF.Round(w[i] / s, MidpointRounding.ToEven), -WeightLimit, WeightLimit);
                }
            }
        }

        return q;
    }

    /// <summary>The uint8 scale and zero point for the range [min, max] widened to include 0: scale = (max − min) / 255.</summary>
    public static (float Scale, byte ZeroPoint) AsymmetricUInt8(float min, float max)
    {
        min = Math.Min(min, 0);
        max = Math.Max(max, 0);
        float scale = (max - min) / 255f;
        if (!(scale > 0) || float.IsInfinity(scale))
        {
            return (1f, 0);
        }

        float zp = MathF.Round(-min / scale, MidpointRounding.ToEven);
        return (scale, (byte)Math.Clamp(zp, 0, 255));
    }

    /// <summary>The int8 scale for the symmetric range [−a, a], a = max(|min|, |max|): scale = a / 127, zero point 0.</summary>
    public static float SymmetricInt8(float min, float max) => ScaleFor(Math.Max(Math.Abs(min), Math.Abs(max)), 127);

    private static float ScaleFor(float maxAbs, int limit) => maxAbs > 0 && float.IsFinite(maxAbs) ? maxAbs / limit : 1f;

    /// <summary>Splits a shape around <paramref name="axis"/>: (product before, size of axis, product after).</summary>
    public static (int Outer, int Channels, int Inner) Split(long[] dims, int axis)
    {
        long outer = 1, inner = 1;
        for (int i = 0; i < axis; i++)
        {
            outer *= dims[i];
        }

        for (int i = axis + 1; i < dims.Length; i++)
        {
            inner *= dims[i];
        }

        return (checked((int)outer), checked((int)dims[axis]), checked((int)inner));
    }

    /// <summary>Transposes a row-major [rows, cols] matrix.</summary>
    public static float[] Transpose(ReadOnlySpan<float> m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                t[(c * rows) + r] = m[(r * cols) + c];
            }
        }

        return t;
    }
}
