using System.Text.Json.Serialization;

namespace ModelKit.Training;

/// <summary>
/// One layer of a sequential network. Parameter names follow PyTorch's <c>nn.Sequential</c>: the layer's index
/// in the network, a dot, and the parameter (<c>0.weight</c>, <c>0.bias</c>). A <see cref="ResidualBlock"/> occupies
/// one index itself and its body and projection take the indices that follow it (see <see cref="SequentialLayout"/>).
/// </summary>
/// <remarks>Shapes are written batch first; <c>-1</c> is a dynamic dimension. Every layer exports to ONNX (opset 17 or newer).</remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(LinearLayer), "linear")]
[JsonDerivedType(typeof(ReluLayer), "relu")]
[JsonDerivedType(typeof(FlattenLayer), "flatten")]
[JsonDerivedType(typeof(DropoutLayer), "dropout")]
[JsonDerivedType(typeof(Conv2dLayer), "conv2d")]
[JsonDerivedType(typeof(Conv1dLayer), "conv1d")]
[JsonDerivedType(typeof(MaxPool2dLayer), "maxpool2d")]
[JsonDerivedType(typeof(AvgPool2dLayer), "avgpool2d")]
[JsonDerivedType(typeof(GlobalAvgPool2dLayer), "globalavgpool2d")]
[JsonDerivedType(typeof(BatchNorm1dLayer), "batchnorm1d")]
[JsonDerivedType(typeof(BatchNorm2dLayer), "batchnorm2d")]
[JsonDerivedType(typeof(LayerNormLayer), "layernorm")]
[JsonDerivedType(typeof(EmbeddingLayer), "embedding")]
[JsonDerivedType(typeof(LeakyReluLayer), "leakyrelu")]
[JsonDerivedType(typeof(GeluLayer), "gelu")]
[JsonDerivedType(typeof(SiluLayer), "silu")]
[JsonDerivedType(typeof(SigmoidLayer), "sigmoid")]
[JsonDerivedType(typeof(TanhLayer), "tanh")]
[JsonDerivedType(typeof(SoftmaxLayer), "softmax")]
[JsonDerivedType(typeof(LogSoftmaxLayer), "logsoftmax")]
[JsonDerivedType(typeof(ResidualBlock), "residual")]
public abstract record LayerSpec;

/// <summary>
/// A fully connected layer <c>y = x·Wᵀ + b</c>: input <c>[N, InFeatures]</c> float32, output <c>[N, OutFeatures]</c>;
/// weight <c>[OutFeatures, InFeatures]</c>, bias <c>[OutFeatures]</c> (PyTorch <c>nn.Linear</c>; ONNX <c>Gemm</c> with <c>transB=1</c>).
/// </summary>
/// <param name="InFeatures">Input features, 1 or greater.</param>
/// <param name="OutFeatures">Output features, 1 or greater.</param>
/// <param name="Bias">Whether the layer has a bias; the default is <see langword="true"/>.</param>
public sealed record LinearLayer(int InFeatures, int OutFeatures, bool Bias = true) : LayerSpec;

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

/// <summary>
/// 2-D convolution (PyTorch <c>nn.Conv2d</c>, square kernel; ONNX <c>Conv</c>): input <c>[N, InChannels, H, W]</c>, output
/// <c>[N, OutChannels, H', W']</c> with <c>H' = ⌊(H + 2·Padding − Dilation·(KernelSize − 1) − 1) / Stride⌋ + 1</c>;
/// weight <c>[OutChannels, InChannels/Groups, KernelSize, KernelSize]</c>, bias <c>[OutChannels]</c>. H and W may be dynamic.
/// </summary>
/// <param name="InChannels">Input channels, 1 or greater, divisible by <paramref name="Groups"/>.</param>
/// <param name="OutChannels">Output channels, 1 or greater, divisible by <paramref name="Groups"/>.</param>
/// <param name="KernelSize">The kernel's height and width, 1 or greater.</param>
/// <param name="Stride">The stride, 1 or greater; the default is 1.</param>
/// <param name="Padding">Zero padding on each side, 0 or greater; the default is 0.</param>
/// <param name="Dilation">The kernel dilation, 1 or greater; the default is 1.</param>
/// <param name="Groups">The number of channel groups, 1 or greater; the default is 1.</param>
/// <param name="Bias">Whether the layer has a bias; the default is <see langword="true"/>.</param>
public sealed record Conv2dLayer(int InChannels, int OutChannels, int KernelSize, int Stride = 1, int Padding = 0, int Dilation = 1, int Groups = 1, bool Bias = true) : LayerSpec;

