using ModelKit.Training.Data;

namespace ModelKit.Training;

/// <summary>
/// Trains a model described by a <see cref="ModelSpec"/> and returns it as ONNX with the run's metrics and lineage.
/// One process trains alone; several processes started by a launcher (torchrun, Kubeflow PyTorchJob, ModelKit's
/// sample launcher) train one model data-parallel when <see cref="TrainingJob.Distributed"/> is set.
/// </summary>
/// <remarks>Implementations are thread-safe; a job runs on a background thread.</remarks>
public interface ITrainer
{
    /// <summary>Runs a training job.</summary>
    /// <param name="job">What to train, on which data, how, and where to checkpoint.</param>
    /// <param name="progress">Optional; receives each epoch's report when the epoch ends (from the training thread).</param>
    /// <param name="cancellationToken">Checked between steps.</param>
    /// <returns>The trained model as ONNX with the run's reports.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="job"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The job is invalid (a setting out of range, the data does not fit the model, a spec with an impossible shape); the message names the value and the fix.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ModelKitException">Training diverged, a checkpoint is corrupt or belongs to another model, or a collective failed or timed out (the message names the operation, the rank and the timeout).</exception>
    Task<TrainingResult> TrainAsync(TrainingJob job, IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>A model architecture: the layers and the input they take.</summary>
/// <param name="Layers">The layers, in order (see <see cref="LayerSpec"/>).</param>
/// <param name="Input">The input: float32, batch first, <c>-1</c> for dynamic dimensions, for example <c>input: Float [-1, 1, 28, 28]</c>.</param>
public sealed record ModelSpec(IReadOnlyList<LayerSpec> Layers, TensorSpec Input);

/// <summary>One training job.</summary>
/// <param name="Model">The architecture.</param>
/// <param name="Train">The training set; with data-parallel training every rank passes the same set and trains on its shard.</param>
/// <param name="Options">Epochs, batch size, loss, optimizer, schedule and seed.</param>
public sealed record TrainingJob(ModelSpec Model, LabeledDataset Train, TrainingRunOptions Options)
{
    /// <summary>Gets an optional validation set, evaluated after every epoch (sharded over the ranks).</summary>
    /// <value>The default is none.</value>
    public LabeledDataset? Validation { get; init; }

    /// <summary>Gets the checkpoint settings.</summary>
    /// <value>The default is none (no checkpoints).</value>
    public CheckpointOptions? Checkpoints { get; init; }

    /// <summary>Gets the process group to train in; <see langword="null"/> trains in this process alone. See <see cref="DistributedSettings.FromEnvironment"/>.</summary>
    /// <value>The default is none.</value>
    public DistributedSettings? Distributed { get; init; }

    /// <summary>Gets the ONNX opset of the exported model, 17 or newer.</summary>
    /// <value>The default is 17.</value>
    public int Opset { get; init; } = 17;
}

/// <summary>The outcome of a training job.</summary>
/// <param name="RunId">The run's id (rank 0's, shared by every rank).</param>
/// <param name="OnnxModel">The trained model as a serialized ONNX <c>ModelProto</c> (identical on every rank); the caller owns the array.</param>
/// <param name="Epochs">Every epoch's report of this run (epochs restored from a checkpoint are not repeated).</param>
/// <param name="Elapsed">The run's wall-clock time.</param>
public sealed record TrainingResult(string RunId, byte[] OnnxModel, IReadOnlyList<EpochReport> Epochs, TimeSpan Elapsed)
{
    /// <summary>Gets the training set's digest (<see cref="LabeledDataset.Digest"/>), for lineage.</summary>
    public string DatasetDigest { get; init; } = string.Empty;

    /// <summary>Gets the number of ranks that trained the model.</summary>
    /// <value>The default is 1.</value>
    public int WorldSize { get; init; } = 1;

    /// <summary>Gets this process's rank.</summary>
    public int Rank { get; init; }

    /// <summary>Gets the epoch the run resumed after (0 when it started fresh).</summary>
    public int ResumedFromEpoch { get; init; }

    /// <summary>Gets the hyper-parameters and run facts to record as lineage parameters (world size included).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets the final metrics (for example <c>validation_accuracy</c>, <c>train_loss</c>).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
}
