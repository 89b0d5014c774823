using System.Net;
using System.Net.Sockets;
using ModelKit.Training.Data;

namespace ModelKit.Training.Tests.Distributed;

/// <summary>Runs the ranks of a data-parallel job as tasks of this process on 127.0.0.1 (each rank its own Gloo group).</summary>
internal static class TestRanks
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static DistributedSettings Settings(int port, int rank, int world, double timeoutSeconds = 30) =>
        new("127.0.0.1", port, rank, world) { CollectiveTimeout = TimeSpan.FromSeconds(timeoutSeconds), BucketCapBytes = 4096 };

    /// <summary>Trains <paramref name="job"/> on <paramref name="world"/> ranks at once and returns every rank's result and epoch reports.</summary>
    public static async Task<(TrainingResult Result, List<EpochReport> Epochs)[]> RunAsync(TrainingJob job, int world, double timeoutSeconds = 30)
    {
        int port = FreePort();
        var tasks = new Task<(TrainingResult, List<EpochReport>)>[world];
        for (int rank = 0; rank < world; rank++)
        {
            TrainingJob rankJob = job with { Distributed = Settings(port, rank, world, timeoutSeconds) };
            tasks[rank] = Task.Run(async () =>
            {
                var epochs = new List<EpochReport>();
                TrainingResult result = await TestTorch.Trainer.TrainAsync(rankJob, new SynchronousProgress(epochs.Add));
                return (result, epochs);
            });
        }

        return await Task.WhenAll(tasks);
    }

    public static async Task<(TrainingResult Result, List<EpochReport> Epochs)> RunSingleAsync(TrainingJob job)
    {
        var epochs = new List<EpochReport>();
        TrainingResult result = await TestTorch.Trainer.TrainAsync(job, new SynchronousProgress(epochs.Add));
        return (result, epochs);
    }

    public static TrainingJob BlobsJob(int samples, int batch, int epochs, LayerSpec[]? layers = null) =>
        new(new ModelSpec(layers ?? TestTorch.SmallMlp(), TestTorch.Input4), TestTorch.Blobs(samples, seed: 5), new TrainingRunOptions
        {
            Epochs = epochs,
            BatchSize = batch,
            LearningRate = 0.05,
            Optimizer = OptimizerKind.Sgd,
            Momentum = 0.9,
            Seed = 17,
        });

    private sealed class SynchronousProgress(Action<EpochReport> report) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => report(value);
    }
}
