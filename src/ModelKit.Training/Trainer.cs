using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ModelKit.Training.Data;
using ModelKit.Training.Internal;
using ModelKit.Training.Interop;

namespace ModelKit.Training;

/// <summary>
/// Creates <see cref="SequentialNetwork"/>s on libtorch, trains them with mini-batch gradient descent on a
/// <see cref="LabeledDataset"/>, and measures their accuracy. Registered as a singleton by <c>AddTraining()</c>.
/// </summary>
/// <remarks>
/// <para>
/// The libtorch shim is loaded, and its intra-op thread count set (<see cref="TorchTrainingOptions.ThreadCount"/>),
/// when the first network is created, not when the trainer is constructed.
/// </para>
/// <para>
/// Telemetry: meter and activity source <c>ModelKit.Training</c>; histogram <c>modelkit.training.epoch.duration</c>
/// (s) and counter <c>modelkit.training.samples</c> (<c>{sample}</c>), both tagged <c>modelkit.training.optimizer</c>;
/// activity <c>modelkit.training.train</c> per run. Logs one line per epoch.
/// </para>
/// <para>Thread-safety: every member is thread-safe. Runs on different networks proceed in parallel.</para>
/// </remarks>
public sealed partial class Trainer : IDisposable
{
    private readonly TorchTrainingOptions _options;
    private readonly ILogger _logger;
    private readonly TrainingTelemetry _telemetry;
    private readonly Lock _initLock = new();
    private volatile bool _initialized;

