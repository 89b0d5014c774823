using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Bindings for <c>mk_network.cpp</c>: network creation, eval forward, parameter and buffer access.</summary>
internal static unsafe partial class MkNetwork
{
    public const int LayerLinear = 1;
    public const int LayerRelu = 2;
    public const int LayerFlatten = 3;
    public const int LayerDropout = 4;
    public const int LayerConv2d = 5;
    public const int LayerMaxPool2d = 6;
    public const int LayerAvgPool2d = 7;
    public const int LayerGlobalAvgPool2d = 8;
    public const int LayerBatchNorm1d = 9;
    public const int LayerBatchNorm2d = 10;
    public const int LayerLayerNorm = 11;
    public const int LayerEmbedding = 12;
    public const int LayerLeakyRelu = 13;
    public const int LayerGelu = 14;
    public const int LayerSilu = 15;
    public const int LayerSigmoid = 16;
    public const int LayerTanh = 17;
    public const int LayerSoftmax = 18;
    public const int LayerLogSoftmax = 19;
    public const int LayerConv1d = 20;
    public const int LayerResidual = 21;

    /// <summary>MK_LAYER_INT_ARGS: int64 arguments per layer.</summary>
    public const int IntArgs = 8;

    /// <summary>MK_LAYER_REAL_ARGS: double arguments per layer.</summary>
    public const int RealArgs = 2;

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

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_buffer_count")]
    internal static partial int BufferCount(NetworkSafeHandle network, out long count);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_buffer_info")]
    internal static partial int BufferInfo(
        NetworkSafeHandle network, long index, out nint name, long* outShape, long shapeCapacity, out long rank, out long numel);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_buffer_read")]
    internal static partial int BufferRead(NetworkSafeHandle network, long index, float* destination, long capacity);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_set_dropout_seed")]
    internal static partial int SetDropoutSeed(NetworkSafeHandle network, ulong seed);
}
