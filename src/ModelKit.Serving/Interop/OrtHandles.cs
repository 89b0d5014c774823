using System.Runtime.InteropServices;

namespace ModelKit.Serving.Interop;

/// <summary>
/// Counts the native objects of one runtime that are alive (created and not yet released), so tests and diagnostics
/// can prove that nothing leaks. Thread-safe.
/// </summary>
internal sealed class OrtHandleCounter
{
    private long _live;

    /// <summary>Gets the number of live native objects.</summary>
    public long Live => Interlocked.Read(ref _live);

    /// <summary>Records a created object.</summary>
    public void Created() => Interlocked.Increment(ref _live);

    /// <summary>Records a released object.</summary>
    public void Released() => Interlocked.Decrement(ref _live);
}

/// <summary>
/// Base of the SafeHandles that own ONNX Runtime objects. A handle is constructed only around a non-null pointer
/// that a C API call has just returned, and it releases that object exactly once with the matching
/// <c>Release*</c> function (on <see cref="SafeHandle.Dispose()"/> or, if never disposed, on finalization).
/// </summary>
internal abstract unsafe class OrtHandle : SafeHandle
{
    private readonly OrtHandleCounter _counter;

    protected OrtHandle(OrtApi* api, OrtHandleCounter counter, void* pointer)
        : base(0, ownsHandle: true)
    {
        Api = api;
        _counter = counter;
        SetHandle((nint)pointer);
        counter.Created();
    }

    /// <inheritdoc />
    public override bool IsInvalid => handle == 0;

    /// <summary>Gets the function table the object is released through.</summary>
    protected OrtApi* Api { get; }

    /// <inheritdoc />
    protected sealed override bool ReleaseHandle()
    {
        Free(handle);
        _counter.Released();
        return true;
    }

    /// <summary>Calls the object's <c>Release*</c> function.</summary>
    /// <param name="pointer">The native object.</param>
    protected abstract void Free(nint pointer);
}

/// <summary>Owns an <c>OrtEnv</c> (<c>ReleaseEnv</c>).</summary>
internal sealed unsafe class OrtEnvHandle(OrtApi* api, OrtHandleCounter counter, OrtEnv* pointer) : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtEnv* Pointer => (OrtEnv*)handle;

    protected override void Free(nint pointer) => Api->ReleaseEnv((OrtEnv*)pointer);
}

/// <summary>Owns an <c>OrtSessionOptions</c> (<c>ReleaseSessionOptions</c>).</summary>
internal sealed unsafe class OrtSessionOptionsHandle(OrtApi* api, OrtHandleCounter counter, OrtSessionOptions* pointer) : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtSessionOptions* Pointer => (OrtSessionOptions*)handle;

    protected override void Free(nint pointer) => Api->ReleaseSessionOptions((OrtSessionOptions*)pointer);
}

/// <summary>
/// Owns an <c>OrtSession</c> (<c>ReleaseSession</c>). Holds a reference on the <c>OrtEnv</c> it was created in and
/// on the CPU <c>OrtMemoryInfo</c> its runs use, so neither is released before the session is.
/// </summary>
internal sealed unsafe class OrtSessionHandle : OrtHandle
{
    private readonly OrtEnvHandle _env;
    private readonly OrtMemoryInfoHandle _memoryInfo;

    public OrtSessionHandle(OrtApi* api, OrtHandleCounter counter, OrtSession* pointer, OrtEnvHandle env, OrtMemoryInfoHandle memoryInfo)
        : base(api, counter, pointer)
    {
        bool envAdded = false;
        bool memoryInfoAdded = false;
        env.DangerousAddRef(ref envAdded);
        memoryInfo.DangerousAddRef(ref memoryInfoAdded);
        _env = env;
        _memoryInfo = memoryInfo;
    }

    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtSession* Pointer => (OrtSession*)handle;

    protected override void Free(nint pointer)
    {
        Api->ReleaseSession((OrtSession*)pointer);
        _memoryInfo.DangerousRelease();
        _env.DangerousRelease();
    }
}

/// <summary>Owns an <c>OrtMemoryInfo</c> (<c>ReleaseMemoryInfo</c>).</summary>
internal sealed unsafe class OrtMemoryInfoHandle(OrtApi* api, OrtHandleCounter counter, OrtMemoryInfo* pointer) : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtMemoryInfo* Pointer => (OrtMemoryInfo*)handle;

    protected override void Free(nint pointer) => Api->ReleaseMemoryInfo((OrtMemoryInfo*)pointer);
}

/// <summary>
/// Owns an <c>OrtValue</c> (<c>ReleaseValue</c>). A value created over caller memory
/// (<c>CreateTensorWithDataAsOrtValue</c>) does not own that memory: the caller keeps it pinned until this handle is released.
/// </summary>
internal sealed unsafe class OrtValueHandle(OrtApi* api, OrtHandleCounter counter, OrtValue* pointer) : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtValue* Pointer => (OrtValue*)handle;

    protected override void Free(nint pointer) => Api->ReleaseValue((OrtValue*)pointer);
}

/// <summary>Owns an <c>OrtTypeInfo</c> (<c>ReleaseTypeInfo</c>).</summary>
internal sealed unsafe class OrtTypeInfoHandle(OrtApi* api, OrtHandleCounter counter, OrtTypeInfo* pointer) : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtTypeInfo* Pointer => (OrtTypeInfo*)handle;

    protected override void Free(nint pointer) => Api->ReleaseTypeInfo((OrtTypeInfo*)pointer);
}

/// <summary>Owns an <c>OrtTensorTypeAndShapeInfo</c> (<c>ReleaseTensorTypeAndShapeInfo</c>).</summary>
internal sealed unsafe class OrtTensorTypeAndShapeInfoHandle(OrtApi* api, OrtHandleCounter counter, OrtTensorTypeAndShapeInfo* pointer)
    : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtTensorTypeAndShapeInfo* Pointer => (OrtTensorTypeAndShapeInfo*)handle;

    protected override void Free(nint pointer) => Api->ReleaseTensorTypeAndShapeInfo((OrtTensorTypeAndShapeInfo*)pointer);
}

/// <summary>Owns an <c>OrtCUDAProviderOptionsV2</c> (<c>ReleaseCUDAProviderOptions</c>).</summary>
internal sealed unsafe class OrtCudaProviderOptionsHandle(OrtApi* api, OrtHandleCounter counter, OrtCUDAProviderOptionsV2* pointer)
    : OrtHandle(api, counter, pointer)
{
    /// <summary>Gets the native pointer; valid while the handle is not released.</summary>
    public OrtCUDAProviderOptionsV2* Pointer => (OrtCUDAProviderOptionsV2*)handle;

    protected override void Free(nint pointer) => Api->ReleaseCUDAProviderOptions((OrtCUDAProviderOptionsV2*)pointer);
}
