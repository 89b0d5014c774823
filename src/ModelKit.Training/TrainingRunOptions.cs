using System.Globalization;

namespace ModelKit.Training;

/// <summary>
/// The settings of one training run of <see cref="Trainer.TrainAsync"/>: epochs, mini-batch size, optimizer and
/// its hyper-parameters, and the seed of the per-epoch shuffle.
/// </summary>
public sealed record TrainingRunOptions
{
    /// <summary>The largest accepted <see cref="Epochs"/>.</summary>
    public const int MaxEpochs = 100_000;

    /// <summary>The largest accepted <see cref="BatchSize"/> and <see cref="EvaluationBatchSize"/>.</summary>
    public const int MaxBatchSize = 1 << 20;

    /// <summary>Gets the number of passes over the training set; 1 to <see cref="MaxEpochs"/>.</summary>
    /// <value>The default is 5.</value>
    public int Epochs { get; init; } = 5;

    /// <summary>
    /// Gets the number of samples per optimizer step; 1 to <see cref="MaxBatchSize"/>. The last batch of an epoch
    /// holds the remainder (PyTorch's <c>DataLoader</c> with <c>drop_last=False</c>).
    /// </summary>
    /// <value>The default is 128.</value>
    public int BatchSize { get; init; } = 128;

    /// <summary>Gets the learning rate; finite and greater than 0.</summary>
    /// <value>The default is 0.001.</value>
    public double LearningRate { get; init; } = 1e-3;

    /// <summary>Gets the optimization algorithm.</summary>
    /// <value>The default is <see cref="OptimizerKind.Adam"/>.</value>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Gets SGD's momentum factor, in [0, 1); must be 0 with Adam.</summary>
    /// <value>The default is 0.</value>
    public double Momentum { get; init; }

    /// <summary>Gets the L2 penalty coefficient; finite and 0 or greater.</summary>
    /// <value>The default is 0.</value>
    public double WeightDecay { get; init; }

    /// <summary>Gets Adam's first-moment decay rate, in [0, 1).</summary>
    /// <value>The default is 0.9.</value>
    public double Beta1 { get; init; } = 0.9;

    /// <summary>Gets Adam's second-moment decay rate, in [0, 1).</summary>
    /// <value>The default is 0.999.</value>
    public double Beta2 { get; init; } = 0.999;

    /// <summary>Gets Adam's epsilon; finite and 0 or greater.</summary>
    /// <value>The default is 1e-8.</value>
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>
    /// Gets the seed of the per-epoch shuffle (a SplitMix64 stream driving a Fisher–Yates permutation), so the same
    /// seed, data and network give the same batches in the same order.
    /// </summary>
    /// <value>The default is 42.</value>
    public long Seed { get; init; } = 42;

    /// <summary>Gets whether the training samples are reshuffled at the start of every epoch; when <see langword="false"/> batches follow the data set's order.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool Shuffle { get; init; } = true;

    /// <summary>Gets the batch size used to compute validation accuracy after each epoch; 1 to <see cref="MaxBatchSize"/>.</summary>
    /// <value>The default is 1000.</value>
    public int EvaluationBatchSize { get; init; } = 1000;

    /// <summary>Checks every value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it, quotes it and gives the accepted range.</exception>
    public void Validate()
    {
        const string owner = nameof(TrainingRunOptions);
        if (Epochs is < 1 or > MaxEpochs)
        {
            throw OptimizerSettings.Invalid(owner, nameof(Epochs), Epochs.ToString(CultureInfo.InvariantCulture), $"between 1 and {MaxEpochs}");
        }

        if (BatchSize is < 1 or > MaxBatchSize)
        {
            throw OptimizerSettings.Invalid(owner, nameof(BatchSize), BatchSize.ToString(CultureInfo.InvariantCulture), $"between 1 and {MaxBatchSize}");
        }

        if (EvaluationBatchSize is < 1 or > MaxBatchSize)
        {
            throw OptimizerSettings.Invalid(owner, nameof(EvaluationBatchSize), EvaluationBatchSize.ToString(CultureInfo.InvariantCulture), $"between 1 and {MaxBatchSize}");
        }

        ToOptimizerSettings().Validate(owner);
    }

    /// <summary>Returns the optimizer part of these options.</summary>
    /// <returns>The optimizer settings.</returns>
    public OptimizerSettings ToOptimizerSettings() => new()
    {
        Kind = Optimizer,
        LearningRate = LearningRate,
        Beta1 = Beta1,
        Beta2 = Beta2,
        Epsilon = Epsilon,
        WeightDecay = WeightDecay,
        Momentum = Momentum,
    };
}
