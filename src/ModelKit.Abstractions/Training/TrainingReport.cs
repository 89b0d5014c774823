namespace ModelKit.Training;

/// <summary>The outcome of a training run of <c>Trainer.TrainAsync</c>.</summary>
/// <param name="Epochs">One report per epoch, in order.</param>
/// <param name="Elapsed">The run's wall-clock time.</param>
/// <param name="RunId">A unique identifier of the run (32 lowercase hex digits, time-ordered UUID v7), for lineage such as <c>ModelLineage.TrainingRunId</c>.</param>
/// <param name="TrainDatasetDigest">The training set's <c>Digest</c>.</param>
/// <param name="TrainSampleCount">The number of training samples per epoch.</param>
/// <param name="Options">The options the run used.</param>
public sealed record TrainingReport(
    IReadOnlyList<EpochReport> Epochs,
    TimeSpan Elapsed,
    string RunId,
    string TrainDatasetDigest,
    int TrainSampleCount,
    TrainingRunOptions Options)
{
    /// <summary>Gets the last epoch's mean training loss.</summary>
    public double FinalTrainLoss => Epochs.Count == 0 ? double.NaN : Epochs[^1].TrainLoss;

    /// <summary>Gets the last epoch's validation accuracy, or <see cref="double.NaN"/> without a validation set.</summary>
    public double FinalValidationAccuracy => Epochs.Count == 0 ? double.NaN : Epochs[^1].ValidationAccuracy;
}
