using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelKit;
using ModelKit.Monitoring;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Profiles;
using ModelKit.Monitoring.Retraining;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Training;
using ModelKit.Training.Data;

namespace DriftMonitoring;

internal sealed record DriftSettings(string Shift, int Requests, int ShiftStart, int Window, bool Retrain, string DataDirectory, string DatasetDirectory, string? Alertmanager, int Seed);

/// <summary>Serve → stream shifted traffic → watch drift and accuracy per window → alert → (optionally) retrain and move the alias.</summary>
internal static class DriftMonitoringJob
{
    private const string ModelName = "fashion-mnist";
    private const string Alias = "production";
    private const int ValidationCount = 5_000;
    private const int LabelDelay = 100;
    private const int RetrainWindow = 2_000;
    private const int EvaluationWindow = 1_000;

    public static async Task<int> RunAsync(DriftSettings settings, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Error));
        services.AddModelKit(o => o.DataDirectory = settings.DataDirectory)
            .AddOnnx()
            .AddModelRegistry()
            .AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1)
            .AddTraining()
            .AddMonitoring(o =>
            {
                o.WindowSize = settings.Window;
                // Any feature drifted: every test is at the alpha-spending level, so the whole stream's false-alarm probability stays below 5%.
                o.Rules.Add(new AlertRule { Name = "Drift", Metric = "drift.share", Comparison = AlertComparison.GreaterThan, Threshold = 0, Severity = "warning" });
                // The label-free accuracy estimate (not error-controlled like the drift tests, hence a wide margin).
                o.Rules.Add(new AlertRule { Name = "EstimatedAccuracyDrop", Metric = "performance.estimated_accuracy_drop", Threshold = 0.1, Severity = "critical" });
                if (settings.Alertmanager is not null)
                {
                    o.AlertmanagerUrl = new Uri(settings.Alertmanager);
                }
            });

        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        try
        {
            return await RunStepsAsync(provider, settings, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("Cancelled.");
            return 130;
        }
        catch (Exception ex) when (ex is ModelKitException or InvalidDataException or IOException or ArgumentException or InvalidOperationException)
        {
            Console.WriteLine($"Drift monitoring failed: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }

    private static async Task<int> RunStepsAsync(IServiceProvider provider, DriftSettings settings, CancellationToken cancellationToken)
    {
        FashionMnistSplits data = FashionMnist.Load(settings.DatasetDirectory);
        LabeledDataset train = data.Train.Slice(0, data.Train.Count - ValidationCount);
        LabeledDataset validation = data.Train.Slice(data.Train.Count - ValidationCount, ValidationCount);
        var registry = provider.GetRequiredService<IModelRegistry>();
        var trainer = provider.GetRequiredService<Trainer>();

        // 1. The quick start's model (trained here when the registry has none).
        ModelVersion version = await EnsureModelAsync(registry, trainer, train, validation, cancellationToken);
        Console.WriteLine(version.Metrics.TryGetValue("validation_accuracy", out double validationAccuracy)
            ? $"Serving {version.Name}/{version.Version} ({Alias}); validation accuracy {validationAccuracy:F4}"
            : $"Serving {version.Name}/{version.Version} ({Alias}); parent {version.Lineage.ParentVersion?.ToString(CultureInfo.InvariantCulture) ?? "none"}, no validation accuracy recorded on the version (the profile's is used)");

        // 2. Its reference profile, stored with the version in the registry: the 5,000 validation images with their labels
        //    (the quick start attaches it when it registers the version; computed and attached here when missing).
        var monitor = provider.GetRequiredService<ModelMonitor>();
        var sessions = provider.GetRequiredService<IInferenceSessionFactory>();
        await EnsureProfileAsync(provider, monitor, sessions, version, validation, cancellationToken);

        // 3. Traffic.
        var pool = provider.GetRequiredService<IInferenceSessionPool>();
        var reference = ModelReference.Parse($"{ModelName}@{Alias}");
        var traffic = new Traffic(data.Test, settings.Shift, settings.Seed);
        long firstAlert = -1;
        AlertNotification? firstNotification = null;
        var alertsPrinted = new List<string>();
        monitor.AlertStateChanged += (rule, notification, state, report) =>
        {
            if (state == AlertState.Firing && firstAlert < 0)
            {
                firstAlert = report.ObservedRequests;
                firstNotification = notification;
            }

            if (state is AlertState.Firing or AlertState.Resolved)
            {
                lock (alertsPrinted)
                {
                    alertsPrinted.Add($"{rule.Name} {state.ToString().ToLowerInvariant()}");
                }
            }
        };
        monitor.WindowClosed += report =>
        {
            string alerts;
            lock (alertsPrinted)
            {
                alerts = alertsPrinted.Count == 0 ? "" : "  ALERT " + string.Join(", ", alertsPrinted);
                alertsPrinted.Clear();
            }

            Console.WriteLine(Timeline(report) + alerts);
        };

        Console.WriteLine($"Streaming {settings.Requests:N0} test images, shift '{settings.Shift}' from request {settings.ShiftStart:N0}, windows of {settings.Window}; labels arrive {LabelDelay} requests late");
        Console.WriteLine("window  version  requests  drifted(in/out)  KS(mean)  PSI(class)  est.acc  acc     alerts");
        var pendingLabels = new Queue<(string Id, long Label)>();
        var collected = new List<(float[] Pixels, long Label)>();
        bool retrained = false;
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < settings.Requests; i++)
        {
            (float[] pixels, long label) = traffic.Next(i >= settings.ShiftStart);
            string id = i.ToString(CultureInfo.InvariantCulture);
            await pool.RunAsync(reference, [new NamedTensor("input", Tensor.Create<float>(pixels, 1, 1, 28, 28))], new InferenceRequestOptions { RequestId = id }, cancellationToken);
            pendingLabels.Enqueue((id, label));
            if (pendingLabels.Count > LabelDelay)
            {
                (string oldId, long oldLabel) = pendingLabels.Dequeue();
                await monitor.PostLabelAsync(oldId, oldLabel, cancellationToken);
            }

            if (settings.Retrain && !retrained && firstAlert >= 0)
            {
                // The host captures and labels the traffic after the alert: a training window, then a held-out evaluation window.
                collected.Add((pixels, label));
                if (collected.Count == RetrainWindow + EvaluationWindow)
                {
                    retrained = true;
                    await RetrainAsync(provider, pool, reference, trainer, train, collected, firstNotification, cancellationToken);
                }
            }
        }

        while (pendingLabels.Count > 0)
        {
            (string oldId, long oldLabel) = pendingLabels.Dequeue();
            await monitor.PostLabelAsync(oldId, oldLabel, cancellationToken);
        }

        await monitor.FlushAsync(cancellationToken);
        foreach (MonitoredModelState state in monitor.GetState())
        {
            WindowReport[] windows = [.. state.RecentWindows.Where(w => !double.IsNaN(w.Performance.Accuracy) && !double.IsNaN(w.Performance.EstimatedAccuracy))];
            if (windows.Length > 0)
            {
                double measured = windows.Sum(w => w.Performance.Accuracy * w.Performance.LabelledCount) / windows.Sum(w => w.Performance.LabelledCount);
                double estimated = windows.Average(w => w.Performance.EstimatedAccuracy);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"v{state.ModelVersion}: estimated accuracy {estimated:F3}, measured {measured:F3} over the last {windows.Length} windows (reference {windows[0].Performance.ReferenceAccuracy:F3})"));
            }
        }

        Console.WriteLine($"Streamed {settings.Requests:N0} requests in {clock.Elapsed.TotalSeconds:F1} s; dropped observations: {monitor.DroppedCount}");
        Console.WriteLine(firstAlert >= 0 ? $"first alert after {firstAlert} requests" : $"no alert after {settings.Requests} requests");
        return 0;
    }

    private static string Timeline(WindowReport r)
    {
        if (r.Features.Count == 0)
        {
            return $"{r.WindowIndex,6}  v{r.ModelVersion,-7} {r.ObservedRequests,8}  (baseline or small window)";
        }

        int inDrift = r.Features.Count(f => f.Group == "input" && f.Drifted);
        int inTotal = r.Features.Count(f => f.Group == "input");
        int outDrift = r.Features.Count(f => f.Group == "output" && f.Drifted);
        int outTotal = r.Features.Count(f => f.Group == "output");
        FeatureDrift? mean = r.Features.FirstOrDefault(f => f.Feature == "input.mean");
        FeatureDrift? cls = r.Features.FirstOrDefault(f => f.Feature == "logits.class");
        string acc = double.IsNaN(r.Performance.Accuracy) ? "  -   " : r.Performance.Accuracy.ToString("F3", CultureInfo.InvariantCulture);
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.WindowIndex,6}  v{r.ModelVersion,-7} {r.ObservedRequests,8}  {inDrift}/{inTotal} {outDrift}/{outTotal}          {mean?.KsStatistic ?? double.NaN,6:F3}   {cls?.Psi ?? double.NaN,7:F3}     {r.Performance.EstimatedAccuracy:F3}    {acc}");
    }

    private static async Task<ModelVersion> EnsureModelAsync(IModelRegistry registry, Trainer trainer, LabeledDataset train, LabeledDataset validation, CancellationToken cancellationToken)
    {
        try
        {
            return await registry.ResolveAsync(ModelReference.Parse($"{ModelName}@{Alias}"), cancellationToken);
        }
        catch (ModelNotFoundException)
        {
            Console.WriteLine($"No {ModelName}@{Alias} in the registry: training the quick start's MLP (3 epochs)");
        }

        RetrainedModel model = await TrainAsync(trainer, train, validation, epochs: 3, cancellationToken);
        using var content = new MemoryStream(model.Onnx.ToArray());
        ModelVersion version = await registry.RegisterAsync(
            new ModelRegistration(ModelName)
            {
                Description = "MLP 784-256-10 trained on Fashion-MNIST by the drift monitoring sample",
                Metrics = model.Metrics,
                Lineage = new ModelLineage { TrainingRunId = model.TrainingRunId, DatasetDigest = model.DatasetDigest, Parameters = model.Parameters },
            },
            content,
            cancellationToken);
        await registry.SetAliasAsync(ModelName, Alias, version.Version, cancellationToken);
        return version;
    }

    private static async Task<RetrainedModel> TrainAsync(Trainer trainer, LabeledDataset train, LabeledDataset validation, int epochs, CancellationToken cancellationToken)
    {
        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, FashionMnist.ImageSize, FashionMnist.ImageSize]);
        var options = new TrainingRunOptions { Epochs = epochs, BatchSize = 128, LearningRate = 1e-3, Optimizer = OptimizerKind.Adam, Seed = 42 };
        using SequentialNetwork network = trainer.CreateNetwork(layers, input, options.Seed);
        TrainingReport report = await trainer.TrainAsync(network, train, validation, options, null, cancellationToken);
        using var onnx = new MemoryStream();
        network.ExportOnnx(onnx, opset: 17);
        return new RetrainedModel
        {
            Onnx = onnx.ToArray(),
            TrainingRunId = report.RunId,
            DatasetDigest = train.Digest,
            Metrics = new Dictionary<string, double> { ["validation_accuracy"] = report.FinalValidationAccuracy, ["train_loss"] = report.FinalTrainLoss },
            Parameters = new Dictionary<string, string>
            {
                ["layers"] = "flatten,linear(784,256),relu,dropout(0.1),linear(256,10)",
                ["epochs"] = epochs.ToString(CultureInfo.InvariantCulture),
                ["optimizer"] = "Adam",
                ["learning_rate"] = "0.001",
                ["train_count"] = train.Count.ToString(CultureInfo.InvariantCulture),
            },
        };
    }

    private static async Task EnsureProfileAsync(IServiceProvider provider, ModelMonitor monitor, IInferenceSessionFactory sessions, ModelVersion version, LabeledDataset validation, CancellationToken cancellationToken)
    {
        var store = provider.GetRequiredService<IReferenceProfileStore>();
        if (await store.GetAsync(version, cancellationToken) is not null)
        {
            Console.WriteLine($"Reference profile of {version.Name}/{version.Version} loaded from the registry (attachment {RegistryReferenceProfileStore.AttachmentName}, registered with the version by the quick start)");
            return;
        }

        var builder = new ReferenceProfileBuilder(version);
        using IInferenceSession session = await sessions.CreateAsync(version.Reference, cancellationToken);
        const int batch = 500;
        for (int start = 0; start < validation.Count; start += batch)
        {
            int n = Math.Min(batch, validation.Count - start);
            var inputs = new[] { new NamedTensor("input", Tensor.Create(validation.Features.Slice(start * validation.SampleSize, n * validation.SampleSize), n, 1, 28, 28)) };
            IReadOnlyList<NamedTensor> outputs = session.Run(inputs);
            double[] labels = [.. validation.Labels.Span.Slice(start, n).ToArray().Select(l => (double)l)];
            builder.Add(inputs, outputs, labels);
        }

        ReferenceProfile profile = builder.Build("dataset", DateTimeOffset.UtcNow);
        await monitor.SetReferenceProfileAsync(version, profile, cancellationToken);
        Console.WriteLine($"Reference profile of {version.Name}/{version.Version}: {profile.RowCount:N0} validation images, {profile.Features.Count} features, accuracy {profile.Accuracy:F4}; attached to the version in the registry ({RegistryReferenceProfileStore.AttachmentName})");
    }

    private static async Task RetrainAsync(IServiceProvider provider, IInferenceSessionPool pool, ModelReference reference, Trainer trainer, LabeledDataset train, List<(float[] Pixels, long Label)> collected, AlertNotification? trigger, CancellationToken cancellationToken)
    {
        Console.WriteLine($"Retraining: {RetrainWindow:N0} labelled requests after the alert (oversampled 5x) plus the original {train.Count:N0} training images; scoring on the next {EvaluationWindow:N0} labelled requests");
        List<(float[] Pixels, long Label)> window = collected[..RetrainWindow];
        List<(float[] Pixels, long Label)> holdout = collected[RetrainWindow..];
        const int oversample = 5;
        int total = train.Count + (window.Count * oversample);
        var features = new float[total * 784];
        var labels = new long[total];
        train.Features.Span.CopyTo(features);
        train.Labels.Span.CopyTo(labels);
        int row = train.Count;
        for (int k = 0; k < oversample; k++)
        {
            foreach ((float[] pixels, long label) in window)
            {
                pixels.CopyTo(features, row * 784);
                labels[row++] = label;
            }
        }

        var combined = new LabeledDataset("fashion-mnist-train+window", features, labels, [1, 28, 28], 10, $"{train.Digest}+window{window.Count}");
        LabeledDataset validationWindow = new("window-validation", [.. holdout.SelectMany(h => h.Pixels)], [.. holdout.Select(h => h.Label)], [1, 28, 28], 10, "holdout");
        var evaluation = new LabelledWindow(
            [new NamedTensor("input", Tensor.Create<float>(holdout.SelectMany(h => h.Pixels).ToArray(), holdout.Count, 1, 28, 28))],
            [.. holdout.Select(h => h.Label)]);
        var action = new RetrainAction(provider.GetRequiredService<IModelRegistry>(), provider.GetRequiredService<IInferenceSessionFactory>());
        var clock = Stopwatch.StartNew();
        RetrainOutcome outcome = await action.RunAsync(ModelName, Alias, (context, ct) => TrainAsync(trainer, combined, validationWindow, epochs: 3, ct), evaluation, trigger, cancellationToken);
        Console.WriteLine($"Retrained in {clock.Elapsed.TotalSeconds:F1} s: {outcome.Reason}");
        if (outcome.AliasMoved)
        {
            ModelVersion now = await pool.ReloadAsync(reference, cancellationToken);
            Console.WriteLine($"{now.Name}/{now.Version} (parent {now.Lineage.ParentVersion}, trigger {now.Tags.GetValueOrDefault("retrain.trigger.alert")}) now serves '{reference}'; its first 1,000 requests become its baseline");
        }
    }

    /// <summary>The test images as traffic, in a seeded order, with the shift applied.</summary>
    private sealed class Traffic
    {
        private readonly LabeledDataset _test;
        private readonly string _shift;
        private readonly Random _random;
        private readonly int[] _order;
        private readonly List<int>[] _byClass = [.. Enumerable.Range(0, 10).Select(_ => new List<int>())];
        private int _next;

        public Traffic(LabeledDataset test, string shift, int seed)
        {
            _test = test;
            _shift = shift;
            _random = new Random(seed);
            _order = [.. Enumerable.Range(0, test.Count)];
            _random.Shuffle(_order);
            ReadOnlySpan<long> labels = test.Labels.Span;
            for (int i = 0; i < test.Count; i++)
            {
                _byClass[labels[i]].Add(i);
            }
        }

        public (float[] Pixels, long Label) Next(bool shifted)
        {
            int index = _order[_next++ % _order.Length];
            if (shifted && _shift == "prior")
            {
                // Classes 0, 1 and 2 make 60% of the traffic (20% each); the other seven share 40%.
                int cls = _random.NextDouble() < 0.6 ? _random.Next(3) : 3 + _random.Next(7);
                index = _byClass[cls][_random.Next(_byClass[cls].Count)];
            }

            var pixels = _test.Features.Slice(index * 784, 784).ToArray();
            if (shifted && _shift == "brightness")
            {
                for (int p = 0; p < pixels.Length; p++)
                {
                    pixels[p] = Math.Min(1f, pixels[p] + 0.1f);
                }
            }
            else if (shifted && _shift == "noise")
            {
                for (int p = 0; p < pixels.Length; p++)
                {
                    double u1 = 1.0 - _random.NextDouble();
                    double u2 = _random.NextDouble();
                    double gaussian = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                    pixels[p] = (float)Math.Clamp(pixels[p] + (0.1 * gaussian), 0, 1);
                }
            }

            return (pixels, _test.Labels.Span[index]);
        }
    }
}
