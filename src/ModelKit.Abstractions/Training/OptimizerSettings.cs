using System.Globalization;

namespace ModelKit.Training;

/// <summary>
/// The hyper-parameters of an optimizer, with PyTorch's defaults. <see cref="Beta1"/>, <see cref="Beta2"/> and
/// <see cref="Epsilon"/> apply to Adam; <see cref="Momentum"/> applies to SGD; <see cref="WeightDecay"/> to both
/// (an L2 penalty added to the gradient, as in <c>torch.optim</c>).
/// </summary>
public sealed record OptimizerSettings
{
    /// <summary>Gets the algorithm.</summary>
    /// <value>The default is <see cref="OptimizerKind.Adam"/>.</value>
    public OptimizerKind Kind { get; init; } = OptimizerKind.Adam;

    /// <summary>Gets the learning rate; finite and greater than 0.</summary>
    /// <value>The default is 0.001.</value>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Gets Adam's decay rate of the first-moment estimate; in [0, 1).</summary>
    /// <value>The default is 0.9.</value>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Gets Adam's decay rate of the second-moment estimate; in [0, 1).</summary>
    /// <value>The default is 0.999.</value>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Gets Adam's term added to the denominator for numerical stability; finite and 0 or greater.</summary>
    /// <value>The default is 1e-8.</value>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Gets the L2 penalty coefficient; finite and 0 or greater.</summary>
    /// <value>The default is 0.</value>
    public double WeightDecay { get; init; }

    /// <summary>Gets SGD's momentum factor; in [0, 1). Must be 0 for Adam, which uses <see cref="Beta1"/> instead.</summary>
    /// <value>The default is 0.</value>
    public double Momentum { get; init; }

    /// <summary>Gets the SGD dampening of the momentum buffer, 0 or greater (PyTorch's <c>dampening</c>).</summary>
    /// <value>The default is 0.</value>
    public double Dampening { get; init; }

    /// <summary>Gets whether SGD uses Nesterov momentum (Sutskever et al., 2013); needs <see cref="Momentum"/> greater than 0 and <see cref="Dampening"/> 0.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Nesterov { get; init; }

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it, quotes it and gives the accepted range.</exception>
    public void Validate() => Validate(nameof(OptimizerSettings));

    /// <summary>Checks every setting, naming the owner in messages.</summary>
    /// <param name="owner">The options type to name, for example <c>TrainingRunOptions</c>.</param>
    /// <exception cref="ArgumentException">A setting is out of range; the message quotes it.</exception>
    public void Validate(string owner)
    {
        if (!Enum.IsDefined(Kind))
        {
            throw Invalid(owner, "Optimizer", Kind.ToString(), "Adam, AdamW or Sgd");
        }

        if (!double.IsFinite(LearningRate) || LearningRate <= 0)
        {
            throw Invalid(owner, nameof(LearningRate), Format(LearningRate), "a finite number greater than 0, for example 0.001");
        }

        CheckUnitInterval(owner, nameof(Beta1), Beta1);
        CheckUnitInterval(owner, nameof(Beta2), Beta2);
        CheckNonNegative(owner, nameof(Epsilon), Epsilon);
        CheckNonNegative(owner, nameof(WeightDecay), WeightDecay);
        CheckUnitInterval(owner, nameof(Momentum), Momentum);
        CheckNonNegative(owner, nameof(Dampening), Dampening);
        if (Nesterov && (Kind != OptimizerKind.Sgd || Momentum <= 0 || Dampening != 0))
        {
            throw Invalid(
                $"{owner}.Nesterov is true but the optimizer is {Kind} with Momentum {Format(Momentum)} and Dampening {Format(Dampening)}; Nesterov momentum needs Sgd, Momentum greater than 0 and Dampening 0.",
                nameof(Nesterov));
        }

        if (Kind != OptimizerKind.Sgd && (Momentum != 0 || Dampening != 0))
        {
            throw Invalid(
                $"{owner}.Momentum is {Format(Momentum)} but the optimizer is {Kind}, which has no momentum parameter (it uses Beta1 = {Format(Beta1)}). " +
                "Set Momentum to 0, or choose OptimizerKind.Sgd.",
                nameof(Momentum));
        }
    }

    /// <summary>Formats a number for messages (round-trip, invariant culture).</summary>
    /// <param name="value">The number.</param>
    /// <returns>The text.</returns>
    public static string Format(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    internal static ArgumentException Invalid(string owner, string property, string value, string expected) =>
        Invalid($"{owner}.{property} is {value}; it must be {expected}.", property);

    internal static ArgumentException Invalid(string message, string property) => new(message, property);

    private static void CheckUnitInterval(string owner, string property, double value)
    {
        if (!(value >= 0 && value < 1))
        {
            throw Invalid(owner, property, Format(value), "in [0, 1)");
        }
    }

    private static void CheckNonNegative(string owner, string property, double value)
    {
        if (!double.IsFinite(value) || value < 0)
        {
            throw Invalid(owner, property, Format(value), "a finite number 0 or greater");
        }
    }
}
