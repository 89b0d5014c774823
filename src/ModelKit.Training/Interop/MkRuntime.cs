using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Binds native/modelkit_torch/src/mk_runtime.cpp.</summary>
internal static partial class MkRuntime
{
    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_last_error")]
    internal static partial nint LastError();

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_runtime_version")]
    internal static partial int Version(out nint version);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_runtime_set_num_threads")]
    internal static partial int SetNumThreads(int numThreads);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_runtime_get_num_threads")]
    internal static partial int GetNumThreads(out int numThreads);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_runtime_manual_seed")]
    internal static partial int ManualSeed(ulong seed);
}