    /// <summary>Initializes a trainer. Nothing native is loaded until the first network is created.</summary>
    /// <param name="options">Where the libtorch shim is and how many threads libtorch uses.</param>
    /// <param name="logger">An optional logger.</param>
    /// <param name="meterFactory">An optional meter factory; without one the trainer owns its meter.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public Trainer(IOptions<TorchTrainingOptions> options, ILogger<Trainer>? logger = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _telemetry = new TrainingTelemetry(meterFactory);
    }

    /// <summary>
    /// Builds a network of <paramref name="layers"/> on libtorch, initialised as PyTorch initialises
    /// <c>nn.Linear</c> after <c>torch.manual_seed(seed)</c> (so the same seed gives bit-identical parameters).
    /// </summary>
    /// <param name="layers">The layers, in order: the network must contain a <see cref="LinearLayer"/>, Linear layers need a rank-2 input
    /// (put a <see cref="FlattenLayer"/> first for images), and consecutive Linear layers must chain.</param>
    /// <param name="input">The input spec: <see cref="TensorElementType.Float"/>, batch dimension first, <c>-1</c> for dynamic dimensions, for example <c>[-1, 1, 28, 28]</c>.</param>
    /// <param name="seed">The seed of the parameter initialisation and of the network's dropout generator.</param>
    /// <returns>The network; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="layers"/> or <paramref name="input"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The layers or input spec are invalid; the message names the layer, its index and the values.</exception>
    /// <exception cref="OptionsValidationException">The trainer's <see cref="TorchTrainingOptions"/> are invalid.</exception>
    /// <exception cref="NativeEngineException">The libtorch shim cannot be loaded (the message names the paths tried and says to run <c>eng/setup.sh</c>), or libtorch failed.</exception>
    public SequentialNetwork CreateNetwork(IReadOnlyList<LayerSpec> layers, TensorSpec input, long seed)
    {
        NetworkSpec spec = NetworkSpec.Create(layers, input);
        EnsureRuntime();
        SequentialNetwork network = SequentialNetwork.Create(spec, input, seed);
        TrainingLog.NetworkCreated(_logger, network.Layers.Count, network.ParameterCount, seed);
        return network;
    }

    /// <summary>
    /// Trains <paramref name="network"/> on a background thread: each epoch shuffles the training samples with a
    /// permutation seeded by <see cref="TrainingRunOptions.Seed"/>, gathers mini-batches into reused buffers and runs
    /// one <see cref="SequentialNetwork.TrainStep"/> per batch, then measures validation accuracy.
    /// </summary>
    /// <param name="network">The network to train; it must not be disposed during the run.</param>
    /// <param name="train">The training set; its samples must fit <see cref="SequentialNetwork.Input"/> and its classes the network's outputs.</param>
    /// <param name="validation">An optional validation set, evaluated after every epoch.</param>
    /// <param name="options">The run's settings.</param>
    /// <param name="progress">Optional; receives each epoch's report as soon as the epoch ends, from the training thread.</param>
    /// <param name="cancellationToken">Checked between batches; the network keeps the updates made so far.</param>
    /// <returns>The run's report.</returns>
    /// <exception cref="ArgumentNullException">A required argument is <see langword="null"/> (thrown synchronously).</exception>
    /// <exception cref="ArgumentException">The options are invalid, or a data set does not fit the network (thrown synchronously).</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ModelKitException">The loss became NaN or infinite (the run diverged).</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public Task<TrainingReport> TrainAsync(
        SequentialNetwork network,
        LabeledDataset train,
        LabeledDataset? validation,
        TrainingRunOptions options,
        IProgress<EpochReport>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        network.ThrowIfDisposed();
        CheckFits(network, train, nameof(train));
        if (validation is not null)
        {
            CheckFits(network, validation, nameof(validation));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TrainingReport>(cancellationToken);
        }

        return Task.Factory.StartNew(
            () => Train(network, train, validation, options, progress, cancellationToken),
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
    }

    /// <summary>Measures the fraction of samples whose arg-max logit (eval mode, no gradients) equals the label.</summary>
    /// <param name="network">The network.</param>
    /// <param name="data">The samples; they must fit <see cref="SequentialNetwork.Input"/>.</param>
    /// <param name="batchSize">Samples per forward pass, 1 to <see cref="TrainingRunOptions.MaxBatchSize"/>.</param>
    /// <returns>The accuracy in [0, 1].</returns>
    /// <exception cref="ArgumentNullException"><paramref name="network"/> or <paramref name="data"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batchSize"/> is out of range.</exception>
    /// <exception cref="ArgumentException">The data set is empty or does not fit the network.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public double Evaluate(SequentialNetwork network, LabeledDataset data, int batchSize = 1000)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, TrainingRunOptions.MaxBatchSize);
        network.ThrowIfDisposed();
        CheckFits(network, data, nameof(data));
        double accuracy = EvaluateCore(network, data, batchSize);
        TrainingLog.Evaluated(_logger, data.Count, accuracy);
        return accuracy;
    }

    /// <summary>Releases the trainer's own meter when it was created without an <see cref="IMeterFactory"/>. Networks are not affected.</summary>
    public void Dispose() => _telemetry.Dispose();

    private static void CheckFits(SequentialNetwork network, LabeledDataset data, string paramName)
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

        if (!network.Input.Accepts(shape))
        {
            throw new ArgumentException(
                $"Data set '{data.Name}' has samples of shape {TensorSpec.FormatShape(data.SampleShape)}, which do not fit the network input " +
                $"'{network.Input.Name}' {TensorSpec.FormatShape(network.Input.Shape)} (batch dimension first). Reshape the data or create the network with a matching input spec.",
                paramName);
        }

        if (data.ClassCount > network.ClassCount)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"Data set '{data.Name}' has {data.ClassCount} classes but the network has {network.ClassCount} outputs; make the last LinearLayer's OutFeatures {data.ClassCount}."),
                paramName);
        }
    }

    private static double EvaluateCore(SequentialNetwork network, LabeledDataset data, int batchSize)
    {
        int sampleSize = data.SampleSize;
        int classes = network.ClassCount;
        int batch = Math.Min(batchSize, data.Count);
        float[] logits = ArrayPool<float>.Shared.Rent(checked(batch * classes));
        long[] shape = BatchShape(data);
        try
        {
            ReadOnlySpan<float> features = data.Features.Span;
            ReadOnlySpan<long> labels = data.Labels.Span;
            long correct = 0;
            for (int start = 0; start < data.Count; start += batch)
            {
                int n = Math.Min(batch, data.Count - start);
                shape[0] = n;
                network.Forward(features.Slice(start * sampleSize, n * sampleSize), shape, logits);
                for (int i = 0; i < n; i++)
                {
                    ReadOnlySpan<float> row = logits.AsSpan(i * classes, classes);
                    int best = 0;
                    for (int c = 1; c < row.Length; c++)
                    {
                        if (row[c] > row[best])
                        {
                            best = c;
                        }
                    }

                    if (best == labels[start + i])
                    {
                        correct++;
                    }
                }
            }

            return (double)correct / data.Count;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(logits);
        }
    }

    private static long[] BatchShape(LabeledDataset data)
    {
        long[] shape = new long[data.SampleShape.Count + 1];
        for (int i = 0; i < data.SampleShape.Count; i++)
        {
            shape[i + 1] = data.SampleShape[i];
        }

        return shape;
    }

    private TrainingReport Train(
        SequentialNetwork network,
        LabeledDataset train,
        LabeledDataset? validation,
        TrainingRunOptions options,
        IProgress<EpochReport>? progress,
        CancellationToken cancellationToken)
    {
        string runId = Guid.CreateVersion7().ToString("N");
        using Activity? activity = TrainingTelemetry.StartActivity("modelkit.training.train");
        activity?.SetTag("modelkit.training.run_id", runId);
        activity?.SetTag(TrainingTelemetry.OptimizerTag, OptimizerTagValue(options.Optimizer));
        activity?.SetTag("modelkit.training.epochs", options.Epochs);
        activity?.SetTag("modelkit.training.batch_size", options.BatchSize);

        int count = train.Count;
        int sampleSize = train.SampleSize;
        int batch = Math.Min(options.BatchSize, count);
        var epochs = new List<EpochReport>(options.Epochs);
        var tags = new KeyValuePair<string, object?>(TrainingTelemetry.OptimizerTag, OptimizerTagValue(options.Optimizer));
        long runStart = Stopwatch.GetTimestamp();
        TrainingLog.RunStarted(_logger, runId, options.Epochs, count, batch, options.Optimizer, options.LearningRate);

        float[] batchFeatures = ArrayPool<float>.Shared.Rent(checked(batch * sampleSize));
        long[] batchLabels = ArrayPool<long>.Shared.Rent(batch);
        int[] order = new int[count];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        long[] shape = BatchShape(train);
        var random = new SplitMix64(options.Seed);
        try
        {
            using NetworkOptimizer optimizer = network.CreateOptimizer(options.ToOptimizerSettings());
            for (int epoch = 1; epoch <= options.Epochs; epoch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long epochStart = Stopwatch.GetTimestamp();
                if (options.Shuffle)
                {
                    random.Shuffle(order);
                }

                double lossSum = 0;
                ReadOnlySpan<float> features = train.Features.Span;
                ReadOnlySpan<long> labels = train.Labels.Span;
                for (int start = 0; start < count; start += batch)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int n = Math.Min(batch, count - start);
                    for (int i = 0; i < n; i++)
                    {
                        int sample = order[start + i];
                        features.Slice(sample * sampleSize, sampleSize).CopyTo(batchFeatures.AsSpan(i * sampleSize, sampleSize));
                        batchLabels[i] = labels[sample];
                    }

                    shape[0] = n;
                    float loss = network.TrainStep(optimizer, batchFeatures.AsSpan(0, n * sampleSize), shape, batchLabels.AsSpan(0, n));
                    if (!float.IsFinite(loss))
                    {
                        throw new ModelKitException(string.Create(CultureInfo.InvariantCulture,
                            $"Training diverged: the loss of epoch {epoch}, batch {(start / batch) + 1} is {loss} ({options.Optimizer}, learning rate {options.LearningRate}). Lower the learning rate, or check the features for NaN or very large values."));
                    }

                    lossSum += (double)loss * n;
                }

                if (_telemetry.Samples.Enabled)
                {
                    _telemetry.Samples.Add(count, tags);
                }

                double accuracy = validation is null ? double.NaN : EvaluateCore(network, validation, options.EvaluationBatchSize);
                TimeSpan elapsed = Stopwatch.GetElapsedTime(epochStart);
                var report = new EpochReport(epoch, options.Epochs, lossSum / count, accuracy, elapsed);
                epochs.Add(report);
                _telemetry.EpochDuration.Record(elapsed.TotalSeconds, tags);
                TrainingLog.EpochCompleted(_logger, runId, epoch, options.Epochs, report.TrainLoss, accuracy, elapsed.TotalSeconds);
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
        finally
        {
            ArrayPool<float>.Shared.Return(batchFeatures);
            ArrayPool<long>.Shared.Return(batchLabels);
        }

        TimeSpan total = Stopwatch.GetElapsedTime(runStart);
        TrainingLog.RunFinished(_logger, runId, total.TotalSeconds);
        return new TrainingReport(epochs.AsReadOnly(), total, runId, train.Digest, count, options);
    }

    private static string OptimizerTagValue(OptimizerKind kind) => kind == OptimizerKind.Adam ? "adam" : "sgd";

    private void EnsureRuntime()
    {
        if (_initialized)
        {
            return;
        }

        lock (_initLock)
        {
            if (_initialized)
            {
                return;
            }

            string? failure = TorchTrainingOptionsValidator.GetFailure(_options);
            if (failure is not null)
            {
                throw new OptionsValidationException(Options.DefaultName, typeof(TorchTrainingOptions), [failure]);
            }

            TorchLibrary.EnsureLoaded(_options.LibraryPath);
            int threads = _options.ThreadCount == 0 ? Environment.ProcessorCount : _options.ThreadCount;
            TorchLibrary.ThrowIfFailed(MkRuntime.SetNumThreads(threads), "mk_runtime_set_num_threads");
            TorchLibrary.ThrowIfFailed(MkRuntime.Version(out nint version), "mk_runtime_version");
            string versionText = Marshal.PtrToStringUTF8(version) ?? "?";
            TrainingLog.RuntimeLoaded(_logger, versionText, TorchLibrary.LoadedFrom ?? "?", threads);
            _initialized = true;
        }
    }
}
