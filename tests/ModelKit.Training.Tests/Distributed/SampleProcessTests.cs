using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace ModelKit.Training.Tests.Distributed;

/// <summary>
/// The DistributedTraining sample as separate processes on 127.0.0.1: a killed rank makes the other fail loudly within the
/// collective timeout, and the same binary runs under torchrun (Debian's python3-torch, installed by eng/setup.sh).
/// </summary>
public sealed class SampleProcessTests : IDisposable
{
    private readonly string _work = Path.Combine(Path.GetTempPath(), "mk-sample-" + Guid.NewGuid().ToString("N"));

    public SampleProcessTests() => Directory.CreateDirectory(_work);

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task KillingOneRank_MakesTheOtherExitNonZeroWithinTimeoutPlus10s_NamingOperationRankAndTimeout()
    {
        int port = TestRanks.FreePort();
        const int TimeoutSeconds = 10;
        using RankProcess rank0 = RankProcess.Start(SampleDll(), port, 0, 2, _work, TimeoutSeconds);
        using RankProcess rank1 = RankProcess.Start(SampleDll(), port, 1, 2, _work, TimeoutSeconds);

        Assert.True(await rank1.WaitForOutputAsync("epoch 1/", TimeSpan.FromSeconds(240)), "rank 1 never finished an epoch: " + rank1.Output);
        rank1.Kill();
        var clock = Stopwatch.StartNew();
        bool exited = await rank0.WaitForExitAsync(TimeSpan.FromSeconds(TimeoutSeconds + 10));

        Assert.True(exited, $"rank 0 still runs {clock.Elapsed.TotalSeconds:F1} s after rank 1 was killed: {rank0.Output}");
        Assert.NotEqual(0, rank0.ExitCode);
        Assert.Contains("failed on rank 0 of 2 (collective timeout 10.0 s)", rank0.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, "TCPStore at localhost:")] // --standalone: c10d rendezvous; the workers' env:// store is hosted by rank 0
    [InlineData(false, "torchrun agent store at 127.0.0.1:")] // static rendezvous: TORCHELASTIC_USE_AGENT_STORE=True
    public async Task SameBinary_RunsUnderTorchrun(bool standalone, string expectedStore)
    {
        const string Python = "/usr/bin/python3";
        Assert.True(File.Exists(Python) && Directory.Exists("/usr/lib/python3/dist-packages/torch"), "python3-torch is missing; run 'bash eng/setup.sh' (it installs Debian's python3-torch for torchrun)");
        string apphost = Path.ChangeExtension(SampleDll(), null);
        var start = new ProcessStartInfo(Python) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _work };
        string[] rendezvous = standalone ? ["--standalone"] : ["--nnodes", "1", "--master_addr", "127.0.0.1", "--master_port", TestRanks.FreePort().ToString(CultureInfo.InvariantCulture)];
        string[] arguments = ["-m", "torch.distributed.run", .. rendezvous, "--no_python", "--nproc_per_node", "2", "--redirects", "2", "--tee", "2", "--log_dir", Path.Combine(_work, "logs"), apphost];
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        foreach (string a in SampleArgs(_work, 60, epochs: 1))
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
        using RankProcess torchrun = RankProcess.Start(start);
        bool exited = await torchrun.WaitForExitAsync(TimeSpan.FromSeconds(400));

