using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelKit;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Training;
using ModelKit.Training.Data;
using Spectre.Console;

namespace QuickStart;

internal sealed record QuickStartSettings(
    string DataDirectory, string DatasetDirectory, int Epochs, int BatchSize, double LearningRate, long Seed, double MinAccuracy);

/// <summary>Train → export → register → resolve → serve → evaluate, each step through ModelKit's public API.</summary>
internal static class QuickStartJob
{
    private const string ModelName = "fashion-mnist";
    private const string ProductionAlias = "production";
    private const int EvaluationBatchSize = 1000;
    private const int EvaluationCallers = 64;

    public static async Task<int> RunAsync(QuickStartSettings settings, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        services.AddModelKit(o => o.DataDirectory = settings.DataDirectory)
            .AddOnnx()
            .AddModelRegistry()
            // One operator thread per run and one batch per core: with many concurrent callers, one batch runs while
            // the callers of the other are answered and send their next request. 32 rows per batch = 64 callers / 2 batches.
            .AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1)
            .ConfigureSessionPool(o =>
            {
                o.Batching.MaxConcurrentBatches = Math.Max(1, Environment.ProcessorCount);
                o.Batching.MaxBatchSize = Math.Max(1, EvaluationCallers / o.Batching.MaxConcurrentBatches);
            })
            .AddTraining()
            .AddCompression();

        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        try
        {
            return await RunStepsAsync(provider, settings, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            AnsiConsole.MarkupLine("[yellow]Cancelled.[/]");
            return 130;
        }
        catch (Exception ex) when (ex is ModelKitException or InvalidDataException or IOException or ArgumentException or InvalidOperationException)
        {
            AnsiConsole.MarkupLine($"[red]Quick start failed:[/] {Markup.Escape(ex.GetType().Name)}: {Markup.Escape(ex.Message)}");
            return 1;
        }
    }

