using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Registry.Internal;
using ModelKit.Registry.Tests.Servers;

namespace ModelKit.Registry.Tests.Conformance;

/// <summary>
/// The registry shared by separate OS processes (ModelKit.Registry.TestWorker): concurrent registrations, a failing
/// registration racing a successful one on the same bytes, and processes killed with SIGKILL in the middle of a registration.
/// Derived for SQLite and for PostgreSQL; artifacts are in the file store under <see cref="RegistryConformanceTests.DataDirectory"/>.
/// </summary>
public abstract class ProcessSafetyTests : RegistryConformanceTests
{
    /// <summary>The worker's arguments that choose the same metadata store as <see cref="RegistryConformanceTests.ConfigureStores"/>.</summary>
    protected abstract IReadOnlyList<string> WorkerStoreArguments { get; }

    [Fact]
    public async Task Register_EightProcessesAtOnce_GetConsecutiveVersionsNoneLostOrDuplicated_AndEveryArtifactVerifies()
    {
        const int Processes = 8, PerProcess = 5;
        ModelRegistry registry = CreateRegistry();
        await registry.ListModelsAsync();

        WorkerRun[] runs = Enumerable.Range(0, Processes)
            .Select(p => WorkerRun.Start(WorkerArguments("shared", first: 1 + (p * 100), PerProcess, "none"))).ToArray();
        foreach (WorkerRun run in runs)
        {
            Assert.Equal(0, await run.WaitForExitAsync());
        }

        var reported = runs.SelectMany(r => r.Registered).ToList();
        IReadOnlyList<ModelVersion> versions = await registry.ListVersionsAsync("shared");
        Assert.Equal(Enumerable.Range(1, Processes * PerProcess), versions.Select(v => v.Version));
        Assert.Equal(Enumerable.Range(1, Processes * PerProcess), reported.Select(r => r.Version).Order());
        foreach (ModelVersion version in versions)
        {
            (int _, string digest, int width) = Assert.Single(reported, r => r.Version == version.Version);
            Assert.Equal(digest, version.Digest);
            byte[] bytes = await ReadAsync(registry, version);
            Assert.Equal(version.Digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
            Assert.Equal(width, version.Signature.Inputs[0].Shape[1]);
        }
    }

    [Fact]
    public async Task FailedRegistration_RacingASuccessfulOneOnTheSameBytes_NeverCostsTheCommittedVersionItsArtifact()
    {
        const int Rounds = 40;
        ModelRegistry registry = CreateRegistry();
        await registry.ListModelsAsync();

        WorkerRun failing = WorkerRun.Start(WorkerArguments("race", first: 1000, Rounds, "fail-after-put"));
        WorkerRun succeeding = WorkerRun.Start(WorkerArguments("race", first: 1000, Rounds, "none"));
        Assert.Equal(0, await succeeding.WaitForExitAsync());
        Assert.Equal(0, await failing.WaitForExitAsync());

        Assert.Equal(Rounds, failing.Failed.Count);
        IReadOnlyList<ModelVersion> versions = await registry.ListVersionsAsync("race");
        Assert.Equal(Enumerable.Range(1, Rounds), versions.Select(v => v.Version));
        foreach (ModelVersion version in versions)
        {
            byte[] bytes = await ReadAsync(registry, version);
            Assert.Equal(version.Digest, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }

        // Nothing references a pin any more: every failed registration released its own.
        var later = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2));
        ArtifactCollectionResult gc = await CreateRegistry(later).CollectGarbageAsync();
        Assert.Empty(gc.Deleted);
        Assert.Equal((Rounds, 0), (gc.KeptReferenced, gc.KeptInUpload));
    }