/// <summary>
/// 1-D convolution (PyTorch <c>nn.Conv1d</c>; ONNX <c>Conv</c>): input <c>[N, InChannels, L]</c>, output <c>[N, OutChannels, L']</c>
/// with L' as for <see cref="Conv2dLayer"/>; weight <c>[OutChannels, InChannels/Groups, KernelSize]</c>. L may be dynamic.
/// </summary>
/// <param name="InChannels">Input channels, 1 or greater, divisible by <paramref name="Groups"/>.</param>
/// <param name="OutChannels">Output channels, 1 or greater, divisible by <paramref name="Groups"/>.</param>
/// <param name="KernelSize">The kernel width, 1 or greater.</param>
/// <param name="Stride">The stride, 1 or greater; the default is 1.</param>
/// <param name="Padding">Zero padding on each side, 0 or greater; the default is 0.</param>
/// <param name="Dilation">The kernel dilation, 1 or greater; the default is 1.</param>
/// <param name="Groups">The number of channel groups, 1 or greater; the default is 1.</param>
/// <param name="Bias">Whether the layer has a bias; the default is <see langword="true"/>.</param>
public sealed record Conv1dLayer(int InChannels, int OutChannels, int KernelSize, int Stride = 1, int Padding = 0, int Dilation = 1, int Groups = 1, bool Bias = true) : LayerSpec;

/// <summary>2-D max pooling (PyTorch <c>nn.MaxPool2d</c>; ONNX <c>MaxPool</c>) over <c>[N, C, H, W]</c>, square window.</summary>
/// <param name="KernelSize">The window size, 1 or greater.</param>
/// <param name="Stride">The stride, 1 or greater; <see langword="null"/> (the default) means <paramref name="KernelSize"/>, as in PyTorch.</param>
/// <param name="Padding">Implicit −∞ padding on each side, 0 to KernelSize/2; the default is 0.</param>
public sealed record MaxPool2dLayer(int KernelSize, int? Stride = null, int Padding = 0) : LayerSpec;

/// <summary>2-D average pooling (PyTorch <c>nn.AvgPool2d</c> with <c>count_include_pad=True</c>; ONNX <c>AveragePool</c>) over <c>[N, C, H, W]</c>.</summary>
/// <param name="KernelSize">The window size, 1 or greater.</param>
/// <param name="Stride">The stride, 1 or greater; <see langword="null"/> (the default) means <paramref name="KernelSize"/>.</param>
/// <param name="Padding">Zero padding on each side (counted in the average), 0 to KernelSize/2; the default is 0.</param>
public sealed record AvgPool2dLayer(int KernelSize, int? Stride = null, int Padding = 0) : LayerSpec;

/// <summary>Global average pooling: <c>[N, C, H, W]</c> to <c>[N, C, 1, 1]</c> (PyTorch <c>nn.AdaptiveAvgPool2d(1)</c>; ONNX <c>GlobalAveragePool</c>).</summary>
public sealed record GlobalAvgPool2dLayer : LayerSpec;

/// <summary>
/// Batch normalization over <c>[N, C]</c> or <c>[N, C, L]</c> (PyTorch <c>nn.BatchNorm1d</c>; ONNX <c>BatchNormalization</c>):
/// batch statistics while training (running statistics updated with <paramref name="Momentum"/>), running statistics at inference.
/// Parameters <c>weight</c>, <c>bias</c>; buffers <c>running_mean</c>, <c>running_var</c> (all <c>[NumFeatures]</c>).
/// </summary>
/// <param name="NumFeatures">The channel count C, 1 or greater.</param>
/// <param name="Epsilon">Added to the variance, greater than 0; the default is 1e-5.</param>
/// <param name="Momentum">The running-statistics update factor, in [0, 1]; the default is 0.1.</param>
public sealed record BatchNorm1dLayer(int NumFeatures, double Epsilon = 1e-5, double Momentum = 0.1) : LayerSpec;

