using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Bindings for <c>mk_distributed.cpp</c>: the c10d Gloo process group and its collectives.</summary>
internal static unsafe partial class MkDistributed
{
    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_dist_init", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Init(
        string masterAddress, int masterPort, int rank, int worldSize, int hostStore, string storePrefix, double timeoutSeconds,
        out ProcessGroupSafeHandle group);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_dist_free")]
    internal static partial int Free(nint group);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_dist_broadcast_network")]
    internal static partial int BroadcastNetwork(ProcessGroupSafeHandle group, NetworkSafeHandle network);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_dist_all_reduce_sum")]
    internal static partial int AllReduceSum(ProcessGroupSafeHandle group, double* values, long count);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_dist_barrier")]
    internal static partial int Barrier(ProcessGroupSafeHandle group);
}