        Assert.True(exited, "torchrun did not finish: " + torchrun.Output);
        Assert.True(torchrun.ExitCode == 0, torchrun.Output);
        Assert.Contains("[rank 1] training a CNN on 512 images (2 ranks, 1 thread each; " + expectedStore, torchrun.Output, StringComparison.Ordinal);
        Assert.Contains("[rank 0] epoch 1/1", torchrun.Output, StringComparison.Ordinal);
        Assert.Matches(@"test accuracy 0\.\d{4}", torchrun.Output);
    }

    [Theory]
    [InlineData("auto")]
    [InlineData("none")]
    public async Task LocalLauncher_TrainsWithTwoRanks_BindingEachToItsOwnCpuWhenTheyFit(string cpuBind)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = _work };
        foreach (string a in (string[])[SampleDll(), "--nproc-per-node", "2", "--cpu-bind", cpuBind, .. SampleArgs(_work, 60, epochs: 1)])
        {
            start.ArgumentList.Add(a);
        }

        using RankProcess launcher = RankProcess.Start(start);
        bool exited = await launcher.WaitForExitAsync(TimeSpan.FromSeconds(240));

        Assert.True(exited, "the launcher did not finish: " + launcher.Output);
        Assert.True(launcher.ExitCode == 0, launcher.Output);
        Assert.Contains("[rank 0] epoch 1/1", launcher.Output, StringComparison.Ordinal);
        Assert.Contains("[rank 1] epoch 1/1", launcher.Output, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^test accuracy 0\.\d{4}", launcher.Output);
        Assert.Contains("[launcher] all ranks finished (exit code 0)", launcher.Output, StringComparison.Ordinal);

        // What each rank's kernel-side mask is (read by the rank from /proc/self/status), against what the launcher announced.
        string Cpus(int rank) => Regex.Match(launcher.Output, $@"\[rank {rank}\] training a CNN .*; CPUs (\S+)").Groups[1].Value;
        string mine = File.ReadLines("/proc/self/status").First(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))["Cpus_allowed_list:".Length..].Trim();
        Match announced = Regex.Match(launcher.Output, @"rank 0 on CPU (\d+), rank 1 on CPU (\d+)\)");
        if (cpuBind == "auto" && Environment.ProcessorCount >= 2)
        {
            Assert.True(announced.Success, launcher.Output);
            Assert.Equal(announced.Groups[1].Value, Cpus(0));
            Assert.Equal(announced.Groups[2].Value, Cpus(1));
            Assert.NotEqual(Cpus(0), Cpus(1));
        }
        else
        {
            Assert.False(announced.Success, launcher.Output);
            Assert.Contains("no CPU binding", launcher.Output, StringComparison.Ordinal);
            Assert.Equal(mine, Cpus(0));
            Assert.Equal(mine, Cpus(1));
        }
    }

    internal static string[] SampleArgs(string work, int timeoutSeconds, int epochs = 40) =>
        ["--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--train-samples", "512", "--batch-size", "64", "--no-register", "--threads", "1", "--data-dir", Path.Combine(work, "data"), "--timeout", timeoutSeconds.ToString(CultureInfo.InvariantCulture)];

    private static string SampleDll()
    {
        // tests/ModelKit.Training.Tests/bin/<Configuration>/net10.0/ → samples/DistributedTraining/bin/<Configuration>/net10.0/
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string framework = here.Name;
        string configuration = here.Parent!.Name;
        DirectoryInfo? root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "ModelKit.sln")))
        {
            root = root.Parent;
        }

        string dll = Path.Combine(root!.FullName, "samples", "DistributedTraining", "bin", configuration, framework, "DistributedTraining.dll");
        Assert.True(File.Exists(dll), $"The sample is not built at '{dll}'; build tests/ModelKit.Training.Tests (it references the sample).");
        return dll;
    }

    /// <summary>A child process whose stdout and stderr are collected.</summary>
    private sealed class RankProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private RankProcess(Process process)
        {
            _process = process;
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public int ExitCode => _process.ExitCode;

        public static RankProcess Start(string dll, int port, int rank, int world, string work, int timeoutSeconds)
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = work };
            start.ArgumentList.Add(dll);
            foreach (string a in SampleArgs(work, timeoutSeconds))
            {
                start.ArgumentList.Add(a);
            }

            start.Environment["MASTER_ADDR"] = "127.0.0.1";
            start.Environment["MASTER_PORT"] = port.ToString(CultureInfo.InvariantCulture);
            start.Environment["RANK"] = rank.ToString(CultureInfo.InvariantCulture);
            start.Environment["WORLD_SIZE"] = world.ToString(CultureInfo.InvariantCulture);
            start.Environment["OMP_WAIT_POLICY"] = "PASSIVE";
            return Start(start);
        }

        public static RankProcess Start(ProcessStartInfo start) => new(Process.Start(start)!);

        public async Task<bool> WaitForOutputAsync(string text, TimeSpan limit)
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < limit)
            {
                if (Output.Contains(text, StringComparison.Ordinal))
                {
                    return true;
                }

                if (_process.HasExited)
                {
                    return false;
                }

                await Task.Delay(100);
            }

            return false;
        }

        public async Task<bool> WaitForExitAsync(TimeSpan limit)
        {
            using var timeout = new CancellationTokenSource(limit);
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
                _process.WaitForExit(); // drains the output events
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        public void Kill() => _process.Kill(entireProcessTree: true);

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }

            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
