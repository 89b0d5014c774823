using BenchmarkDotNet.Running;

// Run through eng/bench.sh: bash eng/bench.sh '*'  (or a filter such as '*DynamicBatching*').
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
