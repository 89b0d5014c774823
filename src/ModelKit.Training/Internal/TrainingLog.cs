using Microsoft.Extensions.Logging;

namespace ModelKit.Training.Internal;

/// <summary>The training package's log messages (event ids 3000-3099).</summary>
internal static partial class TrainingLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Loaded libtorch {TorchVersion} shim from '{LibraryPath}' with {ThreadCount} intra-op threads")]
    public static partial void RuntimeLoaded(ILogger logger, string torchVersion, string libraryPath, int threadCount);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Created a network of {LayerCount} layers with {ParameterCount} parameters (seed {Seed})")]
    public static partial void NetworkCreated(ILogger logger, int layerCount, long parameterCount, long seed);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Training run {RunId} started: {Epochs} epochs over {SampleCount} samples, batch size {BatchSize}, {Optimizer} learning rate {LearningRate}")]
    public static partial void RunStarted(ILogger logger, string runId, int epochs, int sampleCount, int batchSize, OptimizerKind optimizer, double learningRate);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "Training run {RunId} epoch {Epoch}/{Epochs}: loss {TrainLoss:F4}, validation accuracy {ValidationAccuracy:F4}, {ElapsedSeconds:F2} s")]
    public static partial void EpochCompleted(ILogger logger, string runId, int epoch, int epochs, double trainLoss, double validationAccuracy, double elapsedSeconds);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Training run {RunId} finished in {ElapsedSeconds:F2} s")]
    public static partial void RunFinished(ILogger logger, string runId, double elapsedSeconds);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Training run {RunId} was cancelled after {CompletedEpochs} epochs")]
    public static partial void RunCancelled(ILogger logger, string runId, int completedEpochs);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Debug, Message = "Evaluated {SampleCount} samples: accuracy {Accuracy:F4}")]
    public static partial void Evaluated(ILogger logger, int sampleCount, double accuracy);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Error, Message = "Training run {RunId} failed")]
    public static partial void RunFailed(ILogger logger, string runId, Exception exception);
}

/// <summary>Log messages of data-parallel runs and checkpoints (event ids 3010-3019).</summary>
internal static partial class DistributedTrainingLog
{
    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Joined the process group as {Group} (collective timeout {TimeoutSeconds} s)")]
    public static partial void GroupJoined(ILogger logger, string group, double timeoutSeconds);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Training run {RunId} wrote checkpoint '{Path}' (epoch {Epoch}, step {Step})")]
    public static partial void CheckpointWritten(ILogger logger, string runId, string path, int epoch, long step);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "Training run {RunId} resumed from checkpoint '{Path}' (epoch {Epoch}, step {Step})")]
    public static partial void Resumed(ILogger logger, string runId, string path, int epoch, long step);
}
