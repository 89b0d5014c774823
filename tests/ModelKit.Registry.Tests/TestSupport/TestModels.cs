using ModelKit.Onnx;

namespace ModelKit.Registry.Tests.TestSupport;

/// <summary>Real, small ONNX models built with ModelKit.Onnx's graph builder.</summary>
internal static class TestModels
{
    /// <summary>y = Relu(x), x and y float [-1, <paramref name="width"/>]. Different widths give different bytes.</summary>
    public static byte[] Relu(int width = 4) =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, width)
            .AddOutput("y", TensorElementType.Float, -1, width)
            .AddNode("Relu", ["x"], ["y"])
            .ToBytes();

    public static ModelSignature ReluSignature(int width = 4) => new(
        [new TensorSpec("x", TensorElementType.Float, [-1, width])],
        [new TensorSpec("y", TensorElementType.Float, [-1, width])]);
}
