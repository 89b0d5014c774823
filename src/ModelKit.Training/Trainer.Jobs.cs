using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using ModelKit.Training.Data;
using ModelKit.Training.Distributed;
using ModelKit.Training.Internal;
using ModelKit.Training.Interop;

namespace ModelKit.Training;

/// <summary>The <see cref="ITrainer"/> side of the trainer: jobs, data-parallel training, checkpoints, ONNX export.</summary>
public sealed partial class Trainer : ITrainer
{
    /// <summary>
    /// Runs a training job on a background thread: builds the network, joins the process group when
    /// <see cref="TrainingJob.Distributed"/> is set (rank 0's initial parameters are broadcast), resumes from the newest
    /// checkpoint when asked, trains each rank on its <see cref="DistributedSampler"/> shard with gradients averaged by
    /// bucketed all-reduce (batches are gathered on a background task while the previous step computes), evaluates the
    /// validation set after every epoch (sharded, counts all-reduced), writes checkpoints, and exports the model to ONNX.
    /// </summary>
    /// <inheritdoc />
    public Task<TrainingResult> TrainAsync(TrainingJob job, IProgress<EpochReport>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(job.Model);
        ArgumentNullException.ThrowIfNull(job.Train);
        ArgumentNullException.ThrowIfNull(job.Options);
        job.Options.Validate();
        job.Checkpoints?.Validate();
        job.Distributed?.Validate();
        if (job.Opset is < 17 or > 23)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"TrainingJob.Opset is {job.Opset}; it must be 17 to 23."), nameof(job));
        }

        NetworkSpec spec = NetworkSpec.Create(job.Model.Layers, job.Model.Input);
        int world = job.Distributed?.WorldSize ?? 1;
        if (job.Options.BatchSize % world != 0)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"TrainingRunOptions.BatchSize {job.Options.BatchSize} (the global batch) does not divide over {world} ranks; use a multiple of the world size."),
                nameof(job));
        }

        CheckJobFits(spec, job.Model.Input, job.Options.Loss, job.Train, nameof(job));
        if (job.Validation is not null)
        {
            CheckJobFits(spec, job.Model.Input, job.Options.Loss, job.Validation, nameof(job));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TrainingResult>(cancellationToken);
        }

        return Task.Factory.StartNew(
            () => RunJob(job, spec, progress, cancellationToken),
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    private static void CheckJobFits(NetworkSpec spec, TensorSpec input, LossSpec loss, LabeledDataset data, string paramName)
    {
        if (data.Count == 0)
        {
            throw new ArgumentException($"Data set '{data.Name}' has no samples.", paramName);
        }

        Span<long> shape = stackalloc long[data.SampleShape.Count + 1];
        shape[0] = 1;
        for (int i = 0; i < data.SampleShape.Count; i++)
        {
            shape[i + 1] = data.SampleShape[i];
        }

        if (!input.Accepts(shape))
        {
            throw new ArgumentException(
                $"Data set '{data.Name}' has samples of shape {TensorSpec.FormatShape(data.SampleShape)}, which do not fit the model input '{input.Name}' {TensorSpec.FormatShape(input.Shape)} (batch dimension first). Reshape the data or change the model's input spec.",
                paramName);
        }

        if (spec.OutputShape.Length != 2 || spec.OutputShape[1] < 1)
        {
            throw new ArgumentException(
                $"The model's output has shape {TensorSpec.FormatShape(spec.OutputShape)}, but training on class labels needs [N, C]; end the model with a LinearLayer (after a FlattenLayer for feature maps).",
                paramName);
        }

        long classes = spec.OutputShape[1];
        bool fits = loss is CrossEntropyLoss ? data.ClassCount <= classes : classes == 1 ? data.ClassCount == 2 : data.ClassCount <= classes;
        if (!fits)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"Data set '{data.Name}' has {data.ClassCount} classes but the model has {classes} outputs; make the last layer's outputs {data.ClassCount} (or 1 for a two-class {loss.GetType().Name})."),
                paramName);
        }

        if (loss is CrossEntropyLoss { ClassWeights: { } weights } && weights.Count != classes)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"CrossEntropyLoss has {weights.Count} class weights but the model has {classes} outputs; give one weight per output."),
                paramName);
        }
    }

    private static ulong DropoutSeed(long seed, int rank, int epoch, int batch)
    {
        var mix = new SplitMix64(unchecked(seed ^ ((long)rank << 48) ^ ((long)epoch << 24) ^ batch));
        return mix.Next();
    }

    private TrainingResult RunJob(TrainingJob job, NetworkSpec spec, IProgress<EpochReport>? progress, CancellationToken cancellationToken)
    {
        TrainingRunOptions options = job.Options;
        long runStart = Stopwatch.GetTimestamp();
        EnsureRuntime();
        using ProcessGroup? group = job.Distributed is null ? null : ProcessGroup.Join(job.Distributed);
        if (group is not null)
        {
            string description = group.Describe();
            double timeoutSeconds = job.Distributed!.CollectiveTimeout.TotalSeconds;
            DistributedTrainingLog.GroupJoined(_logger, description, timeoutSeconds);
        }

        int rank = group?.Rank ?? 0;
        int world = group?.WorldSize ?? 1;
        string runId = AgreeOnRunId(group);
        using Activity? activity = TrainingTelemetry.StartActivity("modelkit.training.train");
        activity?.SetTag("modelkit.training.run_id", runId);
        activity?.SetTag("modelkit.training.world_size", world);

        using SequentialNetwork network = SequentialNetwork.Create(spec, job.Model.Input, options.Seed);
        group?.BroadcastNetwork(network);
        using NetworkOptimizer optimizer = network.CreateOptimizer(options.ToOptimizerSettings());

        LabeledDataset train = job.Train;
        var sampler = new DistributedSampler(train.Count, world, rank, options.Shuffle, options.Seed, options.DropLast);
        int batch = Math.Min(options.BatchSize / world, sampler.SamplesPerRank);
        int batchesPerEpoch = options.DropLast ? sampler.SamplesPerRank / batch : (sampler.SamplesPerRank + batch - 1) / batch;
        int accumulation = options.AccumulationSteps;
        long stepsPerEpoch = (batchesPerEpoch + accumulation - 1) / accumulation;
        long totalSteps = checked(stepsPerEpoch * options.Epochs);

        int startEpoch = 0;
        int startBatch = 0;
        long optimizerSteps = 0;
        double resumedLossSum = 0;
        long resumedSamples = 0;
        int resumedFromEpoch = 0;
        if (job.Checkpoints is { Resume: true } && CheckpointStore.FindLatest(job.Checkpoints.Directory) is { } latest)
        {
            (CheckpointHeader header, byte[] payload) = CheckpointStore.Read(latest, spec.Digest);
            if (header.WorldSize != world)
            {
                throw new ModelKitException(string.Create(CultureInfo.InvariantCulture,
                    $"Checkpoint '{latest}' was written by a run of {header.WorldSize} ranks but this run has {world}; resume at the same world size, or start without Resume."));
            }

            network.LoadState(optimizer, payload);
            (startEpoch, startBatch, optimizerSteps) = (header.Epoch, header.NextBatch, header.OptimizerSteps);
            (resumedLossSum, resumedSamples) = rank == 0 ? (header.EpochLossSum, header.EpochSamples) : (0, 0);
            resumedFromEpoch = header.Epoch;
            runId = header.RunId;
            DistributedTrainingLog.Resumed(_logger, runId, latest, header.Epoch, header.OptimizerSteps);
        }

        TrainingLog.RunStarted(_logger, runId, options.Epochs, train.Count, options.BatchSize, options.Optimizer, options.LearningRate);
        var epochs = new List<EpochReport>(options.Epochs);
        var tags = new KeyValuePair<string, object?>(TrainingTelemetry.OptimizerTag, options.Optimizer.ToString().ToLowerInvariant());
        int sampleSize = train.SampleSize;
        var buffers = new BatchBuffers(batch, sampleSize, spec.OutputFeatures, options.Loss);
        float[]? classWeights = options.Loss is CrossEntropyLoss { ClassWeights: { } w } ? [.. w] : null;
        try
        {
            for (int epoch = startEpoch; epoch < options.Epochs; epoch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long epochStart = Stopwatch.GetTimestamp();
                int[] indices = sampler.Indices(epoch);
                double lossSum = epoch == startEpoch ? resumedLossSum : 0;
                long samples = epoch == startEpoch ? resumedSamples : 0;
                double waitSeconds = 0;
                int firstBatch = epoch == startEpoch ? startBatch : 0;
                Task? pending = firstBatch < batchesPerEpoch ? buffers.GatherAsync(train, indices, firstBatch, 0) : null;
                for (int b = firstBatch; b < batchesPerEpoch; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    pending!.GetAwaiter().GetResult();
                    int slot = (b - firstBatch) & 1;
                    int n = buffers.Count[slot];
                    pending = b + 1 < batchesPerEpoch ? buffers.GatherAsync(train, indices, b + 1, slot ^ 1) : null;

                    int micro = b % accumulation;
                    bool zeroGrad = micro == 0 || b == firstBatch;
                    bool step = micro == accumulation - 1 || b == batchesPerEpoch - 1;
                    if (zeroGrad)
                    {
                        double lr = options.LearningRateAt(optimizerSteps, totalSteps);
                        if (lr != optimizer.LearningRate)
                        {
                            optimizer.LearningRate = lr;
                        }
                    }

                    network.SetDropoutSeed(DropoutSeed(options.Seed, rank, epoch, b));
                    float loss = RunStep(network, optimizer, group, options, classWeights, buffers, slot, n, zeroGrad, step, job.Distributed, ref waitSeconds);
                    if (!float.IsFinite(loss))
                    {
                        throw new ModelKitException(string.Create(CultureInfo.InvariantCulture,
                            $"Training diverged: the loss of epoch {epoch + 1}, batch {b + 1} on rank {rank} is {loss} ({options.Optimizer}, learning rate {optimizer.LearningRate}). Lower the learning rate, or check the features for NaN or very large values."));
                    }

                    lossSum += (double)loss * n;
                    samples += n;
                    if (step)
                    {
                        optimizerSteps++;
                        if (job.Checkpoints is { EverySteps: > 0 } c && optimizerSteps % c.EverySteps == 0 && b + 1 < batchesPerEpoch)
                        {
                            WriteCheckpoint(job, spec, network, optimizer, runId, world, epoch, b + 1, optimizerSteps, lossSum, samples, rank, group);
                        }
                    }
                }

                Span<double> totals = [lossSum, samples];
                group?.AllReduceSum(totals);
                if (_telemetry.Samples.Enabled)
                {
                    _telemetry.Samples.Add(samples, tags);
                }

                double accuracy = job.Validation is null ? double.NaN : EvaluateSharded(network, job.Validation, options.EvaluationBatchSize, group);
                TimeSpan elapsed = Stopwatch.GetElapsedTime(epochStart);
                var report = new EpochReport(epoch + 1, options.Epochs, totals[0] / totals[1], accuracy, elapsed)
                {
                    AllReduceWait = TimeSpan.FromSeconds(waitSeconds),
                    Samples = samples,
                    LearningRate = optimizer.LearningRate,
                };
                epochs.Add(report);
                _telemetry.EpochDuration.Record(elapsed.TotalSeconds, tags);
                TrainingLog.EpochCompleted(_logger, runId, epoch + 1, options.Epochs, report.TrainLoss, accuracy, elapsed.TotalSeconds);
                if (job.Checkpoints is { EveryEpochs: > 0 } ce && ((epoch + 1) % ce.EveryEpochs == 0 || epoch + 1 == options.Epochs))
                {
                    WriteCheckpoint(job, spec, network, optimizer, runId, world, epoch + 1, 0, optimizerSteps, 0, 0, rank, group);
                }

                progress?.Report(report);
            }
        }
        catch (OperationCanceledException)
        {
            TrainingLog.RunCancelled(_logger, runId, epochs.Count);
            activity?.SetStatus(ActivityStatusCode.Error, "cancelled");
            throw;
        }
        catch (Exception ex)
        {
            TrainingLog.RunFailed(_logger, runId, ex);
            TrainingTelemetry.RecordError(activity, ex);
            throw;
        }

        var parameters = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
            ["batch_size"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["learning_rate"] = OptimizerSettings.Format(options.LearningRate),
            ["optimizer"] = options.Optimizer.ToString(),
            ["loss"] = options.Loss.GetType().Name,
            ["schedule"] = options.Schedule.GetType().Name,
            ["warmup_steps"] = options.WarmupSteps.ToString(CultureInfo.InvariantCulture),
            ["accumulation_steps"] = accumulation.ToString(CultureInfo.InvariantCulture),
            ["max_gradient_norm"] = OptimizerSettings.Format(options.MaxGradientNorm),
            ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
            ["world_size"] = world.ToString(CultureInfo.InvariantCulture),
            ["model_spec_digest"] = spec.Digest,
        };
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        if (epochs.Count > 0)
        {
            metrics["train_loss"] = epochs[^1].TrainLoss;
            if (!double.IsNaN(epochs[^1].ValidationAccuracy))
            {
                metrics["validation_accuracy"] = epochs[^1].ValidationAccuracy;
            }
        }

        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx, job.Opset, new Dictionary<string, string>
        {
            ["modelkit.training.run_id"] = runId,
            ["modelkit.training.world_size"] = world.ToString(CultureInfo.InvariantCulture),
            ["modelkit.training.dataset_digest"] = train.Digest,
        });
        TimeSpan total = Stopwatch.GetElapsedTime(runStart);
        TrainingLog.RunFinished(_logger, runId, total.TotalSeconds);
        return new TrainingResult(runId, onnx.ToArray(), epochs.AsReadOnly(), total)
        {
            DatasetDigest = train.Digest,
            WorldSize = world,
            Rank = rank,
            ResumedFromEpoch = resumedFromEpoch,
            Parameters = parameters,
            Metrics = metrics,
        };
    }

    private static unsafe float RunStep(
        SequentialNetwork network, NetworkOptimizer optimizer, ProcessGroup? group, TrainingRunOptions options, float[]? classWeights,
        BatchBuffers buffers, int slot, int n, bool zeroGrad, bool step, DistributedSettings? distributed, ref double waitSeconds)
    {
        int sampleSize = buffers.SampleSize;
        long[] shape = buffers.Shape[slot];
        shape[0] = n;
        var args = new MkTraining.StepArgs
        {
            LossKind = options.Loss switch
            {
                MseLoss => MkTraining.LossMse,
                BceWithLogitsLoss => MkTraining.LossBceWithLogits,
                _ => MkTraining.LossCrossEntropy,
            },
            LabelSmoothing = options.Loss is CrossEntropyLoss ce ? ce.LabelSmoothing : 0,
            LossScale = 1.0 / options.AccumulationSteps,
            ZeroGrad = zeroGrad ? 1 : 0,
            Step = step ? 1 : 0,
            MaxGradNorm = options.MaxGradientNorm,
            BucketCapBytes = distributed?.BucketCapBytes ?? 0,
            ClassWeightCount = classWeights?.Length ?? 0,
        };
        float loss;
        fixed (float* pWeights = classWeights)
        {
            args.ClassWeights = pWeights;
            ReadOnlySpan<float> features = buffers.Features[slot].AsSpan(0, n * sampleSize);
            if (buffers.FloatTargets is not null)
            {
                int width = buffers.TargetWidth;
                fixed (float* pTargets = buffers.FloatTargets[slot])
                {
                    loss = network.Step(optimizer, group, ref args, features, shape, pTargets, (long)n * width);
                }
            }
            else
            {
                fixed (long* pLabels = buffers.Labels[slot])
                {
                    loss = network.Step(optimizer, group, ref args, features, shape, pLabels, n);
                }
            }
        }

        waitSeconds += args.OutWaitSeconds;
        return loss;
    }

    private static string AgreeOnRunId(ProcessGroup? group)
    {
        if (group is null)
        {
            return Guid.CreateVersion7().ToString("N");
        }

        // Rank 0 draws 3 × 40 random bits; the sum over the ranks (others add 0) is rank 0's value on every rank.
        Span<double> parts = stackalloc double[3];
        if (group.Rank == 0)
        {
            for (int i = 0; i < parts.Length; i++)
            {
                parts[i] = Random.Shared.NextInt64(1L << 40);
            }
        }

        group.AllReduceSum(parts);
        return string.Create(CultureInfo.InvariantCulture, $"ddp-{(long)parts[0]:x10}{(long)parts[1]:x10}{(long)parts[2]:x10}");
    }

    private void WriteCheckpoint(
        TrainingJob job, NetworkSpec spec, SequentialNetwork network, NetworkOptimizer optimizer, string runId, int world, int epoch, int nextBatch,
        long optimizerSteps, double lossSum, long samples, int rank, ProcessGroup? group)
    {
        if (rank == 0)
        {
            byte[] payload = network.SaveState(optimizer);
            var header = new CheckpointHeader
            {
                SpecDigest = spec.Digest,
                RunId = runId,
                DatasetDigest = job.Train.Digest,
                WorldSize = world,
                Seed = job.Options.Seed,
                Epoch = epoch,
                NextBatch = nextBatch,
                OptimizerSteps = optimizerSteps,
                EpochLossSum = lossSum,
                EpochSamples = samples,
            };
            string path = CheckpointStore.Write(job.Checkpoints!.Directory, header, payload, job.Checkpoints.KeepLast);
            DistributedTrainingLog.CheckpointWritten(_logger, runId, path, epoch, optimizerSteps);
        }

        // Every rank waits until rank 0's file is complete, so that a rank that fails next cannot leave a half-written set.
        group?.Barrier();
    }

    private static double EvaluateSharded(SequentialNetwork network, LabeledDataset data, int batchSize, ProcessGroup? group)
    {
        int world = group?.WorldSize ?? 1;
        int rank = group?.Rank ?? 0;
        int start = (int)((long)data.Count * rank / world);
        int end = (int)((long)data.Count * (rank + 1) / world);
        Span<double> counts = [0, end - start];
        if (end > start)
        {
            counts[0] = Math.Round(EvaluateCore(network, data.Slice(start, end - start), batchSize) * (end - start));
        }

        group?.AllReduceSum(counts);
        return counts[0] / counts[1];
    }

    /// <summary>Two sets of batch buffers: one is filled on a background task while the step runs on the other.</summary>
    private sealed class BatchBuffers
    {
        public BatchBuffers(int batch, int sampleSize, int classes, LossSpec loss)
        {
            Batch = batch;
            SampleSize = sampleSize;
            int features = checked(batch * sampleSize);
            Features = [new float[features], new float[features]];
            Labels = [new long[batch], new long[batch]];
            Count = new int[2];
            Shape = [null!, null!];
            if (loss is not CrossEntropyLoss)
            {
                TargetWidth = classes;
                FloatTargets = [new float[checked(batch * classes)], new float[checked(batch * classes)]];
            }
        }

        public int Batch { get; }

        public int SampleSize { get; }

        public float[][] Features { get; }

        public long[][] Labels { get; }

        public float[][]? FloatTargets { get; }

        public int TargetWidth { get; }

        public int[] Count { get; }

        public long[][] Shape { get; }

        public Task GatherAsync(LabeledDataset data, int[] indices, int batchIndex, int slot) => Task.Run(() =>
        {
            if (Shape[slot] is null)
            {
                long[] shape = new long[data.SampleShape.Count + 1];
                for (int d = 0; d < data.SampleShape.Count; d++)
                {
                    shape[d + 1] = data.SampleShape[d];
                }

                Shape[slot] = shape;
            }

            int start = batchIndex * Batch;
            int n = Math.Min(Batch, indices.Length - start);
            ReadOnlySpan<float> features = data.Features.Span;
            ReadOnlySpan<long> labels = data.Labels.Span;
            float[] destination = Features[slot];
            long[] labelDestination = Labels[slot];
            float[]? targets = FloatTargets?[slot];
            if (targets is not null)
            {
                Array.Clear(targets, 0, n * TargetWidth);
            }

            for (int i = 0; i < n; i++)
            {
                int sample = indices[start + i];
                features.Slice(sample * SampleSize, SampleSize).CopyTo(destination.AsSpan(i * SampleSize, SampleSize));
                labelDestination[i] = labels[sample];
                if (targets is not null)
                {
                    // One-hot targets for [N, C] outputs; the label itself (0 or 1) for a single output.
                    if (TargetWidth == 1)
                    {
                        targets[i] = labels[sample];
                    }
                    else
                    {
                        targets[(i * TargetWidth) + (int)labels[sample]] = 1f;
                    }
                }
            }

            Count[slot] = n;
        });
    }
}
