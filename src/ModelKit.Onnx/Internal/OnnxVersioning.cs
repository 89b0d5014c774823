using System.Globalization;

namespace ModelKit.Onnx.Internal;

/// <summary>
/// The default-domain opset to IR version table of ONNX releases (onnx/onnx docs/Versioning.md, "Released
/// Versions"): the IR version the ONNX release that introduced an opset writes.
/// </summary>
internal static class OnnxVersioning
{
    /// <summary>The lowest default-domain opset a model may be written for (ONNX 1.2, the oldest ONNX Runtime supports).</summary>
    public const int MinOpset = 7;

    /// <summary>The highest default-domain opset a model may be written for (ONNX 1.18).</summary>
    public const int MaxOpset = 23;

    public static long IrVersionForOpset(int opset) => opset switch
    {
        7 or 8 => 3,      // ONNX 1.2, 1.3
        9 => 4,           // ONNX 1.4
        10 => 5,          // ONNX 1.5
        11 => 6,          // ONNX 1.6
        12 or 13 or 14 => 7, // ONNX 1.7, 1.8, 1.9
        15 or 16 or 17 or 18 => 8, // ONNX 1.10 to 1.13
        19 or 20 => 9,    // ONNX 1.14, 1.15
        21 or 22 => 10,   // ONNX 1.16, 1.17
        23 => 11,         // ONNX 1.18
        _ => throw new ArgumentOutOfRangeException(
            nameof(opset),
            opset,
            string.Create(CultureInfo.InvariantCulture, $"Opset {opset} is not supported: expected a default-domain ONNX opset from {MinOpset} to {MaxOpset}. Use opset 17 unless the model needs newer operators.")),
    };
}
