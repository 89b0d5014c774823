using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// Run through eng/bench.sh: bash eng/bench.sh '*'  (or a filter such as '*DynamicBatching*').
// Each case runs in its own generated process; on a busy machine building that project takes minutes, hence the timeout.
if (args.Length > 0 && args[0] == "mlp-bound-interleaved")
{
    // Interleaved rounds of the MLP step and its GEMM bound (see MlpGemmBoundBenchmarks.RunInterleaved).
    ModelKit.Benchmarks.MlpGemmBoundBenchmarks.RunInterleaved(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 30);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(15)));
