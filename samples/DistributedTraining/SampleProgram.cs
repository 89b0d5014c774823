using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using ModelKit;
using ModelKit.Registry;
using ModelKit.Training;
using ModelKit.Training.Data;

namespace DistributedTraining;

/// <summary>The sample's command line: launcher mode (spawns the ranks) or rank mode (trains).</summary>
internal static class SampleProgram
{
    private const string Usage =
        "DistributedTraining [--nproc-per-node N] [--cpu-bind auto|none] [--epochs N] [--timeout SECONDS] [--checkpoint-dir DIR] [--resume]\n" +
        "                    [--batch-size N] [--learning-rate X] [--train-samples N] [--threads N] [--dataset-dir DIR]\n" +
        "                    [--data-dir DIR] [--output FILE] [--no-register] [--exit-after-epoch N]";

    public static async Task<int> MainAsync(string[] args)
    {
        SampleOptions options;
        try
        {
            options = SampleOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"{ex.Message}\nusage: {Usage}");
            return 2;
        }

        if (options.Help)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        DistributedSettings? settings;
        try
        {
            settings = DistributedSettings.FromEnvironment();
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"Invalid distributed environment: {ex.Message}");
            return 2;
        }

        if (settings is null && options.ProcessesPerNode > 1)
        {
            return await Launcher.RunAsync(options, args);
        }

        return await TrainAsync(options, settings);
    }

    private static async Task<int> TrainAsync(SampleOptions options, DistributedSettings? settings)
    {
        int rank = settings?.Rank ?? 0;
        int world = settings?.WorldSize ?? 1;
        // The local launcher prefixes every line itself; torchrun (--tee) and plain runs get the prefix from here.
        string prefix = settings is null || Environment.GetEnvironmentVariable("MODELKIT_LAUNCHER") == "1" ? string.Empty : $"[rank {rank}] ";
        if (settings is not null)
        {
            settings = settings with { CollectiveTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds) };
        }

        int threads = options.Threads > 0 ? options.Threads : Math.Max(1, Environment.ProcessorCount / Math.Max(1, settings?.LocalWorldSize ?? 1));
        var services = new ServiceCollection();
        services.AddLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        services.AddModelKit(o => o.DataDirectory = options.DataDirectory)
            .AddModelRegistry()
            .AddTraining(o => o.ThreadCount = threads);
        await using ServiceProvider provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true });
        var trainer = provider.GetRequiredService<ITrainer>();

        var total = Stopwatch.StartNew();
        FashionMnistSplits data = FashionMnist.Load(options.DatasetDirectory);
        const int validationCount = 5_000;
        LabeledDataset train = data.Train.Slice(0, data.Train.Count - validationCount);
        LabeledDataset validation = data.Train.Slice(data.Train.Count - validationCount, validationCount);
        if (options.TrainSamples > 0)
        {
            train = train.Slice(0, Math.Min(options.TrainSamples, train.Count));
            validation = validation.Slice(0, Math.Min(Math.Max(options.TrainSamples / 5, 100), validation.Count));
        }

        var input = new TensorSpec("input", ModelKit.TensorElementType.Float, [-1, 1, FashionMnist.ImageSize, FashionMnist.ImageSize]);
        var job = new TrainingJob(new ModelSpec(Cnn(), input), train, new TrainingRunOptions
        {
            Epochs = options.Epochs,
            BatchSize = options.BatchSize,
            LearningRate = options.LearningRate,
            Optimizer = OptimizerKind.Adam,
            Seed = 42,
        })
        {
            Validation = validation,
            Distributed = settings,
            Checkpoints = options.CheckpointDirectory is null ? null : new CheckpointOptions(options.CheckpointDirectory) { Resume = options.Resume, EveryEpochs = 1, KeepLast = 2 },
        };
        string rendezvous = settings is null ? "one process" : settings.UseAgentStore ? $"torchrun agent store at {settings.MasterAddress}:{settings.MasterPort} under {settings.StorePrefix}" : $"TCPStore at {settings.MasterAddress}:{settings.MasterPort} hosted by rank 0";
        Console.WriteLine(Invariant($"{prefix}training a CNN on {train.Count:N0} images ({world} rank{(world == 1 ? string.Empty : "s")}, {threads} thread{(threads == 1 ? string.Empty : "s")} each; {rendezvous}), global batch {options.BatchSize}, {options.Epochs} epochs; CPUs {CpuAffinity.AllowedList() ?? "?"}"));

        using var stop = new CancellationTokenSource();
        var progress = new ConsoleProgress(prefix, options.ExitAfterEpoch, stop);
        TrainingResult result;
        try
        {
            result = await trainer.TrainAsync(job, progress, stop.Token);
        }
        catch (OperationCanceledException) when (options.ExitAfterEpoch > 0)
        {
            Console.WriteLine($"{prefix}stopped after epoch {options.ExitAfterEpoch} as asked (--exit-after-epoch)");
            return 3;
        }
        catch (ModelKitException ex)
        {
            await Console.Error.WriteLineAsync($"{prefix}training failed: {ex.Message}");
            return 1;
        }

        if (rank != 0)
        {
            Console.WriteLine(Invariant($"{prefix}done in {total.Elapsed.TotalSeconds:F1} s"));
            return 0;
        }

        if (options.Output is not null)
        {
            await File.WriteAllBytesAsync(options.Output, result.OnnxModel);
        }

        double accuracy = EvaluateWithOnnxRuntime(result.OnnxModel, data.Test);
        if (options.Register)
        {
            var registry = provider.GetRequiredService<IModelRegistry>();
            var parameters = new Dictionary<string, string>(result.Parameters, StringComparer.Ordinal) { ["layers"] = "conv(1,32,3),relu,maxpool(2),conv(32,64,3),relu,maxpool(2),flatten,dropout(0.25),linear(1600,128),relu,linear(128,10)" };
            using var content = new MemoryStream(result.OnnxModel);
            ModelVersion version = await registry.RegisterAsync(
                new ModelRegistration("fashion-mnist-cnn")
                {
                    Description = "CNN trained data-parallel on Fashion-MNIST by samples/DistributedTraining",
                    Metrics = new Dictionary<string, double>(result.Metrics) { ["test_accuracy"] = accuracy },
                    Tags = new Dictionary<string, string> { ["framework"] = "libtorch", ["sample"] = "distributed-training" },
                    Lineage = new ModelLineage { TrainingRunId = result.RunId, DatasetDigest = result.DatasetDigest, Parameters = parameters },
                },
                content);
            Console.WriteLine(Invariant($"{prefix}registered {version.Name}/{version.Version} (run {result.RunId}, world size {result.WorldSize})"));
        }

        Console.WriteLine(Invariant($"{prefix}training time {result.Elapsed.TotalSeconds:F1} s, total {total.Elapsed.TotalSeconds:F1} s"));
        Console.WriteLine(Invariant($"test accuracy {accuracy:F4}"));
        return 0;
    }

    /// <summary>Conv 32 and 64 (3×3) with max-pooling, then 1600 → 128 → 10 with dropout 0.25 (the anchors' PyTorch CNN).</summary>
    internal static LayerSpec[] Cnn() =>
    [
        new Conv2dLayer(1, 32, 3), new ReluLayer(), new MaxPool2dLayer(2),
        new Conv2dLayer(32, 64, 3), new ReluLayer(), new MaxPool2dLayer(2),
        new FlattenLayer(), new DropoutLayer(0.25), new LinearLayer(1600, 128), new ReluLayer(), new LinearLayer(128, 10),
    ];

    private static double EvaluateWithOnnxRuntime(byte[] model, LabeledDataset test)
    {
        using var sessionOptions = new SessionOptions { IntraOpNumThreads = Math.Max(1, Environment.ProcessorCount) };
        using var session = new InferenceSession(model, sessionOptions);
        const int batch = 500;
        long correct = 0;
        float[] features = test.Features.ToArray();
        long[] labels = test.Labels.ToArray();
        for (int start = 0; start < test.Count; start += batch)
        {
            int n = Math.Min(batch, test.Count - start);
            var tensor = new DenseTensor<float>(features.AsMemory(start * test.SampleSize, n * test.SampleSize), [n, 1, 28, 28]);
            using IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs = session.Run([NamedOnnxValue.CreateFromTensor("input", tensor)]);
            var logits = (DenseTensor<float>)outputs[0].Value;
            ReadOnlySpan<float> values = logits.Buffer.Span;
            for (int i = 0; i < n; i++)
            {
                ReadOnlySpan<float> row = values.Slice(i * 10, 10);
                int best = 0;
                for (int c = 1; c < 10; c++)
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

        return (double)correct / test.Count;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private sealed class ConsoleProgress(string prefix, int exitAfterEpoch, CancellationTokenSource stop) : IProgress<EpochReport>
    {
        public void Report(EpochReport value)
        {
            Console.WriteLine(Invariant(
                $"{prefix}epoch {value.Epoch}/{value.Epochs}: loss {value.TrainLoss:F4}, validation accuracy {value.ValidationAccuracy:F4}, {value.Elapsed.TotalSeconds:F2} s (all-reduce wait {value.AllReduceWait.TotalSeconds:F2} s)"));
            if (exitAfterEpoch > 0 && value.Epoch >= exitAfterEpoch)
            {
                stop.Cancel();
            }
        }
    }
}

/// <summary>The sample's options.</summary>
internal sealed record SampleOptions
{
    public int ProcessesPerNode { get; init; } = 1;

    public string CpuBind { get; init; } = "auto";

    public int Epochs { get; init; } = 12;

    public double TimeoutSeconds { get; init; } = 300;

    public string? CheckpointDirectory { get; init; }

    public bool Resume { get; init; }

    public int BatchSize { get; init; } = 128;

    public double LearningRate { get; init; } = 1e-3;

    public int TrainSamples { get; init; }

    public int Threads { get; init; }

    public string DatasetDirectory { get; init; } = FashionMnist.DefaultDirectory;

    public string DataDirectory { get; init; } = "./modelkit-data";

    public string? Output { get; init; }

    public bool Register { get; init; } = true;

    public int ExitAfterEpoch { get; init; }

    public bool Help { get; init; }

    public static SampleOptions Parse(string[] args)
    {
        var options = new SampleOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{name} needs a value.");
            int Int(int min) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v >= min ? v : throw new ArgumentException($"{name} needs an integer >= {min}, got '{args[i]}'.");
            double Real() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && double.IsFinite(v) ? v : throw new ArgumentException($"{name} needs a number > 0, got '{args[i]}'.");
            options = name switch
            {
                "--nproc-per-node" or "--nproc_per_node" => options with { ProcessesPerNode = Int(1) },
                "--cpu-bind" => options with { CpuBind = Value() is "auto" or "none" ? args[i] : throw new ArgumentException($"--cpu-bind takes 'auto' or 'none', got '{args[i]}'.") },
                "--epochs" => options with { Epochs = Int(1) },
                "--timeout" => options with { TimeoutSeconds = Real() },
                "--checkpoint-dir" => options with { CheckpointDirectory = Value() },
                "--resume" => options with { Resume = true },
                "--batch-size" => options with { BatchSize = Int(1) },
                "--learning-rate" => options with { LearningRate = Real() },
                "--train-samples" => options with { TrainSamples = Int(1) },
                "--threads" => options with { Threads = Int(1) },
                "--dataset-dir" => options with { DatasetDirectory = Value() },
                "--data-dir" => options with { DataDirectory = Value() },
                "--output" => options with { Output = Value() },
                "--no-register" => options with { Register = false },
                "--exit-after-epoch" => options with { ExitAfterEpoch = Int(1) },
                "-h" or "--help" => options with { Help = true },
                _ => throw new ArgumentException($"Unknown option '{name}'."),
            };
        }

        return options;
    }
}

/// <summary>
/// The local launcher (the analogue of <c>torchrun --standalone</c>): starts one process per rank on 127.0.0.1 with a free
/// port and PyTorch's environment variables, prefixes their output with the rank, and stops the others when one fails.
/// </summary>
internal static class Launcher
{
    public static async Task<int> RunAsync(SampleOptions options, string[] args)
    {
        int world = options.ProcessesPerNode;
        int port = FreePort();
        string[] childArgs = StripLauncherArgs(args);
        int threads = options.Threads > 0 ? options.Threads : Math.Max(1, Environment.ProcessorCount / world);
        int[][]? binding = CpuBinding(options.CpuBind, world, threads, out string bindingText);
        Console.WriteLine($"[launcher] starting {world} ranks on 127.0.0.1:{port} ({threads} thread(s) each; {bindingText})");
        var starts = new ProcessStartInfo[world];
        for (int rank = 0; rank < world; rank++)
        {
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            {
                start.ArgumentList.Add(typeof(Launcher).Assembly.Location);
            }

            foreach (string a in childArgs)
            {
                start.ArgumentList.Add(a);
            }

            start.ArgumentList.Add("--threads");
            start.ArgumentList.Add(threads.ToString(CultureInfo.InvariantCulture));
            start.Environment["MASTER_ADDR"] = "127.0.0.1";
            start.Environment["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
            start.Environment["RANK"] = rank.ToString(CultureInfo.InvariantCulture);
            start.Environment["LOCAL_RANK"] = rank.ToString(CultureInfo.InvariantCulture);
            start.Environment["WORLD_SIZE"] = world.ToString(CultureInfo.InvariantCulture);
            start.Environment["LOCAL_WORLD_SIZE"] = world.ToString(CultureInfo.InvariantCulture);
            // Set before the child starts (never with setenv in a running process): idle OpenMP threads sleep instead of spinning.
            start.Environment.TryAdd("OMP_WAIT_POLICY", "PASSIVE");
            start.Environment["MODELKIT_LAUNCHER"] = "1";
            starts[rank] = start;
        }

        Process[] processes = StartAll(starts, binding);
        var exits = new Task<int>[world];
        for (int rank = 0; rank < world; rank++)
        {
            string prefix = $"[rank {rank}] ";
            Task stdout = Pump(processes[rank].StandardOutput, Console.Out, prefix, rank);
            Task stderr = Pump(processes[rank].StandardError, Console.Error, prefix, rank);
            exits[rank] = WaitAsync(processes[rank], stdout, stderr);
        }

        int exitCode = 0;
        var remaining = new List<Task<int>>(exits);
        while (remaining.Count > 0)
        {
            Task<int> done = await Task.WhenAny(remaining);
            remaining.Remove(done);
            int rank = Array.IndexOf(exits, done);
            int code = await done;
            if (code != 0 && exitCode == 0)
            {
                exitCode = code;
                Console.Error.WriteLine($"[launcher] rank {rank} exited with code {code}; stopping the other ranks");
                foreach (Process p in processes)
                {
                    try
                    {
                        if (!p.HasExited)
                        {
                            p.Kill(entireProcessTree: true);
                        }
                    }
                    catch (InvalidOperationException)
                    {
                        // Exited meanwhile.
                    }
                }
            }
        }

        foreach (Process p in processes)
        {
            p.Dispose();
        }

        Console.WriteLine($"[launcher] all ranks finished (exit code {exitCode})");
        return exitCode;
    }

    /// <summary>
    /// The CPUs of each rank: with "auto", when ranks × threads fit the CPUs this process may use, rank r gets the r-th run of
    /// <paramref name="threads"/> of them (the layout Intel recommends for CPU data-parallel training: a rank and its OpenMP team
    /// never share or change cores, so neither waits for the other at each all-reduce because the scheduler moved it).
    /// </summary>
    private static int[][]? CpuBinding(string mode, int world, int threads, out string text)
    {
        int[]? allowed = mode == "auto" ? CpuAffinity.CurrentThread() : null;
        if (mode != "auto")
        {
            text = "no CPU binding: --cpu-bind none";
            return null;
        }

        if (allowed is null)
        {
            text = "no CPU binding: the CPU affinity is not available on this OS";
            return null;
        }

        if ((long)world * threads > allowed.Length)
        {
            text = $"no CPU binding: {world} ranks × {threads} threads exceed the {allowed.Length} CPUs this process may use";
            return null;
        }

        int[][] binding = [.. Enumerable.Range(0, world).Select(r => allowed[(r * threads)..((r + 1) * threads)])];
        text = string.Join(", ", binding.Select((cpus, r) => $"rank {r} on CPU {string.Join(",", cpus)}"));
        return binding;
    }

    /// <summary>
    /// Starts the ranks from one dedicated thread whose affinity is set to each rank's CPUs before its start: a process
    /// inherits the mask of the thread that forks it, so every thread the rank ever creates is bound. Without a binding, or
    /// when the kernel refuses one, the ranks start unbound (the refusal is printed).
    /// </summary>
    private static Process[] StartAll(ProcessStartInfo[] starts, int[][]? binding)
    {
        var processes = new Process[starts.Length];
        Exception? error = null;
        var starter = new Thread(() =>
        {
            int[]? original = CpuAffinity.CurrentThread();
            try
            {
                for (int rank = 0; rank < starts.Length; rank++)
                {
                    if (binding is not null)
                    {
                        try
                        {
                            CpuAffinity.SetCurrentThread(binding[rank]);
                        }
                        catch (System.ComponentModel.Win32Exception ex)
                        {
                            Console.Error.WriteLine($"[launcher] {ex.Message}; starting the remaining ranks unbound");
                            binding = null;
                            if (original is not null)
                            {
                                CpuAffinity.SetCurrentThread(original);
                            }
                        }
                    }

                    processes[rank] = Process.Start(starts[rank])!;
                }
            }
            catch (Exception ex)
            {
                error = ex;
            }
        })
        { Name = "rank starter" };
        starter.Start();
        starter.Join();
        if (error is not null)
        {
            foreach (Process? p in processes)
            {
                p?.Kill(entireProcessTree: true);
            }

            throw new InvalidOperationException($"The launcher could not start the ranks: {error.Message}", error);
        }

        return processes;
    }

    private static async Task<int> WaitAsync(Process process, Task stdout, Task stderr)
    {
        await process.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        return process.ExitCode;
    }

    private static async Task Pump(StreamReader reader, TextWriter writer, string prefix, int rank)
    {
        string? line;
        while ((line = await reader.ReadLineAsync()) is not null)
        {
            // Rank 0's final result line stays unprefixed so that scripts can read it the same way in every mode.
            string text = rank == 0 && line.StartsWith("test accuracy ", StringComparison.Ordinal) ? line : prefix + line;
            lock (writer)
            {
                writer.WriteLine(text);
            }
        }
    }

    private static string[] StripLauncherArgs(string[] args)
    {
        var result = new List<string>(args.Length);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--nproc-per-node" or "--nproc_per_node" or "--threads" or "--cpu-bind")
            {
                i++;
                continue;
            }

            result.Add(args[i]);
        }

        return [.. result];
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
