using System.Text.Json.Serialization;

namespace ModelKit.Training;

/// <summary>
/// One layer of a sequential network. Parameter names follow PyTorch's <c>nn.Sequential</c>: the layer's index
/// in the network, a dot, and the parameter (<c>0.weight</c>, <c>0.bias</c>).
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(LinearLayer), "linear")]
[JsonDerivedType(typeof(ReluLayer), "relu")]
[JsonDerivedType(typeof(FlattenLayer), "flatten")]
[JsonDerivedType(typeof(DropoutLayer), "dropout")]
public abstract record LayerSpec;

/// <summary>
/// A fully connected layer <c>y = x·Wᵀ + b</c>: input <c>[N, InFeatures]</c> float32, output <c>[N, OutFeatures]</c>;
/// weight <c>[OutFeatures, InFeatures]</c>, bias <c>[OutFeatures]</c> (PyTorch <c>nn.Linear</c>; ONNX <c>Gemm</c> with <c>transB=1</c>).
/// </summary>
/// <param name="InFeatures">Input features, 1 or greater.</param>
/// <param name="OutFeatures">Output features, 1 or greater.</param>
public sealed record LinearLayer(int InFeatures, int OutFeatures) : LayerSpec;

/// <summary>Element-wise <c>max(x, 0)</c> (ONNX <c>Relu</c>).</summary>
public sealed record ReluLayer : LayerSpec;

/// <summary>Flattens every dimension after the first: <c>[N, d1, d2, …]</c> to <c>[N, d1·d2·…]</c> (ONNX <c>Flatten</c> with <c>axis=1</c>).</summary>
public sealed record FlattenLayer : LayerSpec;

/// <summary>
/// Zeroes each element with probability <see cref="Probability"/> while training and scales the rest by
/// <c>1/(1-p)</c>; the identity at inference (Srivastava et al., 2014, "Dropout").
/// </summary>
/// <param name="Probability">The drop probability, in [0, 1).</param>
public sealed record DropoutLayer(double Probability) : LayerSpec;
