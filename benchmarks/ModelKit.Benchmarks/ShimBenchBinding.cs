using System.Runtime.InteropServices;

namespace ModelKit.Benchmarks;

/// <summary>
/// The training baseline's binding to the shim's C ABI (<c>native/modelkit_torch/src/mk_bench.cpp</c>), declared here so
/// that the benchmarks use ModelKit's public API only. Call it after ModelKit has loaded <c>libmodelkit_torch.so</c>
/// (any <see cref="Training.SequentialNetwork"/> does): the bare name then resolves to that copy through its SONAME.
/// </summary>
internal static partial class ShimBenchBinding
{
    private const string Library = "modelkit_torch";

    [LibraryImport(Library, EntryPoint = "mk_bench_raw_train")]
    private static partial int RawTrainNative(int kind, int steps, int batch, out double seconds);

    [LibraryImport(Library, EntryPoint = "mk_last_error")]
    private static partial nint LastError();

    /// <summary>Runs <paramref name="steps"/> steps of the raw libtorch loop (kind 0: MLP, 1: CNN) of batch <paramref name="batch"/>.</summary>
    /// <returns>The loop's own time in seconds.</returns>
    /// <exception cref="InvalidOperationException">The shim returned a failure status; the message is the shim's.</exception>
    public static double RawTrain(int kind, int steps, int batch)
    {
        int status = RawTrainNative(kind, steps, batch, out double seconds);
        return status == 0
            ? seconds
            : throw new InvalidOperationException($"mk_bench_raw_train failed with status {status}: {Marshal.PtrToStringUTF8(LastError())}");
    }
}
