using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Binding for <c>mk_bench.cpp</c>: the raw libtorch training loop that the training benchmarks compare against.</summary>
internal static partial class MkBench
{
    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_bench_raw_train")]
    internal static partial int RawTrain(int kind, int steps, int batch, out double seconds);
}
