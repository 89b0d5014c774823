using System.Diagnostics.Metrics;
using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;

namespace ModelKit.Compression.Tests;

public class OnnxModelCompressorTests
{
    [Fact]
    public async Task CompressAsync_EachStep_RecordsItsDurationInSecondsTaggedWithTheStepKind()
    {
        var measurements = new List<(string Instrument, string? Unit, double Value, object? Step)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == OnnxModelCompressor.TelemetryName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            object? step = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                step = tag.Key == "modelkit.compression.step" ? tag.Value : step;
            }

            lock (measurements)
            {
                measurements.Add((instrument.Name, instrument.Unit, value, step));
            }
        });
        listener.Start();

        using OnnxModelCompressor compressor = TestModels.Compressor();
        await compressor.CompressAsync(TestModels.Mlp(), new CompressionRecipe([new WeightClippingStep(), new DynamicQuantizationStep()]));

        List<(string Instrument, string? Unit, double Value, object? Step)> mine;
        lock (measurements)
        {
            mine = [.. measurements.Where(m => m.Step is "weight-clipping" or "dynamic-int8")];
        }

        Assert.Contains(mine, m => m.Instrument == "modelkit.compression.step.duration" && m.Unit == "s" && (string?)m.Step == "weight-clipping" && m.Value >= 0);
        Assert.Contains(mine, m => (string?)m.Step == "dynamic-int8");
    }

    [Fact]
    public async Task CompressAsync_ModelWithWeightsInConstantNodes_QuantizesThemAndPassesValidation()
    {
        // Paddle2ONNX-style: the weight is a Constant node's output, not an initializer.
        byte[] model = new OnnxGraphBuilder("constants", 17)
            .AddInput("x", TensorElementType.Float, -1, 16)
            .AddNode("Constant", [], ["w"], OnnxAttribute.Tensor("value", "w", TestModels.Random(16 * 8, 4), 16, 8))
            .AddNode("MatMul", ["x", "w"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 8)
            .ToBytes();
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(model, new CompressionRecipe([new DynamicQuantizationStep()]));

        ModelProto compressed = TestModels.Parse(result.Model);
        Assert.Contains("MatMulInteger", compressed.Graph.Node.Select(n => n.OpType));
        Assert.DoesNotContain("Constant", compressed.Graph.Node.Select(n => n.OpType));
        _ = OnnxModel.Load(result.Model);
    }

    [Fact]
    public async Task CompressAsync_Opset9ModelWithClipAndSlice_UpgradesWithTheNewInputFormsAndKeepsTheOutputs()
    {
        byte[] model = new OnnxGraphBuilder("old", 9)
            .AddInput("x", TensorElementType.Float, -1, 16)
            .AddInitializer("w", TestModels.Random(16 * 8, 4), 16, 8)
            .AddNode("MatMul", ["x", "w"], ["y"])
            .AddNode("Clip", ["y"], ["c"], OnnxAttribute.Float("min", 0), OnnxAttribute.Float("max", 0.5f))
            .AddNode("Slice", ["c"], ["s"], OnnxAttribute.Ints("axes", 1), OnnxAttribute.Ints("starts", 2), OnnxAttribute.Ints("ends", 6))
            .AddNode("Softmax", ["s"], ["p"], OnnxAttribute.Int("axis", 1))
            .AddOutput("p", TensorElementType.Float, -1, 4)
            .ToBytes();
        using OnnxModelCompressor compressor = TestModels.Compressor();
        CompressionResult result = await compressor.CompressAsync(model, new CompressionRecipe([new DynamicQuantizationStep()]));

        ModelProto compressed = TestModels.Parse(result.Model);
        Assert.Equal(11, compressed.OpsetImport.Single().Version);
        Assert.Equal(3, compressed.Graph.Node.Single(n => n.OpType == "Clip").Input.Count);
        Assert.Equal(4, compressed.Graph.Node.Single(n => n.OpType == "Slice").Input.Count);
        float[] x = TestModels.Random(4 * 16, 6);
        Assert.True(TestModels.MaxAbsDifference(TestModels.Run(model, "x", x, 4, 16), TestModels.Run(result.Model, "x", x, 4, 16)) < 0.02);
    }
}
