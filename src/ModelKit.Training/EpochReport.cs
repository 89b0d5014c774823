namespace ModelKit.Training;

/// <summary>The outcome of one training epoch.</summary>
/// <param name="Epoch">The epoch, 1-based.</param>
/// <param name="Epochs">The number of epochs in the run.</param>
/// <param name="TrainLoss">The mean cross-entropy (natural log) over the epoch's training samples, each batch weighted by its size, measured before each step's update.</param>
/// <param name="ValidationAccuracy">The fraction of validation samples whose arg-max logit equals the label after the epoch, in [0, 1]; <see cref="double.NaN"/> when the run has no validation set.</param>
/// <param name="Elapsed">The epoch's wall-clock time, validation included.</param>
public sealed record EpochReport(int Epoch, int Epochs, double TrainLoss, double ValidationAccuracy, TimeSpan Elapsed);
