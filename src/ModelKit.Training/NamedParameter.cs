namespace ModelKit.Training;

/// <summary>
/// A copy of one trainable parameter of a network, named as PyTorch's <c>nn.Sequential.named_parameters()</c>
/// names it: <c>0.weight</c> (a Linear layer's weight, shape <c>[out_features, in_features]</c>), <c>0.bias</c>
/// (shape <c>[out_features]</c>), where the number is the layer's index in the network.
/// </summary>
/// <param name="Name">The parameter name, for example <c>2.weight</c>.</param>
/// <param name="Data">The values, float32, row-major; owned by the caller (a copy, not a view of the network).</param>
/// <param name="Shape">The dimensions, outermost first.</param>
public sealed record NamedParameter(string Name, float[] Data, long[] Shape);