    private static async Task<int> RunStepsAsync(IServiceProvider provider, QuickStartSettings settings, CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();

        // 1. Data.
        Step(1, "Load Fashion-MNIST");
        FashionMnistSplits data = FashionMnist.Load(settings.DatasetDirectory);
        const int validationCount = 5_000;
        LabeledDataset train = data.Train.Slice(0, data.Train.Count - validationCount);
        LabeledDataset validation = data.Train.Slice(data.Train.Count - validationCount, validationCount);
        AnsiConsole.MarkupLine($"  train {train.Count:N0}, validation {validation.Count:N0}, test {data.Test.Count:N0} images; dataset digest {data.Train.Digest[..19]}…");

        // 2. Train on libtorch.
        Step(2, "Train an MLP 784-256-10 on libtorch");
        var trainer = provider.GetRequiredService<Trainer>();
        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, FashionMnist.ImageSize, FashionMnist.ImageSize]);
        var options = new TrainingRunOptions
        {
            Epochs = settings.Epochs,
            BatchSize = settings.BatchSize,
            LearningRate = settings.LearningRate,
            Optimizer = OptimizerKind.Adam,
            Seed = settings.Seed,
        };
        using SequentialNetwork network = trainer.CreateNetwork(layers, input, settings.Seed);
        var progress = new SynchronousProgress<EpochReport>(e => AnsiConsole.MarkupLine(
            $"  epoch {e.Epoch}/{e.Epochs}  loss {e.TrainLoss:F4}  validation accuracy {e.ValidationAccuracy:P2}  {e.Elapsed.TotalSeconds:F1} s"));
        TrainingReport report = await trainer.TrainAsync(network, train, validation, options, progress, cancellationToken);
        double torchAccuracy = trainer.Evaluate(network, data.Test, EvaluationBatchSize);
        AnsiConsole.MarkupLine($"  trained in {report.Elapsed.TotalSeconds:F1} s ({report.Elapsed.TotalSeconds / settings.Epochs:F2} s per epoch); libtorch test accuracy {torchAccuracy:P2}");

        // 3. Export ONNX.
        Step(3, "Export to ONNX (opset 17)");
        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx, opset: 17);
        AnsiConsole.MarkupLine($"  {onnx.Length:N0} bytes");

        // 4. Register and promote.
        Step(4, $"Register as the next version of '{ModelName}' and point '{ProductionAlias}' at it");
        var registry = provider.GetRequiredService<IModelRegistry>();
        onnx.Position = 0;
        ModelVersion version = await registry.RegisterAsync(
            new ModelRegistration(ModelName)
            {
                Description = "MLP 784-256-10 trained on Fashion-MNIST by the ModelKit quick start",
                Metrics = new Dictionary<string, double>
                {
                    ["test_accuracy"] = torchAccuracy,
                    ["validation_accuracy"] = report.Epochs[^1].ValidationAccuracy,
                    ["train_loss"] = report.Epochs[^1].TrainLoss,
                },
                Tags = new Dictionary<string, string> { ["framework"] = "libtorch", ["sample"] = "quickstart" },
                Lineage = new ModelLineage
                {
                    TrainingRunId = report.RunId,
                    DatasetDigest = data.Train.Digest,
                    Parameters = new Dictionary<string, string>
                    {
                        ["layers"] = "flatten,linear(784,256),relu,dropout(0.1),linear(256,10)",
                        ["optimizer"] = options.Optimizer.ToString(),
                        ["learning_rate"] = options.LearningRate.ToString(CultureInfo.InvariantCulture),
                        ["batch_size"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
                        ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
                        ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                        ["validation_count"] = validationCount.ToString(CultureInfo.InvariantCulture),
                    },
                },
            },
            onnx,
            cancellationToken);
        await ProfileStep.RunAsync(provider, version, validation, cancellationToken); // monitoring's reference profile, with the version
        await registry.SetAliasAsync(ModelName, ProductionAlias, version.Version, cancellationToken);
        AnsiConsole.MarkupLine($"  registered {version.Name}/{version.Version}, {version.Digest[..19]}…, {version.SizeBytes:N0} bytes; signature {Markup.Escape(string.Join(", ", version.Signature.Inputs))} -> {Markup.Escape(string.Join(", ", version.Signature.Outputs))}");
        ModelLineageGraph lineage = await registry.GetLineageAsync(version.Reference, cancellationToken);
        AnsiConsole.MarkupLine($"  lineage: parent {(version.Lineage.ParentVersion is int parent ? $"{version.Name}/{parent}" : "none")}, run {Markup.Escape(version.Lineage.TrainingRunId ?? "none")}, " +
            $"dataset {Markup.Escape(version.Lineage.DatasetDigest ?? "none")} ({lineage.SameDataset.Count} other version(s) trained on it)");

        // 5. Resolve the alias, serve with ONNX Runtime, evaluate the whole test set.
        var reference = ModelReference.Parse($"{ModelName}@{ProductionAlias}");
        Step(5, $"Serve '{reference}' from the session pool (dynamic batching on) and evaluate {data.Test.Count:N0} test images, one request per image from {EvaluationCallers} callers");
        var pool = provider.GetRequiredService<IInferenceSessionPool>();
        (double onnxAccuracy, double imagesPerSecond, double meanBatch, ModelVersion served) = await EvaluateAsync(pool, reference, data.Test, cancellationToken);
        AnsiConsole.MarkupLine($"  served {served.Name}/{served.Version}; mean batch {meanBatch:F1} rows (request-weighted)");

        var table = new Table().AddColumns("engine", "test accuracy");
        table.AddRow("libtorch (training)", torchAccuracy.ToString("F4", CultureInfo.InvariantCulture));
        table.AddRow("ONNX Runtime (served)", onnxAccuracy.ToString("F4", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"ONNX Runtime accuracy: {onnxAccuracy:F4}");
        AnsiConsole.MarkupLine($"libtorch accuracy:     {torchAccuracy:F4}");
        AnsiConsole.MarkupLine($"Evaluation throughput: {imagesPerSecond:N0} images/s (single-image requests, batched by the pool)");
        AnsiConsole.MarkupLine($"Total time: {total.Elapsed.TotalSeconds:F1} s");

        double gap = Math.Abs(onnxAccuracy - torchAccuracy);
        if (gap > 0.001)
        {
            AnsiConsole.MarkupLine($"[red]ONNX Runtime and libtorch accuracies differ by {gap * 100:F2} percentage points (limit 0.1): the exported model does not match the trained one.[/]");
            return 1;
        }

        if (onnxAccuracy < settings.MinAccuracy)
        {
            AnsiConsole.MarkupLine($"[red]ONNX Runtime test accuracy {onnxAccuracy:F4} is below the required {settings.MinAccuracy:F4}.[/]");
            return 1;
        }

        // 6. Compress through the gate (CompressStep.cs).
        int gate = await CompressStep.RunAsync(provider, version, ProductionAlias, data.Test, cancellationToken);
        await ProfileStep.RunForAliasAsync(provider, version, ProductionAlias, validation, cancellationToken); // when the gate promoted the int8 version
        return gate;
    }

    private static async Task<(double Accuracy, double ImagesPerSecond, double MeanBatch, ModelVersion Served)> EvaluateAsync(
        IInferenceSessionPool pool, ModelReference reference, LabeledDataset test, CancellationToken cancellationToken)
    {
        long[] shape = [1, .. test.SampleShape];
        int correct = 0;
        long batchRows = 0;
        ModelVersion? served = null;
        var clock = Stopwatch.StartNew();
        await Parallel.ForAsync(0, EvaluationCallers, new ParallelOptions { MaxDegreeOfParallelism = EvaluationCallers, CancellationToken = cancellationToken }, async (caller, ct) =>
        {
            for (int i = caller; i < test.Count; i += EvaluationCallers)
            {
                // Each caller gives its thread back between requests, as independent clients (for example HTTP
                // requests) do: a request that runs alone on an idle model completes synchronously, and without the
                // yield one caller could keep its thread for all its images while the other callers wait to start.
                await Task.Yield();
                var image = Tensor.Create(test.Features.Slice(i * test.SampleSize, test.SampleSize), shape);
                InferenceResult result = await pool.RunAsync(reference, [new NamedTensor("input", image)], cancellationToken: ct);
                ReadOnlySpan<float> logits = ((Tensor<float>)result.Outputs[0].Value).Span;
                int best = 0;
                for (int c = 1; c < logits.Length; c++)
                {
                    if (logits[c] > logits[best])
                    {
                        best = c;
                    }
                }

                if (best == test.Labels.Span[i])
                {
                    Interlocked.Increment(ref correct);
                }

                Interlocked.Add(ref batchRows, result.BatchSize);
                served ??= result.ModelVersion;
            }
        });
        clock.Stop();
        return ((double)correct / test.Count, test.Count / clock.Elapsed.TotalSeconds, (double)batchRows / test.Count, served!);
    }

    private static void Step(int number, string title) => AnsiConsole.MarkupLine($"[bold]{number}.[/] {Markup.Escape(title)}");

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
