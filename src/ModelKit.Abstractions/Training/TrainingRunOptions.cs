using System.Globalization;

namespace ModelKit.Training;

/// <summary>
/// The settings of one training run (<see cref="ITrainer"/>): epochs, mini-batch size, loss, optimizer and its
/// hyper-parameters, learning-rate schedule, gradient clipping and accumulation, and the seed of the per-epoch shuffle.
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
    /// Gets the number of samples per optimizer step, over all ranks (the global batch); 1 to <see cref="MaxBatchSize"/>.
    /// With data-parallel training each rank takes <c>BatchSize / world size</c> samples per step (it must divide evenly).
    /// The last batch of an epoch holds the remainder unless <see cref="DropLast"/> (PyTorch's <c>DataLoader</c>).
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

    /// <summary>
    /// Gets whether the sampler drops the tail of the data set that does not fill an equal shard per rank, and the
    /// last incomplete batch; when <see langword="false"/> shards are padded by repeating samples (PyTorch's
    /// <c>DistributedSampler</c>) and the last batch holds the remainder.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool DropLast { get; init; }

    /// <summary>Gets the loss.</summary>
    /// <value>The default is <see cref="CrossEntropyLoss"/> without label smoothing or class weights.</value>
    public LossSpec Loss { get; init; } = new CrossEntropyLoss();

    /// <summary>Gets the learning-rate schedule applied per optimizer step after the warm-up.</summary>
    /// <value>The default is <see cref="ConstantSchedule"/>.</value>
    public LearningRateSchedule Schedule { get; init; } = new ConstantSchedule();

    /// <summary>Gets the number of optimizer steps over which the learning rate rises linearly from 0 to <see cref="LearningRate"/>; 0 or greater.</summary>
    /// <value>The default is 0 (no warm-up).</value>
    public int WarmupSteps { get; init; }

    /// <summary>Gets the largest global L2 norm of the gradients; larger gradients are scaled down before each step (PyTorch's <c>clip_grad_norm_</c>). 0 turns clipping off.</summary>
    /// <value>The default is 0.</value>
    public double MaxGradientNorm { get; init; }

    /// <summary>Gets the number of mini-batches whose gradients are accumulated (averaged) before each optimizer step; 1 to 1024.</summary>
    /// <value>The default is 1.</value>
    public int AccumulationSteps { get; init; } = 1;

    /// <summary>Gets the SGD dampening (see <see cref="OptimizerSettings.Dampening"/>).</summary>
    /// <value>The default is 0.</value>
    public double Dampening { get; init; }

    /// <summary>Gets whether SGD uses Nesterov momentum (see <see cref="OptimizerSettings.Nesterov"/>).</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Nesterov { get; init; }

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

        if (WarmupSteps < 0)
        {
            throw OptimizerSettings.Invalid(owner, nameof(WarmupSteps), WarmupSteps.ToString(CultureInfo.InvariantCulture), "0 or greater");
        }

        if (!double.IsFinite(MaxGradientNorm) || MaxGradientNorm < 0)
        {
            throw OptimizerSettings.Invalid(owner, nameof(MaxGradientNorm), OptimizerSettings.Format(MaxGradientNorm), "a finite number 0 or greater (0 = no clipping)");
        }

        if (AccumulationSteps is < 1 or > 1024)
        {
            throw OptimizerSettings.Invalid(owner, nameof(AccumulationSteps), AccumulationSteps.ToString(CultureInfo.InvariantCulture), "between 1 and 1024");
        }

        if (Loss is null || Schedule is null)
        {
            throw OptimizerSettings.Invalid($"{owner}.{(Loss is null ? nameof(Loss) : nameof(Schedule))} is null; give a value.", Loss is null ? nameof(Loss) : nameof(Schedule));
        }

        Loss.Validate();
        Schedule.Validate();
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
        Dampening = Dampening,
        Nesterov = Nesterov,
    };

    /// <summary>Computes the learning rate of optimizer step <paramref name="step"/> (0-based): the linear warm-up, then <see cref="Schedule"/>.</summary>
    /// <param name="step">The optimizer step, 0 or greater.</param>
    /// <param name="totalSteps">The run's total number of optimizer steps (for schedules that need it).</param>
    /// <returns>The learning rate, greater than 0.</returns>
    public double LearningRateAt(long step, long totalSteps)
    {
        if (step < WarmupSteps)
        {
            return LearningRate * (step + 1) / (WarmupSteps + 1);
        }

        return Schedule.LearningRateAt(LearningRate, step - WarmupSteps, Math.Max(1, totalSteps - WarmupSteps));
    }
}
