using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// Run through eng/bench.sh: bash eng/bench.sh '*'  (or a filter such as '*DynamicBatching*').
// Each case runs in its own generated process; on a busy machine building that project takes minutes, hence the timeout.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, ManualConfig.Create(DefaultConfig.Instance).WithBuildTimeout(TimeSpan.FromMinutes(15)));
