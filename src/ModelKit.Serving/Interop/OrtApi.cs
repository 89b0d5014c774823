using System.Runtime.InteropServices;

namespace ModelKit.Serving.Interop;

// Mirrors of the ONNX Runtime C API (include/onnxruntime/core/session/onnxruntime_c_api.h). The function
// table is append-only across releases: a table obtained with GetApi(OrtApiVersion) from any newer library
// has these slots at these offsets. Slots ModelKit does not call are declared as nint placeholders named
// after the header's function so that every later slot keeps its offset.

/// <summary>Opaque <c>OrtStatus</c>; a null pointer means success.</summary>
internal struct OrtStatus { }

/// <summary>Opaque <c>OrtEnv</c>.</summary>
internal struct OrtEnv { }

/// <summary>Opaque <c>OrtSessionOptions</c>.</summary>
internal struct OrtSessionOptions { }

/// <summary>Opaque <c>OrtSession</c>.</summary>
internal struct OrtSession { }

/// <summary>Opaque <c>OrtValue</c>.</summary>
internal struct OrtValue { }

/// <summary>Opaque <c>OrtRunOptions</c>.</summary>
internal struct OrtRunOptions { }

/// <summary>Opaque <c>OrtMemoryInfo</c>.</summary>
internal struct OrtMemoryInfo { }

/// <summary>Opaque <c>OrtTypeInfo</c>.</summary>
internal struct OrtTypeInfo { }

/// <summary>Opaque <c>OrtTensorTypeAndShapeInfo</c>.</summary>
internal struct OrtTensorTypeAndShapeInfo { }

/// <summary>Opaque <c>OrtAllocator</c> (ModelKit only passes the default allocator back to ONNX Runtime).</summary>
internal struct OrtAllocator { }

/// <summary>Opaque <c>OrtCUDAProviderOptionsV2</c>.</summary>
internal struct OrtCUDAProviderOptionsV2 { }

/// <summary><c>OrtErrorCode</c>.</summary>
internal enum OrtErrorCode
{
    Ok = 0,
    Fail = 1,
    InvalidArgument = 2,
    NoSuchFile = 3,
    NoModel = 4,
    EngineError = 5,
    RuntimeException = 6,
    InvalidProtobuf = 7,
    ModelLoaded = 8,
    NotImplemented = 9,
    InvalidGraph = 10,
    EpFail = 11,
}

/// <summary><c>OrtLoggingLevel</c>.</summary>
internal enum OrtLoggingLevel
{
    Verbose = 0,
    Info = 1,
    Warning = 2,
    Error = 3,
    Fatal = 4,
}

/// <summary><c>ONNXType</c>: the kind of value an input or output holds.</summary>
internal enum OnnxType
{
    Unknown = 0,
    Tensor = 1,
    Sequence = 2,
    Map = 3,
    Opaque = 4,
    SparseTensor = 5,
    Optional = 6,
}

/// <summary><c>OrtAllocatorType</c>.</summary>
internal enum OrtAllocatorType
{
    Invalid = -1,
    Device = 0,
    Arena = 1,
}

/// <summary><c>OrtMemType</c>.</summary>
internal enum OrtMemType
{
    CpuInput = -2,
    CpuOutput = -1,
    Default = 0,
}

/// <summary><c>GraphOptimizationLevel</c> values as the C API defines them.</summary>
internal static class OrtGraphOptimizationLevel
{
    public const int DisableAll = 0;
    public const int EnableBasic = 1;
    public const int EnableExtended = 2;
    public const int EnableAll = 99;
}

/// <summary>
/// <c>struct OrtApiBase</c>, returned by the library's only exported entry point <c>OrtGetApiBase</c>.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OrtApiBase
{
    /// <summary><c>const OrtApi* GetApi(uint32_t version)</c>: null when the library does not support <c>version</c>.</summary>
    public delegate* unmanaged[Cdecl]<uint, OrtApi*> GetApi;

    /// <summary><c>const char* GetVersionString(void)</c>, for example <c>1.30.0</c>; owned by the library.</summary>
    public delegate* unmanaged[Cdecl]<byte*> GetVersionString;
}

