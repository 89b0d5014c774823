namespace ModelKit.Serving;

/// <summary>
/// A bfloat16 value (ONNX element type <c>BFLOAT16</c>): the upper 16 bits of an IEEE 754 float32 (1 sign bit, 8 exponent
/// bits, 7 mantissa bits). Use it as the element type of a <see cref="Tensor{T}"/>; convert with the explicit operators.
/// </summary>
/// <param name="RawValue">The 16 bits, as stored in memory.</param>
public readonly record struct BFloat16(ushort RawValue)
{
    /// <summary>Converts a float, rounding to the nearest bfloat16 (ties to even); NaN stays NaN.</summary>
    /// <param name="value">The value.</param>
    public static explicit operator BFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return new BFloat16((ushort)((bits >> 16) | 0x0040));
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return new BFloat16((ushort)((bits + rounding) >> 16));
    }

    /// <summary>Converts to float exactly.</summary>
    /// <param name="value">The value.</param>
    public static explicit operator float(BFloat16 value) => BitConverter.UInt32BitsToSingle((uint)value.RawValue << 16);

    /// <summary>Converts a float, rounding to the nearest bfloat16 (ties to even).</summary>
    /// <param name="value">The value.</param>
    /// <returns>The bfloat16 value.</returns>
    public static BFloat16 FromSingle(float value) => (BFloat16)value;

    /// <summary>Converts to float exactly.</summary>
    /// <returns>The float value.</returns>
    public float ToSingle() => (float)this;
}
