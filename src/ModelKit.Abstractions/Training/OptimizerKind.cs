namespace ModelKit.Training;

/// <summary>The optimization algorithm that updates a network's parameters.</summary>
public enum OptimizerKind
{
    /// <summary>Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization"), libtorch's <c>torch::optim::Adam</c>.</summary>
    Adam,

    /// <summary>Stochastic gradient descent with optional momentum, libtorch's <c>torch::optim::SGD</c>.</summary>
    Sgd,

    /// <summary>AdamW: Adam with decoupled weight decay (Loshchilov and Hutter, 2019), libtorch's <c>torch::optim::AdamW</c>.</summary>
    AdamW,
}
