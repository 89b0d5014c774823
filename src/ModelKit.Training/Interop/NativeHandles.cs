using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Owns an <c>mk_network*</c>; released with <c>mk_network_free</c>.</summary>
internal sealed class NetworkSafeHandle : SafeHandle
{
    /// <summary>Initializes an invalid handle; the interop marshaller sets it.</summary>
    public NetworkSafeHandle()
        : base(0, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => MkNetwork.Free(handle) == 0;
}

/// <summary>Owns an <c>mk_optimizer*</c>; released with <c>mk_optimizer_free</c>.</summary>
internal sealed class OptimizerSafeHandle : SafeHandle
{
    /// <summary>Initializes an invalid handle; the interop marshaller sets it.</summary>
    public OptimizerSafeHandle()
        : base(0, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => MkTraining.Free(handle) == 0;
}

/// <summary>Owns an <c>mk_process_group*</c>.</summary>
internal sealed class ProcessGroupSafeHandle : SafeHandle
{
    /// <summary>Initializes an invalid handle (set by the marshaller).</summary>
    public ProcessGroupSafeHandle()
        : base(0, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => MkDistributed.Free(handle) == 0;
}

/// <summary>Owns an <c>mk_buffer*</c> (bytes written by the shim).</summary>
internal sealed class NativeBufferSafeHandle : SafeHandle
{
    /// <summary>Initializes an invalid handle (set by the marshaller).</summary>
    public NativeBufferSafeHandle()
        : base(0, ownsHandle: true)
    {
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <inheritdoc />
    protected override bool ReleaseHandle() => MkTraining.BufferFree(handle) == 0;
}