/// <summary>
/// <c>struct OrtApi</c>: every slot from the first up to <c>ReleaseCUDAProviderOptions</c> (API version 11), in
/// header order. Status-returning functions return a null <see cref="OrtStatus"/> pointer on success; a non-null
/// status must be released with <see cref="ReleaseStatus"/> (see <c>OrtLibrary.ThrowIfFailed</c>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct OrtApi
{
    /// <summary>The number of slots declared here; <c>sizeof(OrtApi)</c> is this times the pointer size.</summary>
    public const int DeclaredSlotCount = 209;

    /// <summary>
    /// The API version ModelKit asks <c>GetApi</c> for. Version 13 (ONNX Runtime 1.13) is the oldest whose table holds
    /// every slot declared here; every later library also serves it.
    /// </summary>
    public const uint RequestedVersion = 13;

    /// <summary>Slot 0: <c>CreateStatus</c> (not used by ModelKit).</summary>
    public nint CreateStatus;

    /// <summary>Slot 1: <c>GetErrorCode</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtStatus*, OrtErrorCode> GetErrorCode;

    /// <summary>Slot 2: <c>GetErrorMessage</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtStatus*, byte*> GetErrorMessage;

    /// <summary>Slot 3: <c>CreateEnv</c> (not used by ModelKit).</summary>
    public nint CreateEnv;

    /// <summary>Slot 4: <c>CreateEnvWithCustomLogger</c>.</summary>
    public delegate* unmanaged[Cdecl]<delegate* unmanaged[Cdecl]<void*, OrtLoggingLevel, byte*, byte*, byte*, byte*, void>, void*, OrtLoggingLevel, byte*, OrtEnv**, OrtStatus*> CreateEnvWithCustomLogger;

    /// <summary>Slot 5: <c>EnableTelemetryEvents</c> (not used by ModelKit).</summary>
    public nint EnableTelemetryEvents;

    /// <summary>Slot 6: <c>DisableTelemetryEvents</c> (not used by ModelKit).</summary>
    public nint DisableTelemetryEvents;

    /// <summary>Slot 7: <c>CreateSession</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtEnv*, void*, OrtSessionOptions*, OrtSession**, OrtStatus*> CreateSession;

    /// <summary>Slot 8: <c>CreateSessionFromArray</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtEnv*, void*, nuint, OrtSessionOptions*, OrtSession**, OrtStatus*> CreateSessionFromArray;

    /// <summary>Slot 9: <c>Run</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, OrtRunOptions*, byte**, OrtValue**, nuint, byte**, nuint, OrtValue**, OrtStatus*> Run;

    /// <summary>Slot 10: <c>CreateSessionOptions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSessionOptions**, OrtStatus*> CreateSessionOptions;

    /// <summary>Slot 11: <c>SetOptimizedModelFilePath</c> (not used by ModelKit).</summary>
    public nint SetOptimizedModelFilePath;

    /// <summary>Slot 12: <c>CloneSessionOptions</c> (not used by ModelKit).</summary>
    public nint CloneSessionOptions;

    /// <summary>Slot 13: <c>SetSessionExecutionMode</c> (not used by ModelKit).</summary>
    public nint SetSessionExecutionMode;

    /// <summary>Slot 14: <c>EnableProfiling</c> (not used by ModelKit).</summary>
    public nint EnableProfiling;

    /// <summary>Slot 15: <c>DisableProfiling</c> (not used by ModelKit).</summary>
    public nint DisableProfiling;

    /// <summary>Slot 16: <c>EnableMemPattern</c> (not used by ModelKit).</summary>
    public nint EnableMemPattern;

    /// <summary>Slot 17: <c>DisableMemPattern</c> (not used by ModelKit).</summary>
    public nint DisableMemPattern;

    /// <summary>Slot 18: <c>EnableCpuMemArena</c> (not used by ModelKit).</summary>
    public nint EnableCpuMemArena;

    /// <summary>Slot 19: <c>DisableCpuMemArena</c> (not used by ModelKit).</summary>
    public nint DisableCpuMemArena;

    /// <summary>Slot 20: <c>SetSessionLogId</c> (not used by ModelKit).</summary>
    public nint SetSessionLogId;

    /// <summary>Slot 21: <c>SetSessionLogVerbosityLevel</c> (not used by ModelKit).</summary>
    public nint SetSessionLogVerbosityLevel;

    /// <summary>Slot 22: <c>SetSessionLogSeverityLevel</c> (not used by ModelKit).</summary>
    public nint SetSessionLogSeverityLevel;

    /// <summary>Slot 23: <c>SetSessionGraphOptimizationLevel</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSessionOptions*, int, OrtStatus*> SetSessionGraphOptimizationLevel;

    /// <summary>Slot 24: <c>SetIntraOpNumThreads</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSessionOptions*, int, OrtStatus*> SetIntraOpNumThreads;

    /// <summary>Slot 25: <c>SetInterOpNumThreads</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSessionOptions*, int, OrtStatus*> SetInterOpNumThreads;

    /// <summary>Slot 26: <c>CreateCustomOpDomain</c> (not used by ModelKit).</summary>
    public nint CreateCustomOpDomain;

    /// <summary>Slot 27: <c>CustomOpDomain_Add</c> (not used by ModelKit).</summary>
    public nint CustomOpDomain_Add;

    /// <summary>Slot 28: <c>AddCustomOpDomain</c> (not used by ModelKit).</summary>
    public nint AddCustomOpDomain;

    /// <summary>Slot 29: <c>RegisterCustomOpsLibrary</c> (not used by ModelKit).</summary>
    public nint RegisterCustomOpsLibrary;

    /// <summary>Slot 30: <c>SessionGetInputCount</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, nuint*, OrtStatus*> SessionGetInputCount;

    /// <summary>Slot 31: <c>SessionGetOutputCount</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, nuint*, OrtStatus*> SessionGetOutputCount;

    /// <summary>Slot 32: <c>SessionGetOverridableInitializerCount</c> (not used by ModelKit).</summary>
    public nint SessionGetOverridableInitializerCount;

    /// <summary>Slot 33: <c>SessionGetInputTypeInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, nuint, OrtTypeInfo**, OrtStatus*> SessionGetInputTypeInfo;

    /// <summary>Slot 34: <c>SessionGetOutputTypeInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, nuint, OrtTypeInfo**, OrtStatus*> SessionGetOutputTypeInfo;

    /// <summary>Slot 35: <c>SessionGetOverridableInitializerTypeInfo</c> (not used by ModelKit).</summary>
    public nint SessionGetOverridableInitializerTypeInfo;

    /// <summary>Slot 36: <c>SessionGetInputName</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, nuint, OrtAllocator*, byte**, OrtStatus*> SessionGetInputName;

    /// <summary>Slot 37: <c>SessionGetOutputName</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, nuint, OrtAllocator*, byte**, OrtStatus*> SessionGetOutputName;

    /// <summary>Slot 38: <c>SessionGetOverridableInitializerName</c> (not used by ModelKit).</summary>
    public nint SessionGetOverridableInitializerName;

    /// <summary>Slot 39: <c>CreateRunOptions</c> (not used by ModelKit).</summary>
    public nint CreateRunOptions;

    /// <summary>Slot 40: <c>RunOptionsSetRunLogVerbosityLevel</c> (not used by ModelKit).</summary>
    public nint RunOptionsSetRunLogVerbosityLevel;

    /// <summary>Slot 41: <c>RunOptionsSetRunLogSeverityLevel</c> (not used by ModelKit).</summary>
    public nint RunOptionsSetRunLogSeverityLevel;

    /// <summary>Slot 42: <c>RunOptionsSetRunTag</c> (not used by ModelKit).</summary>
    public nint RunOptionsSetRunTag;

    /// <summary>Slot 43: <c>RunOptionsGetRunLogVerbosityLevel</c> (not used by ModelKit).</summary>
    public nint RunOptionsGetRunLogVerbosityLevel;

    /// <summary>Slot 44: <c>RunOptionsGetRunLogSeverityLevel</c> (not used by ModelKit).</summary>
    public nint RunOptionsGetRunLogSeverityLevel;

    /// <summary>Slot 45: <c>RunOptionsGetRunTag</c> (not used by ModelKit).</summary>
    public nint RunOptionsGetRunTag;

    /// <summary>Slot 46: <c>RunOptionsSetTerminate</c> (not used by ModelKit).</summary>
    public nint RunOptionsSetTerminate;

    /// <summary>Slot 47: <c>RunOptionsUnsetTerminate</c> (not used by ModelKit).</summary>
    public nint RunOptionsUnsetTerminate;

    /// <summary>Slot 48: <c>CreateTensorAsOrtValue</c> (not used by ModelKit).</summary>
    public nint CreateTensorAsOrtValue;

    /// <summary>Slot 49: <c>CreateTensorWithDataAsOrtValue</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtMemoryInfo*, void*, nuint, long*, nuint, TensorElementType, OrtValue**, OrtStatus*> CreateTensorWithDataAsOrtValue;

    /// <summary>Slot 50: <c>IsTensor</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtValue*, int*, OrtStatus*> IsTensor;

    /// <summary>Slot 51: <c>GetTensorMutableData</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtValue*, void**, OrtStatus*> GetTensorMutableData;

    /// <summary>Slot 52: <c>FillStringTensor</c> (not used by ModelKit).</summary>
    public nint FillStringTensor;

    /// <summary>Slot 53: <c>GetStringTensorDataLength</c> (not used by ModelKit).</summary>
    public nint GetStringTensorDataLength;

    /// <summary>Slot 54: <c>GetStringTensorContent</c> (not used by ModelKit).</summary>
    public nint GetStringTensorContent;

    /// <summary>Slot 55: <c>CastTypeInfoToTensorInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTypeInfo*, OrtTensorTypeAndShapeInfo**, OrtStatus*> CastTypeInfoToTensorInfo;

    /// <summary>Slot 56: <c>GetOnnxTypeFromTypeInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTypeInfo*, OnnxType*, OrtStatus*> GetOnnxTypeFromTypeInfo;

    /// <summary>Slot 57: <c>CreateTensorTypeAndShapeInfo</c> (not used by ModelKit).</summary>
    public nint CreateTensorTypeAndShapeInfo;

    /// <summary>Slot 58: <c>SetTensorElementType</c> (not used by ModelKit).</summary>
    public nint SetTensorElementType;

    /// <summary>Slot 59: <c>SetDimensions</c> (not used by ModelKit).</summary>
    public nint SetDimensions;

    /// <summary>Slot 60: <c>GetTensorElementType</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTensorTypeAndShapeInfo*, TensorElementType*, OrtStatus*> GetTensorElementType;

    /// <summary>Slot 61: <c>GetDimensionsCount</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTensorTypeAndShapeInfo*, nuint*, OrtStatus*> GetDimensionsCount;

    /// <summary>Slot 62: <c>GetDimensions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTensorTypeAndShapeInfo*, long*, nuint, OrtStatus*> GetDimensions;

    /// <summary>Slot 63: <c>GetSymbolicDimensions</c> (not used by ModelKit).</summary>
    public nint GetSymbolicDimensions;

    /// <summary>Slot 64: <c>GetTensorShapeElementCount</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTensorTypeAndShapeInfo*, nuint*, OrtStatus*> GetTensorShapeElementCount;

    /// <summary>Slot 65: <c>GetTensorTypeAndShape</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtValue*, OrtTensorTypeAndShapeInfo**, OrtStatus*> GetTensorTypeAndShape;

    /// <summary>Slot 66: <c>GetTypeInfo</c> (not used by ModelKit).</summary>
    public nint GetTypeInfo;

    /// <summary>Slot 67: <c>GetValueType</c> (not used by ModelKit).</summary>
    public nint GetValueType;

    /// <summary>Slot 68: <c>CreateMemoryInfo</c> (not used by ModelKit).</summary>
    public nint CreateMemoryInfo;

    /// <summary>Slot 69: <c>CreateCpuMemoryInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtAllocatorType, OrtMemType, OrtMemoryInfo**, OrtStatus*> CreateCpuMemoryInfo;

    /// <summary>Slot 70: <c>CompareMemoryInfo</c> (not used by ModelKit).</summary>
    public nint CompareMemoryInfo;

    /// <summary>Slot 71: <c>MemoryInfoGetName</c> (not used by ModelKit).</summary>
    public nint MemoryInfoGetName;

    /// <summary>Slot 72: <c>MemoryInfoGetId</c> (not used by ModelKit).</summary>
    public nint MemoryInfoGetId;

    /// <summary>Slot 73: <c>MemoryInfoGetMemType</c> (not used by ModelKit).</summary>
    public nint MemoryInfoGetMemType;

    /// <summary>Slot 74: <c>MemoryInfoGetType</c> (not used by ModelKit).</summary>
    public nint MemoryInfoGetType;

    /// <summary>Slot 75: <c>AllocatorAlloc</c> (not used by ModelKit).</summary>
    public nint AllocatorAlloc;

    /// <summary>Slot 76: <c>AllocatorFree</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtAllocator*, void*, OrtStatus*> AllocatorFree;

    /// <summary>Slot 77: <c>AllocatorGetInfo</c> (not used by ModelKit).</summary>
    public nint AllocatorGetInfo;

    /// <summary>Slot 78: <c>GetAllocatorWithDefaultOptions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtAllocator**, OrtStatus*> GetAllocatorWithDefaultOptions;

    /// <summary>Slot 79: <c>AddFreeDimensionOverride</c> (not used by ModelKit).</summary>
    public nint AddFreeDimensionOverride;

    /// <summary>Slot 80: <c>GetValue</c> (not used by ModelKit).</summary>
    public nint GetValue;

    /// <summary>Slot 81: <c>GetValueCount</c> (not used by ModelKit).</summary>
    public nint GetValueCount;

    /// <summary>Slot 82: <c>CreateValue</c> (not used by ModelKit).</summary>
    public nint CreateValue;

    /// <summary>Slot 83: <c>CreateOpaqueValue</c> (not used by ModelKit).</summary>
    public nint CreateOpaqueValue;

    /// <summary>Slot 84: <c>GetOpaqueValue</c> (not used by ModelKit).</summary>
    public nint GetOpaqueValue;

    /// <summary>Slot 85: <c>KernelInfoGetAttribute_float</c> (not used by ModelKit).</summary>
    public nint KernelInfoGetAttribute_float;

    /// <summary>Slot 86: <c>KernelInfoGetAttribute_int64</c> (not used by ModelKit).</summary>
    public nint KernelInfoGetAttribute_int64;

    /// <summary>Slot 87: <c>KernelInfoGetAttribute_string</c> (not used by ModelKit).</summary>
    public nint KernelInfoGetAttribute_string;

    /// <summary>Slot 88: <c>KernelContext_GetInputCount</c> (not used by ModelKit).</summary>
    public nint KernelContext_GetInputCount;

    /// <summary>Slot 89: <c>KernelContext_GetOutputCount</c> (not used by ModelKit).</summary>
    public nint KernelContext_GetOutputCount;

    /// <summary>Slot 90: <c>KernelContext_GetInput</c> (not used by ModelKit).</summary>
    public nint KernelContext_GetInput;

    /// <summary>Slot 91: <c>KernelContext_GetOutput</c> (not used by ModelKit).</summary>
    public nint KernelContext_GetOutput;

    /// <summary>Slot 92: <c>ReleaseEnv</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtEnv*, void> ReleaseEnv;

    /// <summary>Slot 93: <c>ReleaseStatus</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtStatus*, void> ReleaseStatus;

    /// <summary>Slot 94: <c>ReleaseMemoryInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtMemoryInfo*, void> ReleaseMemoryInfo;

    /// <summary>Slot 95: <c>ReleaseSession</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSession*, void> ReleaseSession;

    /// <summary>Slot 96: <c>ReleaseValue</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtValue*, void> ReleaseValue;

    /// <summary>Slot 97: <c>ReleaseRunOptions</c> (not used by ModelKit).</summary>
    public nint ReleaseRunOptions;

    /// <summary>Slot 98: <c>ReleaseTypeInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTypeInfo*, void> ReleaseTypeInfo;

    /// <summary>Slot 99: <c>ReleaseTensorTypeAndShapeInfo</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtTensorTypeAndShapeInfo*, void> ReleaseTensorTypeAndShapeInfo;

    /// <summary>Slot 100: <c>ReleaseSessionOptions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSessionOptions*, void> ReleaseSessionOptions;

    /// <summary>Slot 101: <c>ReleaseCustomOpDomain</c> (not used by ModelKit).</summary>
    public nint ReleaseCustomOpDomain;

    /// <summary>Slot 102: <c>GetDenotationFromTypeInfo</c> (not used by ModelKit).</summary>
    public nint GetDenotationFromTypeInfo;

    /// <summary>Slot 103: <c>CastTypeInfoToMapTypeInfo</c> (not used by ModelKit).</summary>
    public nint CastTypeInfoToMapTypeInfo;

    /// <summary>Slot 104: <c>CastTypeInfoToSequenceTypeInfo</c> (not used by ModelKit).</summary>
    public nint CastTypeInfoToSequenceTypeInfo;

    /// <summary>Slot 105: <c>GetMapKeyType</c> (not used by ModelKit).</summary>
    public nint GetMapKeyType;

    /// <summary>Slot 106: <c>GetMapValueType</c> (not used by ModelKit).</summary>
    public nint GetMapValueType;

    /// <summary>Slot 107: <c>GetSequenceElementType</c> (not used by ModelKit).</summary>
    public nint GetSequenceElementType;

    /// <summary>Slot 108: <c>ReleaseMapTypeInfo</c> (not used by ModelKit).</summary>
    public nint ReleaseMapTypeInfo;

    /// <summary>Slot 109: <c>ReleaseSequenceTypeInfo</c> (not used by ModelKit).</summary>
    public nint ReleaseSequenceTypeInfo;

    /// <summary>Slot 110: <c>SessionEndProfiling</c> (not used by ModelKit).</summary>
    public nint SessionEndProfiling;

    /// <summary>Slot 111: <c>SessionGetModelMetadata</c> (not used by ModelKit).</summary>
    public nint SessionGetModelMetadata;

    /// <summary>Slot 112: <c>ModelMetadataGetProducerName</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetProducerName;

    /// <summary>Slot 113: <c>ModelMetadataGetGraphName</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetGraphName;

    /// <summary>Slot 114: <c>ModelMetadataGetDomain</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetDomain;

    /// <summary>Slot 115: <c>ModelMetadataGetDescription</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetDescription;

    /// <summary>Slot 116: <c>ModelMetadataLookupCustomMetadataMap</c> (not used by ModelKit).</summary>
    public nint ModelMetadataLookupCustomMetadataMap;

    /// <summary>Slot 117: <c>ModelMetadataGetVersion</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetVersion;

    /// <summary>Slot 118: <c>ReleaseModelMetadata</c> (not used by ModelKit).</summary>
    public nint ReleaseModelMetadata;

    /// <summary>Slot 119: <c>CreateEnvWithGlobalThreadPools</c> (not used by ModelKit).</summary>
    public nint CreateEnvWithGlobalThreadPools;

    /// <summary>Slot 120: <c>DisablePerSessionThreads</c> (not used by ModelKit).</summary>
    public nint DisablePerSessionThreads;

    /// <summary>Slot 121: <c>CreateThreadingOptions</c> (not used by ModelKit).</summary>
    public nint CreateThreadingOptions;

    /// <summary>Slot 122: <c>ReleaseThreadingOptions</c> (not used by ModelKit).</summary>
    public nint ReleaseThreadingOptions;

    /// <summary>Slot 123: <c>ModelMetadataGetCustomMetadataMapKeys</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetCustomMetadataMapKeys;

    /// <summary>Slot 124: <c>AddFreeDimensionOverrideByName</c> (not used by ModelKit).</summary>
    public nint AddFreeDimensionOverrideByName;

    /// <summary>Slot 125: <c>GetAvailableProviders</c>.</summary>
    public delegate* unmanaged[Cdecl]<byte***, int*, OrtStatus*> GetAvailableProviders;

    /// <summary>Slot 126: <c>ReleaseAvailableProviders</c>.</summary>
    public delegate* unmanaged[Cdecl]<byte**, int, OrtStatus*> ReleaseAvailableProviders;

    /// <summary>Slot 127: <c>GetStringTensorElementLength</c> (not used by ModelKit).</summary>
    public nint GetStringTensorElementLength;

    /// <summary>Slot 128: <c>GetStringTensorElement</c> (not used by ModelKit).</summary>
    public nint GetStringTensorElement;

    /// <summary>Slot 129: <c>FillStringTensorElement</c> (not used by ModelKit).</summary>
    public nint FillStringTensorElement;

    /// <summary>Slot 130: <c>AddSessionConfigEntry</c> (not used by ModelKit).</summary>
    public nint AddSessionConfigEntry;

    /// <summary>Slot 131: <c>CreateAllocator</c> (not used by ModelKit).</summary>
    public nint CreateAllocator;

    /// <summary>Slot 132: <c>ReleaseAllocator</c> (not used by ModelKit).</summary>
    public nint ReleaseAllocator;

    /// <summary>Slot 133: <c>RunWithBinding</c> (not used by ModelKit).</summary>
    public nint RunWithBinding;

    /// <summary>Slot 134: <c>CreateIoBinding</c> (not used by ModelKit).</summary>
    public nint CreateIoBinding;

    /// <summary>Slot 135: <c>ReleaseIoBinding</c> (not used by ModelKit).</summary>
    public nint ReleaseIoBinding;

    /// <summary>Slot 136: <c>BindInput</c> (not used by ModelKit).</summary>
    public nint BindInput;

    /// <summary>Slot 137: <c>BindOutput</c> (not used by ModelKit).</summary>
    public nint BindOutput;

    /// <summary>Slot 138: <c>BindOutputToDevice</c> (not used by ModelKit).</summary>
    public nint BindOutputToDevice;

    /// <summary>Slot 139: <c>GetBoundOutputNames</c> (not used by ModelKit).</summary>
    public nint GetBoundOutputNames;

    /// <summary>Slot 140: <c>GetBoundOutputValues</c> (not used by ModelKit).</summary>
    public nint GetBoundOutputValues;

    /// <summary>Slot 141: <c>ClearBoundInputs</c> (not used by ModelKit).</summary>
    public nint ClearBoundInputs;

    /// <summary>Slot 142: <c>ClearBoundOutputs</c> (not used by ModelKit).</summary>
    public nint ClearBoundOutputs;

    /// <summary>Slot 143: <c>TensorAt</c> (not used by ModelKit).</summary>
    public nint TensorAt;

    /// <summary>Slot 144: <c>CreateAndRegisterAllocator</c> (not used by ModelKit).</summary>
    public nint CreateAndRegisterAllocator;

    /// <summary>Slot 145: <c>SetLanguageProjection</c> (not used by ModelKit).</summary>
    public nint SetLanguageProjection;

    /// <summary>Slot 146: <c>SessionGetProfilingStartTimeNs</c> (not used by ModelKit).</summary>
    public nint SessionGetProfilingStartTimeNs;

    /// <summary>Slot 147: <c>SetGlobalIntraOpNumThreads</c> (not used by ModelKit).</summary>
    public nint SetGlobalIntraOpNumThreads;

    /// <summary>Slot 148: <c>SetGlobalInterOpNumThreads</c> (not used by ModelKit).</summary>
    public nint SetGlobalInterOpNumThreads;

    /// <summary>Slot 149: <c>SetGlobalSpinControl</c> (not used by ModelKit).</summary>
    public nint SetGlobalSpinControl;

    /// <summary>Slot 150: <c>AddInitializer</c> (not used by ModelKit).</summary>
    public nint AddInitializer;

    /// <summary>Slot 151: <c>CreateEnvWithCustomLoggerAndGlobalThreadPools</c> (not used by ModelKit).</summary>
    public nint CreateEnvWithCustomLoggerAndGlobalThreadPools;

    /// <summary>Slot 152: <c>SessionOptionsAppendExecutionProvider_CUDA</c> (not used by ModelKit).</summary>
    public nint SessionOptionsAppendExecutionProvider_CUDA;

    /// <summary>Slot 153: <c>SessionOptionsAppendExecutionProvider_ROCM</c> (not used by ModelKit).</summary>
    public nint SessionOptionsAppendExecutionProvider_ROCM;

    /// <summary>Slot 154: <c>SessionOptionsAppendExecutionProvider_OpenVINO</c> (not used by ModelKit).</summary>
    public nint SessionOptionsAppendExecutionProvider_OpenVINO;

    /// <summary>Slot 155: <c>SetGlobalDenormalAsZero</c> (not used by ModelKit).</summary>
    public nint SetGlobalDenormalAsZero;

    /// <summary>Slot 156: <c>CreateArenaCfg</c> (not used by ModelKit).</summary>
    public nint CreateArenaCfg;

    /// <summary>Slot 157: <c>ReleaseArenaCfg</c> (not used by ModelKit).</summary>
    public nint ReleaseArenaCfg;

    /// <summary>Slot 158: <c>ModelMetadataGetGraphDescription</c> (not used by ModelKit).</summary>
    public nint ModelMetadataGetGraphDescription;

    /// <summary>Slot 159: <c>SessionOptionsAppendExecutionProvider_TensorRT</c> (not used by ModelKit).</summary>
    public nint SessionOptionsAppendExecutionProvider_TensorRT;

    /// <summary>Slot 160: <c>SetCurrentGpuDeviceId</c> (not used by ModelKit).</summary>
    public nint SetCurrentGpuDeviceId;

    /// <summary>Slot 161: <c>GetCurrentGpuDeviceId</c> (not used by ModelKit).</summary>
    public nint GetCurrentGpuDeviceId;

    /// <summary>Slot 162: <c>KernelInfoGetAttributeArray_float</c> (not used by ModelKit).</summary>
    public nint KernelInfoGetAttributeArray_float;

    /// <summary>Slot 163: <c>KernelInfoGetAttributeArray_int64</c> (not used by ModelKit).</summary>
    public nint KernelInfoGetAttributeArray_int64;

    /// <summary>Slot 164: <c>CreateArenaCfgV2</c> (not used by ModelKit).</summary>
    public nint CreateArenaCfgV2;

    /// <summary>Slot 165: <c>AddRunConfigEntry</c> (not used by ModelKit).</summary>
    public nint AddRunConfigEntry;

    /// <summary>Slot 166: <c>CreatePrepackedWeightsContainer</c> (not used by ModelKit).</summary>
    public nint CreatePrepackedWeightsContainer;

    /// <summary>Slot 167: <c>ReleasePrepackedWeightsContainer</c> (not used by ModelKit).</summary>
    public nint ReleasePrepackedWeightsContainer;

    /// <summary>Slot 168: <c>CreateSessionWithPrepackedWeightsContainer</c> (not used by ModelKit).</summary>
    public nint CreateSessionWithPrepackedWeightsContainer;

    /// <summary>Slot 169: <c>CreateSessionFromArrayWithPrepackedWeightsContainer</c> (not used by ModelKit).</summary>
    public nint CreateSessionFromArrayWithPrepackedWeightsContainer;

    /// <summary>Slot 170: <c>SessionOptionsAppendExecutionProvider_TensorRT_V2</c> (not used by ModelKit).</summary>
    public nint SessionOptionsAppendExecutionProvider_TensorRT_V2;

    /// <summary>Slot 171: <c>CreateTensorRTProviderOptions</c> (not used by ModelKit).</summary>
    public nint CreateTensorRTProviderOptions;

    /// <summary>Slot 172: <c>UpdateTensorRTProviderOptions</c> (not used by ModelKit).</summary>
    public nint UpdateTensorRTProviderOptions;

    /// <summary>Slot 173: <c>GetTensorRTProviderOptionsAsString</c> (not used by ModelKit).</summary>
    public nint GetTensorRTProviderOptionsAsString;

    /// <summary>Slot 174: <c>ReleaseTensorRTProviderOptions</c> (not used by ModelKit).</summary>
    public nint ReleaseTensorRTProviderOptions;

    /// <summary>Slot 175: <c>EnableOrtCustomOps</c> (not used by ModelKit).</summary>
    public nint EnableOrtCustomOps;

    /// <summary>Slot 176: <c>RegisterAllocator</c> (not used by ModelKit).</summary>
    public nint RegisterAllocator;

    /// <summary>Slot 177: <c>UnregisterAllocator</c> (not used by ModelKit).</summary>
    public nint UnregisterAllocator;

    /// <summary>Slot 178: <c>IsSparseTensor</c> (not used by ModelKit).</summary>
    public nint IsSparseTensor;

    /// <summary>Slot 179: <c>CreateSparseTensorAsOrtValue</c> (not used by ModelKit).</summary>
    public nint CreateSparseTensorAsOrtValue;

    /// <summary>Slot 180: <c>FillSparseTensorCoo</c> (not used by ModelKit).</summary>
    public nint FillSparseTensorCoo;

    /// <summary>Slot 181: <c>FillSparseTensorCsr</c> (not used by ModelKit).</summary>
    public nint FillSparseTensorCsr;

    /// <summary>Slot 182: <c>FillSparseTensorBlockSparse</c> (not used by ModelKit).</summary>
    public nint FillSparseTensorBlockSparse;

    /// <summary>Slot 183: <c>CreateSparseTensorWithValuesAsOrtValue</c> (not used by ModelKit).</summary>
    public nint CreateSparseTensorWithValuesAsOrtValue;

    /// <summary>Slot 184: <c>UseCooIndices</c> (not used by ModelKit).</summary>
    public nint UseCooIndices;

    /// <summary>Slot 185: <c>UseCsrIndices</c> (not used by ModelKit).</summary>
    public nint UseCsrIndices;

    /// <summary>Slot 186: <c>UseBlockSparseIndices</c> (not used by ModelKit).</summary>
    public nint UseBlockSparseIndices;

    /// <summary>Slot 187: <c>GetSparseTensorFormat</c> (not used by ModelKit).</summary>
    public nint GetSparseTensorFormat;

    /// <summary>Slot 188: <c>GetSparseTensorValuesTypeAndShape</c> (not used by ModelKit).</summary>
    public nint GetSparseTensorValuesTypeAndShape;

    /// <summary>Slot 189: <c>GetSparseTensorValues</c> (not used by ModelKit).</summary>
    public nint GetSparseTensorValues;

    /// <summary>Slot 190: <c>GetSparseTensorIndicesTypeShape</c> (not used by ModelKit).</summary>
    public nint GetSparseTensorIndicesTypeShape;

    /// <summary>Slot 191: <c>GetSparseTensorIndices</c> (not used by ModelKit).</summary>
    public nint GetSparseTensorIndices;

    /// <summary>Slot 192: <c>HasValue</c> (not used by ModelKit).</summary>
    public nint HasValue;

    /// <summary>Slot 193: <c>KernelContext_GetGPUComputeStream</c> (not used by ModelKit).</summary>
    public nint KernelContext_GetGPUComputeStream;

    /// <summary>Slot 194: <c>GetTensorMemoryInfo</c> (not used by ModelKit).</summary>
    public nint GetTensorMemoryInfo;

    /// <summary>Slot 195: <c>GetExecutionProviderApi</c> (not used by ModelKit).</summary>
    public nint GetExecutionProviderApi;

    /// <summary>Slot 196: <c>SessionOptionsSetCustomCreateThreadFn</c> (not used by ModelKit).</summary>
    public nint SessionOptionsSetCustomCreateThreadFn;

    /// <summary>Slot 197: <c>SessionOptionsSetCustomThreadCreationOptions</c> (not used by ModelKit).</summary>
    public nint SessionOptionsSetCustomThreadCreationOptions;

    /// <summary>Slot 198: <c>SessionOptionsSetCustomJoinThreadFn</c> (not used by ModelKit).</summary>
    public nint SessionOptionsSetCustomJoinThreadFn;

    /// <summary>Slot 199: <c>SetGlobalCustomCreateThreadFn</c> (not used by ModelKit).</summary>
    public nint SetGlobalCustomCreateThreadFn;

    /// <summary>Slot 200: <c>SetGlobalCustomThreadCreationOptions</c> (not used by ModelKit).</summary>
    public nint SetGlobalCustomThreadCreationOptions;

    /// <summary>Slot 201: <c>SetGlobalCustomJoinThreadFn</c> (not used by ModelKit).</summary>
    public nint SetGlobalCustomJoinThreadFn;

    /// <summary>Slot 202: <c>SynchronizeBoundInputs</c> (not used by ModelKit).</summary>
    public nint SynchronizeBoundInputs;

    /// <summary>Slot 203: <c>SynchronizeBoundOutputs</c> (not used by ModelKit).</summary>
    public nint SynchronizeBoundOutputs;

    /// <summary>Slot 204: <c>SessionOptionsAppendExecutionProvider_CUDA_V2</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtSessionOptions*, OrtCUDAProviderOptionsV2*, OrtStatus*> SessionOptionsAppendExecutionProvider_CUDA_V2;

    /// <summary>Slot 205: <c>CreateCUDAProviderOptions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtCUDAProviderOptionsV2**, OrtStatus*> CreateCUDAProviderOptions;

    /// <summary>Slot 206: <c>UpdateCUDAProviderOptions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtCUDAProviderOptionsV2*, byte**, byte**, nuint, OrtStatus*> UpdateCUDAProviderOptions;

    /// <summary>Slot 207: <c>GetCUDAProviderOptionsAsString</c> (not used by ModelKit).</summary>
    public nint GetCUDAProviderOptionsAsString;

    /// <summary>Slot 208: <c>ReleaseCUDAProviderOptions</c>.</summary>
    public delegate* unmanaged[Cdecl]<OrtCUDAProviderOptionsV2*, void> ReleaseCUDAProviderOptions;
}
