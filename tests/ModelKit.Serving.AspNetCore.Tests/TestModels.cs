using ModelKit.Onnx;

namespace ModelKit.Serving.AspNetCore.Tests;

/// <summary>Tiny ONNX models built in code, with weights whose products and sums are exact in float32.</summary>
internal static class TestModels
{
    public static readonly float[] GemmWeights = [1f, -2f, 0.5f, -1f, 0.25f, 2f];
    public static readonly float[] GemmBias = [0.5f, -0.25f];

    /// <summary>input FP32 [-1, 3] → Gemm(W, b, transB=1) → Relu → output FP32 [-1, 2].</summary>
    public static byte[] GemmRelu() =>
        new OnnxGraphBuilder()
            .AddInput("input", TensorElementType.Float, -1, 3)
            .AddInitializer("W", GemmWeights, 2, 3)
            .AddInitializer("b", GemmBias, 2)
            .AddNode("Gemm", ["input", "W", "b"], ["hidden"], OnnxAttribute.Int("transB", 1))
            .AddNode("Relu", ["hidden"], ["output"])
            .AddOutput("output", TensorElementType.Float, -1, 2)
            .ToBytes();

    /// <summary>x FP32 [-1, 3] → Mul(factor) → y FP32 [-1, 3]; tells versions apart by their factor.</summary>
    public static byte[] Scale(float factor) =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("factor", [factor], 1)
            .AddNode("Mul", ["x", "factor"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes();

    /// <summary>
    /// x FP32 [-1, 1000] → ten MatMuls with a 1000×1000 weight → y FP32 [-1, 1000]: about 6.4·10⁸ multiply-adds at batch 64
    /// (a few hundred milliseconds on one thread), so a batch is still running when the next requests arrive.
    /// </summary>
    public static byte[] Slow()
    {
        var builder = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 1000)
            .AddInitializer("w", new float[1000 * 1000], 1000, 1000);
        string previous = "x";
        for (int i = 0; i < 10; i++)
        {
            string next = i == 9 ? "y" : $"h{i}";
            builder.AddNode("MatMul", [previous, "w"], [next]);
            previous = next;
        }

        return builder.AddOutput("y", TensorElementType.Float, -1, 1000).ToBytes();
    }

    /// <summary>x T [-1, 2] → Identity → y T [-1, 2].</summary>
    public static byte[] Identity(TensorElementType elementType) =>
        new OnnxGraphBuilder()
            .AddInput("x", elementType, -1, 2)
            .AddNode("Identity", ["x"], ["y"])
            .AddOutput("y", elementType, -1, 2)
            .ToBytes();

    /// <summary>a INT64 [-1, 2], b INT64 [-1, 2] → Add → sum, and Sub → diff: two inputs, two outputs.</summary>
    public static byte[] AddSub() =>
        new OnnxGraphBuilder()
            .AddInput("a", TensorElementType.Int64, -1, 2)
            .AddInput("b", TensorElementType.Int64, -1, 2)
            .AddNode("Add", ["a", "b"], ["sum"])
            .AddNode("Sub", ["a", "b"], ["diff"])
            .AddOutput("sum", TensorElementType.Int64, -1, 2)
            .AddOutput("diff", TensorElementType.Int64, -1, 2)
            .ToBytes();

    public static float[] GemmReluReference(float[] input)
    {
        int batch = input.Length / 3;
        var output = new float[batch * 2];
        for (int n = 0; n < batch; n++)
        {
            for (int o = 0; o < 2; o++)
            {
                float sum = GemmBias[o];
                for (int i = 0; i < 3; i++)
                {
                    sum += input[(n * 3) + i] * GemmWeights[(o * 3) + i];
                }

                output[(n * 2) + o] = Math.Max(sum, 0f);
            }
        }

        return output;
    }

    /// <summary>Every Open Inference Protocol datatype with its element type.</summary>
    public static readonly string[] DatatypeNames = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES"];

    public static readonly TheoryData<string> Datatypes = new(["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16", "BF16", "FP32", "FP64", "BYTES"]);

    public static TensorElementType ElementType(string datatype) => datatype switch
    {
        "BOOL" => TensorElementType.Bool,
        "UINT8" => TensorElementType.UInt8,
        "UINT16" => TensorElementType.UInt16,
        "UINT32" => TensorElementType.UInt32,
        "UINT64" => TensorElementType.UInt64,
        "INT8" => TensorElementType.Int8,
        "INT16" => TensorElementType.Int16,
        "INT32" => TensorElementType.Int32,
        "INT64" => TensorElementType.Int64,
        "FP16" => TensorElementType.Float16,
        "BF16" => TensorElementType.BFloat16,
        "FP32" => TensorElementType.Float,
        "FP64" => TensorElementType.Double,
        _ => TensorElementType.String,
    };

    /// <summary>Four sample values per datatype (shape [2, 2]) as JSON literals, chosen to hit each type's extremes exactly.</summary>
    public static string[] JsonValues(string datatype) => datatype switch
    {
        "BOOL" => ["true", "false", "false", "true"],
        "UINT8" => ["0", "1", "200", "255"],
        "UINT16" => ["0", "1", "40000", "65535"],
        "UINT32" => ["0", "1", "3000000000", "4294967295"],
        "UINT64" => ["0", "1", "9007199254740993", "18446744073709551615"],
        "INT8" => ["-128", "-1", "0", "127"],
        "INT16" => ["-32768", "-1", "0", "32767"],
        "INT32" => ["-2147483648", "-1", "0", "2147483647"],
        "INT64" => ["-9223372036854775808", "-1", "0", "9223372036854775807"],
        "FP16" => ["-2", "0.5", "0", "65504"],
        "BF16" => ["-2", "0.5", "0", "3.3895314E+38"],
        "FP32" => ["-2.5", "0.1", "0", "3.4028235E+38"],
        "FP64" => ["-2.5", "0.1", "0", "1.7976931348623157E+308"],
        _ => ["\"a\"", "\"\"", "\"héllo ☃\"", "\"with \\\"quotes\\\"\""],
    };

    /// <summary>The raw little-endian bytes of <see cref="JsonValues"/>, built independently of the server's code.</summary>
    public static byte[] RawValues(string datatype)
    {
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        switch (datatype)
        {
            case "BOOL": w.Write([1, 0, 0, 1]); break;
            case "UINT8": w.Write([0, 1, 200, 255]); break;
            case "UINT16": foreach (ushort v in new ushort[] { 0, 1, 40000, 65535 }) { w.Write(v); } break;
            case "UINT32": foreach (uint v in new uint[] { 0, 1, 3000000000, 4294967295 }) { w.Write(v); } break;
            case "UINT64": foreach (ulong v in new ulong[] { 0, 1, 9007199254740993, 18446744073709551615 }) { w.Write(v); } break;
            case "INT8": foreach (sbyte v in new sbyte[] { -128, -1, 0, 127 }) { w.Write(v); } break;
            case "INT16": foreach (short v in new short[] { -32768, -1, 0, 32767 }) { w.Write(v); } break;
            case "INT32": foreach (int v in new[] { int.MinValue, -1, 0, int.MaxValue }) { w.Write(v); } break;
            case "INT64": foreach (long v in new[] { long.MinValue, -1, 0, long.MaxValue }) { w.Write(v); } break;
            case "FP16": foreach (Half v in new[] { (Half)(-2), (Half)0.5, (Half)0, (Half)65504 }) { w.Write(v); } break;
            case "BF16": foreach (ushort v in new ushort[] { 0xC000, 0x3F00, 0x0000, 0x7F7F }) { w.Write(v); } break;
            case "FP32": foreach (float v in new[] { -2.5f, 0.1f, 0f, float.MaxValue }) { w.Write(v); } break;
            case "FP64": foreach (double v in new[] { -2.5, 0.1, 0, double.MaxValue }) { w.Write(v); } break;
            default:
                foreach (string s in new[] { "a", "", "héllo ☃", "with \"quotes\"" })
                {
                    byte[] b = System.Text.Encoding.UTF8.GetBytes(s);
                    w.Write(b.Length);
                    w.Write(b);
                }

                break;
        }

        w.Flush();
        return ms.ToArray();
    }
}
