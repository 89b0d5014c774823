using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using ModelKit;
using ModelKit.Registry;
using ModelKit.Training;
using ModelKit.Training.Data;

namespace TrainAndRegister;

/// <summary>The command line's settings.</summary>
/// <param name="DataDirectory">The ModelKit data directory (registry database and artifact store).</param>
/// <param name="DatasetDirectory">The directory holding the Fashion-MNIST IDX files.</param>
/// <param name="ModelName">The registered model's name.</param>
/// <param name="Alias">The alias moved to the new version.</param>
/// <param name="Epochs">Epochs over the training split.</param>
/// <param name="Quick">Train on the first <see cref="TrainJob.QuickTrainingImages"/> images only.</param>
/// <param name="Seed">Seed for initialization and shuffling.</param>
internal sealed record TrainSettings(
    string DataDirectory, string DatasetDirectory, string ModelName, string Alias, int Epochs, bool Quick, long Seed);

/// <summary>Load Fashion-MNIST → train an MLP on libtorch → export ONNX → register → move the alias.</summary>
internal static class TrainJob
{
    /// <summary>Training images used by <c>--quick</c>.</summary>
    public const int QuickTrainingImages = 10_000;

    private const int ValidationImages = 5_000;

    public static async Task<int> RunAsync(TrainSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = settings.DataDirectory)
            .AddOnnx()              // the registry reads each ONNX model's signature
            .AddModelRegistry()     // SQLite + content-addressed files under DataDirectory
            .AddTraining();         // Trainer on libtorch
        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
        try
        {
            return await RunStepsAsync(provider, settings, output, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await output.WriteLineAsync("Cancelled.");
            return 130;
        }
        catch (Exception ex) when (ex is ModelKitException or IOException or ArgumentException or InvalidOperationException or DllNotFoundException)
        {
            await Console.Error.WriteLineAsync($"Training failed: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }

    private static async Task<int> RunStepsAsync(IServiceProvider provider, TrainSettings settings, TextWriter output, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();

        // 1. Data: the last 5,000 training images validate; --quick trains on the first 10,000 of the rest.
        FashionMnistSplits data = FashionMnist.Load(settings.DatasetDirectory);
        int trainCount = data.Train.Count - ValidationImages;
        LabeledDataset validation = data.Train.Slice(trainCount, ValidationImages);
        LabeledDataset train = data.Train.Slice(0, settings.Quick ? Math.Min(QuickTrainingImages, trainCount) : trainCount);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Fashion-MNIST: train {train.Count:N0}, validation {validation.Count:N0}, test {data.Test.Count:N0} images"));

        // 2. Train an MLP 784-128-10 on libtorch, reporting every epoch.
        var trainer = provider.GetRequiredService<Trainer>();
        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 128), new ReluLayer(), new LinearLayer(128, 10)];
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, FashionMnist.ImageSize, FashionMnist.ImageSize]);
        var options = new TrainingRunOptions
        {
            Epochs = settings.Epochs,
            BatchSize = 128,
            LearningRate = 1e-3,
            Optimizer = OptimizerKind.Adam,
            Seed = settings.Seed,
        };
        using SequentialNetwork network = trainer.CreateNetwork(layers, input, settings.Seed);
        var progress = new SynchronousProgress<EpochReport>(e => output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"epoch {e.Epoch}/{e.Epochs}: loss {e.TrainLoss:F4}, validation accuracy {e.ValidationAccuracy:P2}, {e.Elapsed.TotalSeconds:F1} s")));
        TrainingReport report = await trainer.TrainAsync(network, train, validation, options, progress, cancellationToken);
        double testAccuracy = trainer.Evaluate(network, data.Test);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test accuracy {testAccuracy:P2} (libtorch)"));

        // 3. Export to ONNX.
        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx, opset: 17);

        // 4. Register the next version of the model, with its metrics and lineage, and move the alias to it.
        var registry = provider.GetRequiredService<IModelRegistry>();
        onnx.Position = 0;
        ModelVersion version = await registry.RegisterAsync(
            new ModelRegistration(settings.ModelName)
            {
                Description = "MLP 784-128-10 trained on Fashion-MNIST",
                Metrics = new Dictionary<string, double>
                {
                    ["test_accuracy"] = testAccuracy,
                    ["validation_accuracy"] = report.Epochs[^1].ValidationAccuracy,
                    ["train_loss"] = report.Epochs[^1].TrainLoss,
                },
                Tags = new Dictionary<string, string> { ["framework"] = "libtorch" },
                Lineage = new ModelLineage
                {
                    TrainingRunId = report.RunId,
                    DatasetDigest = data.Train.Digest,
                    Parameters = new Dictionary<string, string>
                    {
                        ["epochs"] = options.Epochs.ToString(CultureInfo.InvariantCulture),
                        ["training_images"] = train.Count.ToString(CultureInfo.InvariantCulture),
                        ["batch_size"] = options.BatchSize.ToString(CultureInfo.InvariantCulture),
                        ["learning_rate"] = options.LearningRate.ToString(CultureInfo.InvariantCulture),
                        ["seed"] = options.Seed.ToString(CultureInfo.InvariantCulture),
                    },
                },
            },
            onnx,
            cancellationToken);
        await registry.SetAliasAsync(settings.ModelName, settings.Alias, version.Version, cancellationToken);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"registered {version.Name}/{version.Version} ({version.SizeBytes:N0} bytes, {version.Digest})"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"alias {settings.Alias} -> {version.Name}/{version.Version}"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done in {clock.Elapsed.TotalSeconds:F1} s"));
        return 0;
    }

    /// <summary>Reports on the caller's thread, in order (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