/// <summary>Batch normalization over <c>[N, C, H, W]</c> (PyTorch <c>nn.BatchNorm2d</c>; ONNX <c>BatchNormalization</c>); see <see cref="BatchNorm1dLayer"/>.</summary>
/// <param name="NumFeatures">The channel count C, 1 or greater.</param>
/// <param name="Epsilon">Added to the variance, greater than 0; the default is 1e-5.</param>
/// <param name="Momentum">The running-statistics update factor, in [0, 1]; the default is 0.1.</param>
public sealed record BatchNorm2dLayer(int NumFeatures, double Epsilon = 1e-5, double Momentum = 0.1) : LayerSpec;

/// <summary>Layer normalization over the last dimension (PyTorch <c>nn.LayerNorm</c>; ONNX <c>LayerNormalization</c>, opset 17, <c>axis=-1</c>).</summary>
/// <param name="NormalizedSize">The size of the last dimension, 1 or greater.</param>
/// <param name="Epsilon">Added to the variance, greater than 0; the default is 1e-5.</param>
public sealed record LayerNormLayer(int NormalizedSize, double Epsilon = 1e-5) : LayerSpec;

/// <summary>
/// A lookup table (PyTorch <c>nn.Embedding</c>; ONNX <c>Cast</c> to int64 then <c>Gather</c>): input <c>[N, …]</c> of float32
/// values holding integer indices in <c>[0, NumEmbeddings)</c>, output <c>[N, …, EmbeddingDim]</c>; weight <c>[NumEmbeddings, EmbeddingDim]</c>.
/// </summary>
/// <param name="NumEmbeddings">The table size, 1 or greater.</param>
/// <param name="EmbeddingDim">The vector size, 1 or greater.</param>
public sealed record EmbeddingLayer(int NumEmbeddings, int EmbeddingDim) : LayerSpec;

/// <summary>Element-wise <c>x</c> for <c>x ≥ 0</c>, <c>NegativeSlope·x</c> otherwise (ONNX <c>LeakyRelu</c>).</summary>
/// <param name="NegativeSlope">The slope for negative inputs, 0 or greater; the default is 0.01.</param>
public sealed record LeakyReluLayer(double NegativeSlope = 0.01) : LayerSpec;

/// <summary>Element-wise <c>x·Φ(x) = 0.5·x·(1 + erf(x/√2))</c> (Hendrycks and Gimpel, 2016); exported in the erf form ONNX Runtime fuses into <c>Gelu</c>.</summary>
public sealed record GeluLayer : LayerSpec;

/// <summary>Element-wise <c>x·σ(x)</c> (SiLU, Elfwing et al., 2017; ONNX <c>Sigmoid</c> then <c>Mul</c>).</summary>
public sealed record SiluLayer : LayerSpec;

/// <summary>Element-wise <c>1 / (1 + e^−x)</c> (ONNX <c>Sigmoid</c>).</summary>
public sealed record SigmoidLayer : LayerSpec;

/// <summary>Element-wise <c>tanh(x)</c> (ONNX <c>Tanh</c>).</summary>
public sealed record TanhLayer : LayerSpec;

/// <summary>Softmax along <paramref name="Dim"/> (ONNX <c>Softmax</c>-13).</summary>
/// <param name="Dim">The dimension, negative counting from the end; the default is −1 (the last).</param>
public sealed record SoftmaxLayer(int Dim = -1) : LayerSpec;

/// <summary>Log-softmax along <paramref name="Dim"/> (ONNX <c>LogSoftmax</c>-13).</summary>
/// <param name="Dim">The dimension, negative counting from the end; the default is −1 (the last).</param>
public sealed record LogSoftmaxLayer(int Dim = -1) : LayerSpec;

/// <summary>
/// A residual block (He et al., 2016): <c>y = Body(x) + Projection(x)</c>, or <c>Body(x) + x</c> without a projection. The body's
/// output shape must equal the projection's (or the input's). Blocks do not nest; put the activation after the block.
/// </summary>
/// <param name="Body">The body layers, at least one, none a <see cref="ResidualBlock"/>.</param>
/// <param name="Projection">An optional <see cref="Conv2dLayer"/>, <see cref="Conv1dLayer"/> or <see cref="LinearLayer"/> applied to the block input.</param>
public sealed record ResidualBlock(IReadOnlyList<LayerSpec> Body, LayerSpec? Projection = null) : LayerSpec;