    [Fact]
    public async Task KillDuringUpload_LeavesNoVersion_AndGarbageCollectionRemovesTheStagedFile()
    {
        ModelRegistry registry = CreateRegistry();
        await registry.ListModelsAsync();

        WorkerRun victim = WorkerRun.Start(WorkerArguments("victim", first: 7, 1, "hang-at-upload"));
        await victim.WaitForLineAsync("HANGING upload");
        victim.Kill();

        Assert.Empty(await registry.ListVersionsAsync("victim"));
        Assert.Single(Directory.GetFiles(registry.Artifacts.StagingDirectory));
        var later = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2));
        ModelRegistry collector = CreateRegistry(later);
        await collector.CollectGarbageAsync();
        Assert.Empty(Directory.GetFiles(registry.Artifacts.StagingDirectory));
        ModelVersion next = await registry.RegisterAsync(new ModelRegistration("victim"), new MemoryStream(TestSupport.TestModels.Relu(7)));
        Assert.Equal(1, next.Version);
    }

    [Fact]
    public async Task KillAfterUploadBeforeCommit_LeavesNoVersion_AndGarbageCollectionRemovesTheOrphanedArtifactAfterTheGracePeriod()
    {
        ModelRegistry registry = CreateRegistry();
        await registry.ListModelsAsync();

        WorkerRun victim = WorkerRun.Start(WorkerArguments("victim", first: 8, 1, "hang-after-put"));
        string line = await victim.WaitForLineAsync("HANGING after-put");
        victim.Kill();
        string digest = line.Split(' ')[2];

        Assert.Empty(await registry.ListVersionsAsync("victim"));
        Assert.Empty(await registry.ListModelsAsync());
        Assert.True(await registry.Artifacts.ExistsAsync(digest));
        ArtifactCollectionResult early = await registry.CollectGarbageAsync();
        Assert.Empty(early.Deleted);
        var later = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(2));
        ArtifactCollectionResult late = await CreateRegistry(later).CollectGarbageAsync();
        Assert.Equal([digest], late.Deleted);
        Assert.False(await registry.Artifacts.ExistsAsync(digest));
    }

    private List<string> WorkerArguments(string name, int first, int count, string fault) =>
    [
        .. WorkerStoreArguments,
        "--data", DataDirectory, "--name", name, "--first", first.ToString(CultureInfo.InvariantCulture),
        "--count", count.ToString(CultureInfo.InvariantCulture), "--fault", fault,
    ];

    /// <summary>One ModelKit.Registry.TestWorker process and what it printed.</summary>
    private sealed class WorkerRun
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];
        private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private WorkerRun(Process process) => _process = process;

        public List<(int Version, string Digest, int Width)> Registered
        {
            get
            {
                lock (_lines)
                {
                    return _lines.Where(l => l.StartsWith("REGISTERED ", StringComparison.Ordinal)).Select(l => l.Split(' '))
                        .Select(p => (int.Parse(p[1], CultureInfo.InvariantCulture), p[2], int.Parse(p[3], CultureInfo.InvariantCulture))).ToList();
                }
            }
        }

        public List<string> Failed
        {
            get
            {
                lock (_lines)
                {
                    return _lines.Where(l => l.StartsWith("FAILED ", StringComparison.Ordinal)).ToList();
                }
            }
        }

        public static WorkerRun Start(IEnumerable<string> arguments)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(WorkerPath);
            start.ArgumentList.Add("register");
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            var run = new WorkerRun(new Process { StartInfo = start, EnableRaisingEvents = true });
            run._process.OutputDataReceived += (_, e) => run.Add(e.Data);
            run._process.ErrorDataReceived += (_, e) => run.Add(e.Data is null ? null : "STDERR " + e.Data);
            run._process.Exited += (_, _) => run._exited.TrySetResult();
            run._process.Start();
            run._process.BeginOutputReadLine();
            run._process.BeginErrorReadLine();
            return run;
        }

        public async Task<int> WaitForExitAsync()
        {
            await _exited.Task.WaitAsync(TimeSpan.FromMinutes(3));
            await _process.WaitForExitAsync();
            return _process.ExitCode == 0 ? 0 : throw new InvalidOperationException($"The worker exited with {_process.ExitCode}: {string.Join('\n', Snapshot())}");
        }

        public async Task<string> WaitForLineAsync(string prefix)
        {
            DateTime deadline = DateTime.UtcNow.AddMinutes(3);
            while (DateTime.UtcNow < deadline)
            {
                string? line = Snapshot().FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
                if (line is not null)
                {
                    return line;
                }

                Assert.False(_process.HasExited && _exited.Task.IsCompleted && !Snapshot().Any(l => l.StartsWith(prefix, StringComparison.Ordinal)),
                    $"The worker exited before printing '{prefix}': {string.Join('\n', Snapshot())}");
                await Task.Delay(20);
            }

            throw new TimeoutException($"The worker did not print '{prefix}' within 3 minutes: {string.Join('\n', Snapshot())}");
        }

        /// <summary>SIGKILL: the process gets no chance to clean up.</summary>
        public void Kill()
        {
            _process.Kill();
            _process.WaitForExit();
        }

        private void Add(string? line)
        {
            if (line is not null)
            {
                lock (_lines)
                {
                    _lines.Add(line);
                }
            }
        }

        private string[] Snapshot()
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }

        private static string WorkerPath
        {
            get
            {
                string beside = Path.Combine(AppContext.BaseDirectory, "ModelKit.Registry.TestWorker.dll");
                if (File.Exists(beside))
                {
                    return beside;
                }

                string built = Path.Combine(TestServers.RepositoryRoot, "tests", "ModelKit.Registry.TestWorker", "bin", "Release", "net10.0", "ModelKit.Registry.TestWorker.dll");
                return File.Exists(built) ? built : throw new FileNotFoundException("Build tests/ModelKit.Registry.TestWorker first.", built);
            }
        }
    }
}
