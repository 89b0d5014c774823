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

if (args.Length > 0 && args[0] == "overhead-interleaved")
{
    // Interleaved rounds of ModelKit's Run and the raw official API (see ServingOverheadInterleaved).
    ModelKit.Benchmarks.ServingOverheadInterleaved.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40);
    return;
}

if (args.Length > 0 && args[0] == "batching-floor")
{
    // The bare mechanism of an async batcher, no engine (see BatchingFloor).
    ModelKit.Benchmarks.BatchingFloor.Run(
        args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 150_000,
        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 3136);
    return;
}

if (args.Length > 0 && args[0] == "batching-interleaved")
{
    // Interleaved rounds of 64 callers without and with the batcher (see DynamicBatchingBenchmarks.RunInterleaved).
    int rounds = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 20;
    ModelKit.Benchmarks.DynamicBatchingBenchmarks.RunInterleaved(rounds, batchedOnly: args.Length > 2 && args[2] == "batched-only");
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(15)));
