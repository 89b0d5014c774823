using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Binds native/modelkit_torch/src/mk_network.cpp. Layer kinds are the header's MK_LAYER_* values.</summary>
internal static unsafe partial class MkNetwork
{
    public const int LayerLinear = 1;
    public const int LayerRelu = 2;
    public const int LayerFlatten = 3;
    public const int LayerDropout = 4;

    /// <summary>The most dimensions a shape passed to or from the shim has here.</summary>
    public const int MaxRank = 16;

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_create")]
    internal static partial int Create(int* kinds, long* intArgs, double* realArgs, long layerCount, ulong seed, out NetworkSafeHandle network);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_free")]
    internal static partial int Free(nint network);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_forward")]
    internal static partial int Forward(
        NetworkSafeHandle network, float* features, long featureCount, long* shape, long rank,
        float* outValues, long capacity, long* outShape, long shapeCapacity, out long outRank);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_parameter_count")]
    internal static partial int ParameterCount(NetworkSafeHandle network, out long count);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_parameter_info")]
    internal static partial int ParameterInfo(
        NetworkSafeHandle network, long index, out nint name, long* outShape, long shapeCapacity, out long rank, out long numel);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_parameter_read")]
    internal static partial int ParameterRead(NetworkSafeHandle network, long index, float* destination, long capacity);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_parameter_write")]
    internal static partial int ParameterWrite(NetworkSafeHandle network, long index, float* source, long count);
}
