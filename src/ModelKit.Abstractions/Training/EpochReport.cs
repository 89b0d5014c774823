namespace ModelKit.Training;

/// <summary>The outcome of one training epoch.</summary>
/// <param name="Epoch">The epoch, 1-based.</param>
/// <param name="Epochs">The number of epochs in the run.</param>
/// <param name="TrainLoss">The mean loss (cross-entropy in nats by default) over the epoch's training samples, each batch weighted by its size, measured before each step's update.</param>
/// <param name="ValidationAccuracy">The fraction of validation samples whose arg-max logit equals the label after the epoch, in [0, 1]; <see cref="double.NaN"/> when the run has no validation set.</param>
/// <param name="Elapsed">The epoch's wall-clock time, validation included.</param>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double ValidationAccuracy, TimeSpan Elapsed)
{
    /// <summary>Gets the time this rank waited for gradient all-reduces after backward during the epoch (zero for one process).</summary>
    public TimeSpan AllReduceWait { get; init; }

    /// <summary>Gets the number of samples this rank trained on during the epoch.</summary>
    public long Samples { get; init; }

    /// <summary>Gets the learning rate of the epoch's last step.</summary>
    public double LearningRate { get; init; }
}
