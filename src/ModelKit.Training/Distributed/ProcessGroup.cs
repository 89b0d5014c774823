using System.Globalization;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Distributed;

/// <summary>
/// A c10d <c>ProcessGroupGloo</c> joined through a TCPStore (see <see cref="DistributedSettings"/>): the ranks of one
/// data-parallel run. Every collective is bounded by <see cref="DistributedSettings.CollectiveTimeout"/>; a failure or a
/// timeout throws <see cref="NativeEngineException"/> naming the operation, the rank, the world size and the timeout.
/// </summary>
/// <remarks>Not thread-safe: one training thread uses a group. The caller disposes it.</remarks>
internal sealed class ProcessGroup : IDisposable
{
    private ProcessGroup(ProcessGroupSafeHandle handle, DistributedSettings settings)
    {
        Handle = handle;
        Settings = settings;
    }

    public ProcessGroupSafeHandle Handle { get; }

    public DistributedSettings Settings { get; }

    public int Rank => Settings.Rank;

    public int WorldSize => Settings.WorldSize;

    /// <summary>Joins the group: rank 0 hosts the store unless a launcher's agent store is used; waits for every rank up to the timeout.</summary>
    /// <exception cref="NativeEngineException">The store cannot be hosted (port in use) or reached, or the ranks do not all arrive within the timeout.</exception>
    public static ProcessGroup Join(DistributedSettings settings)
    {
        settings.Validate();
        int status = MkDistributed.Init(
            settings.MasterAddress, settings.MasterPort, settings.Rank, settings.WorldSize, settings.HostsStore ? 1 : 0,
            settings.StorePrefix, settings.CollectiveTimeout.TotalSeconds, out ProcessGroupSafeHandle handle);
        if (status != 0)
        {
            handle.Dispose();
            TorchLibrary.ThrowIfFailed(status, "mk_dist_init");
        }

        return new ProcessGroup(handle, settings);
    }

    /// <summary>Copies rank 0's parameters and buffers into <paramref name="network"/>.</summary>
    public void BroadcastNetwork(SequentialNetwork network)
    {
        lock (network.Gate)
        {
            network.ThrowIfDisposed();
            TorchLibrary.ThrowIfFailed(MkDistributed.BroadcastNetwork(Handle, network.Handle), "mk_dist_broadcast_network");
        }
    }

    /// <summary>Sums <paramref name="values"/> over the ranks in place.</summary>
    public unsafe void AllReduceSum(Span<double> values)
    {
        fixed (double* p = values)
        {
            TorchLibrary.ThrowIfFailed(MkDistributed.AllReduceSum(Handle, p, values.Length), "mk_dist_all_reduce_sum");
        }
    }

    /// <summary>Waits until every rank arrives.</summary>
    public void Barrier() => TorchLibrary.ThrowIfFailed(MkDistributed.Barrier(Handle), "mk_dist_barrier");

    /// <summary>Describes the group for messages.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"rank {Rank} of {WorldSize} (store {Settings.MasterAddress}:{Settings.MasterPort}{(Settings.UseAgentStore ? ", torchrun agent store " + Settings.StorePrefix : string.Empty)})");

    /// <inheritdoc />
    public void Dispose() => Handle.Dispose();
}
