using System.Globalization;
using System.Text.Json.Serialization;

namespace ModelKit.Training;

/// <summary>How the learning rate changes with the optimizer step (after any linear warm-up, see <see cref="TrainingRunOptions.WarmupSteps"/>).</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(ConstantSchedule), "constant")]
[JsonDerivedType(typeof(StepSchedule), "step")]
[JsonDerivedType(typeof(CosineSchedule), "cosine")]
public abstract record LearningRateSchedule
{
    /// <summary>Computes the learning rate of a step.</summary>
    /// <param name="baseRate">The base learning rate, greater than 0.</param>
    /// <param name="step">The step after the warm-up, 0-based.</param>
    /// <param name="totalSteps">The number of steps after the warm-up, 1 or greater.</param>
    /// <returns>The learning rate, greater than 0.</returns>
    public abstract double LearningRateAt(double baseRate, long step, long totalSteps);

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message quotes it.</exception>
    public virtual void Validate()
    {
    }
}

/// <summary>The base learning rate at every step.</summary>
public sealed record ConstantSchedule : LearningRateSchedule
{
    /// <inheritdoc />
    public override double LearningRateAt(double baseRate, long step, long totalSteps) => baseRate;
}

/// <summary>Multiplies the rate by <paramref name="Gamma"/> every <paramref name="StepSize"/> optimizer steps (PyTorch's <c>StepLR</c>, counted in steps).</summary>
/// <param name="StepSize">Steps between decays, 1 or greater.</param>
/// <param name="Gamma">The decay factor, in (0, 1]; the default is 0.1.</param>
public sealed record StepSchedule(int StepSize, double Gamma = 0.1) : LearningRateSchedule
{
    /// <inheritdoc />
    public override double LearningRateAt(double baseRate, long step, long totalSteps) => baseRate * Math.Pow(Gamma, step / StepSize);

    /// <inheritdoc />
    public override void Validate()
    {
        if (StepSize < 1 || !(Gamma > 0 && Gamma <= 1))
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"StepSchedule has StepSize {StepSize} and Gamma {Gamma:R}; StepSize must be 1 or greater and Gamma in (0, 1]."),
                nameof(StepSize));
        }
    }
}

/// <summary>
/// Cosine annealing from the base rate to <paramref name="MinLearningRate"/> over the run's steps (Loshchilov and Hutter, 2017;
/// PyTorch's <c>CosineAnnealingLR</c> with <c>T_max</c> = the steps after warm-up): <c>min + (base − min)·(1 + cos(π·t/T))/2</c>.
/// </summary>
/// <param name="MinLearningRate">The final rate, greater than 0 and below the base rate; the default is 1e-6.</param>
public sealed record CosineSchedule(double MinLearningRate = 1e-6) : LearningRateSchedule
{
    /// <inheritdoc />
    public override double LearningRateAt(double baseRate, long step, long totalSteps)
    {
        double t = Math.Min(step, totalSteps) / (double)totalSteps;
        return MinLearningRate + ((baseRate - MinLearningRate) * (1 + Math.Cos(Math.PI * t)) / 2);
    }

    /// <inheritdoc />
    public override void Validate()
    {
        if (!(MinLearningRate > 0) || !double.IsFinite(MinLearningRate))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"CosineSchedule.MinLearningRate is {MinLearningRate:R}; it must be a finite number greater than 0."), nameof(MinLearningRate));
        }
    }
}
