using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ModelKit.Registry;
using ModelKit.Serving.Interop;

namespace ModelKit.Serving.Internal;

/// <summary>
/// An <see cref="IInferenceSession"/> over one ONNX Runtime <c>OrtSession</c>. Input and output names, element types and
/// shapes are read once at load. <see cref="Run"/> validates inputs against the signature before any native call, wraps
/// the pinned managed input buffers as <c>OrtValue</c>s without copying, runs, and copies every output into a new managed
/// array. <see cref="Run"/> is thread-safe (ONNX Runtime allows concurrent <c>Run</c> on one session).
/// </summary>
internal sealed unsafe class OnnxRuntimeInferenceSession : IInferenceSession
{
    private const int StackDims = 16;

    private readonly OrtRuntime _runtime;
    private readonly OrtSessionHandle _session;
    private readonly TensorSpec[] _inputs;
    private readonly TensorSpec[] _outputs;

    // UTF-8, null-terminated names on the pinned object heap: the pointer arrays below point into them for the
    // session's whole life, so Run passes them to native code without pinning or encoding anything.
    private readonly byte[] _nameBytes;
    private readonly nint[] _inputNames;
    private readonly nint[] _outputNames;

    private readonly string _modelDescription;
    private readonly ServingMetrics _metrics;
    private readonly KeyValuePair<string, object?>[] _successTags;
    private int _disposed;

    public OnnxRuntimeInferenceSession(OrtRuntime runtime, OrtSessionHandle session, ExecutionProvider provider, ModelVersion? modelVersion, ServingMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(metrics);
        _runtime = runtime;
        _session = session;
        _metrics = metrics;
        Provider = provider;
        ModelVersion = modelVersion;
        _modelDescription = modelVersion is null
            ? "the model"
            : string.Create(CultureInfo.InvariantCulture, $"model '{modelVersion.Name}' version {modelVersion.Version}");

        _inputs = ReadSpecs(isInput: true);
        _outputs = ReadSpecs(isInput: false);
        Signature = new ModelSignature(_inputs, _outputs);

        int byteCount = 0;
        foreach (TensorSpec spec in _inputs)
        {
            byteCount += Encoding.UTF8.GetByteCount(spec.Name) + 1;
        }

        foreach (TensorSpec spec in _outputs)
        {
            byteCount += Encoding.UTF8.GetByteCount(spec.Name) + 1;
        }

        _nameBytes = GC.AllocateArray<byte>(Math.Max(byteCount, 1), pinned: true);
        _inputNames = GC.AllocateArray<nint>(Math.Max(_inputs.Length, 1), pinned: true);
        _outputNames = GC.AllocateArray<nint>(Math.Max(_outputs.Length, 1), pinned: true);
        byte* basePointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_nameBytes));
        int offset = 0;
        for (int i = 0; i < _inputs.Length; i++)
        {
            _inputNames[i] = (nint)(basePointer + offset);
            offset += Encoding.UTF8.GetBytes(_inputs[i].Name, _nameBytes.AsSpan(offset)) + 1;
        }

        for (int i = 0; i < _outputs.Length; i++)
        {
            _outputNames[i] = (nint)(basePointer + offset);
            offset += Encoding.UTF8.GetBytes(_outputs[i].Name, _nameBytes.AsSpan(offset)) + 1;
        }

        var tags = new List<KeyValuePair<string, object?>>(3);
        if (modelVersion is not null)
        {
            tags.Add(new(ServingMetrics.ModelNameTag, modelVersion.Name));
            tags.Add(new(ServingMetrics.ModelVersionTag, modelVersion.Version));
        }

        tags.Add(new(ServingMetrics.ProviderTag, provider == ExecutionProvider.Cuda ? "cuda" : "cpu"));
        _successTags = [.. tags];
    }

    /// <inheritdoc />
    public ModelSignature Signature { get; }

    /// <inheritdoc />
    public ModelVersion? ModelVersion { get; }

    /// <summary>Gets the execution provider the session actually runs on (CPU after a CUDA fallback).</summary>
    public ExecutionProvider Provider { get; }

    /// <summary>Gets the native session, for benchmarks that call <c>Run</c> on the C API directly.</summary>
    internal OrtSessionHandle Handle => _session;

    /// <summary>Gets the runtime the session was created in.</summary>
    internal OrtRuntime Runtime => _runtime;

    /// <inheritdoc />
    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ThrowIfDisposed();
        if (!_metrics.InferenceDuration.Enabled)
        {
            return RunCore(inputs);
        }

        long start = Stopwatch.GetTimestamp();
        try
        {
            NamedTensor[] outputs = RunCore(inputs);
            _metrics.InferenceDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, _successTags);
            return outputs;
        }
        catch (Exception ex)
        {
            RecordFailure(Stopwatch.GetElapsedTime(start).TotalSeconds, ex);
            throw;
        }
    }

    /// <summary>Releases the native session (once the runtime's references allow, the environment too). Safe to call more than once.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _session.Dispose();
    }

    private NamedTensor[] RunCore(IReadOnlyList<NamedTensor> inputs)
    {
        int inputCount = _inputs.Length;

        // order[k] = index in `inputs` of the tensor bound to signature input k.
        int[] order = ArrayPool<int>.Shared.Rent(inputCount);
        try
        {
            Validate(inputs, order);
            return RunValidated(inputs, order);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(order);
        }
    }

    private void Validate(IReadOnlyList<NamedTensor> inputs, int[] order)
    {
        int inputCount = _inputs.Length;
        Array.Fill(order, -1, 0, inputCount);
        for (int j = 0; j < inputs.Count; j++)
        {
            NamedTensor given = inputs[j];
            if (given.Name is null || given.Value is null)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"Input {j} has no name or no tensor; pass NamedTensor(name, tensor) for each of {Names(_inputs)}."),
                    nameof(inputs));
            }

            int k = IndexOf(_inputs, given.Name);
            if (k < 0)
            {
                throw new InferenceInputException(
                    given.Name,
                    $"Input '{given.Name}' is not an input of {_modelDescription}, which expects {Names(_inputs)}. Rename the input or check the model reference.");
            }

            if (order[k] >= 0)
            {
                throw new InferenceInputException(
                    given.Name,
                    $"Input '{given.Name}' is given more than once but {_modelDescription} expects it once. Pass each of {Names(_inputs)} exactly once.");
            }

            TensorSpec spec = _inputs[k];
            Tensor tensor = given.Value;
            if (tensor.ElementType != spec.ElementType)
            {
                throw new InferenceInputException(
                    given.Name,
                    $"Input '{given.Name}' has element type {tensor.ElementType} but {_modelDescription} expects {spec.ElementType}. Convert the input or check the model reference.");
            }

            if (!spec.Accepts(tensor.Shape))
            {
                throw new InferenceInputException(
                    given.Name,
                    $"Input '{given.Name}' has shape {TensorSpec.FormatShape(tensor.Shape)} but {_modelDescription} expects {TensorSpec.FormatShape(spec.Shape)}. Reshape the input or check the model reference.");
            }

            order[k] = j;
        }

        for (int k = 0; k < inputCount; k++)
        {
            if (order[k] < 0)
            {
                TensorSpec missing = _inputs[k];
                throw new InferenceInputException(
                    missing.Name,
                    $"Input '{missing.Name}' is missing: {_modelDescription} expects {Names(_inputs)} but got {Names(inputs)}. " +
                    $"Add a {missing.ElementType} tensor of shape {TensorSpec.FormatShape(missing.Shape)} named '{missing.Name}'.");
            }
        }
    }

    private NamedTensor[] RunValidated(IReadOnlyList<NamedTensor> inputs, int[] order)
    {
        int inputCount = _inputs.Length;
        int outputCount = _outputs.Length;
        OrtApi* api = _runtime.Api;
        OrtLibrary library = _runtime.Library;

        MemoryHandle[] pins = ArrayPool<MemoryHandle>.Shared.Rent(inputCount);
        OrtValueHandle?[] inputValues = ArrayPool<OrtValueHandle?>.Shared.Rent(inputCount);
        OrtValueHandle?[] outputValues = ArrayPool<OrtValueHandle?>.Shared.Rent(outputCount);
        nint[] inputPointers = ArrayPool<nint>.Shared.Rent(inputCount);
        nint[] outputPointers = ArrayPool<nint>.Shared.Rent(outputCount);
        int pinned = 0;
        bool sessionAdded = false;
        try
        {
            for (int k = 0; k < inputCount; k++)
            {
                Tensor tensor = inputs[order[k]].Value;
                pins[k] = tensor.Pin();
                pinned = k + 1;
                OrtValueHandle value = _runtime.CreateTensor(pins[k].Pointer, (nuint)tensor.ByteLength, tensor.Shape, tensor.ElementType);
                inputValues[k] = value;
                inputPointers[k] = (nint)value.Pointer;
            }

            Array.Clear(outputPointers, 0, outputCount);
            _session.DangerousAddRef(ref sessionAdded);
            fixed (nint* inNames = _inputNames, outNames = _outputNames, inValues = inputPointers, outValues = outputPointers)
            {
                library.ThrowIfFailed(
                    api->Run(_session.Pointer, null, (byte**)inNames, (OrtValue**)inValues, (nuint)inputCount, (byte**)outNames, (nuint)outputCount, (OrtValue**)outValues),
                    "Run");
            }

            // Own every output before reading any, so a failure while reading still releases them all.
            for (int k = 0; k < outputCount; k++)
            {
                if (outputPointers[k] != 0)
                {
                    outputValues[k] = new OrtValueHandle(api, _runtime.Handles, (OrtValue*)outputPointers[k]);
                }
            }

            var results = new NamedTensor[outputCount];
            for (int k = 0; k < outputCount; k++)
            {
                results[k] = new NamedTensor(_outputs[k].Name, ReadOutput(outputValues[k], k));
            }

            return results;
        }
        finally
        {
            if (sessionAdded)
            {
                _session.DangerousRelease();
            }

            for (int k = 0; k < outputCount; k++)
            {
                outputValues[k]?.Dispose();
            }

            for (int k = 0; k < inputCount; k++)
            {
                inputValues[k]?.Dispose();
            }

            for (int k = 0; k < pinned; k++)
            {
                pins[k].Dispose();
            }

            ArrayPool<MemoryHandle>.Shared.Return(pins, clearArray: true);
            ArrayPool<OrtValueHandle?>.Shared.Return(inputValues, clearArray: true);
            ArrayPool<OrtValueHandle?>.Shared.Return(outputValues, clearArray: true);
            ArrayPool<nint>.Shared.Return(inputPointers);
            ArrayPool<nint>.Shared.Return(outputPointers);
        }
    }

    private Tensor ReadOutput(OrtValueHandle? value, int index)
    {
        string name = _outputs[index].Name;
        if (value is null)
        {
            throw new NativeEngineException(OrtLibrary.EngineName, "Run", 0, $"ONNX Runtime returned no value for output '{name}' of {_modelDescription}.");
        }

        OrtApi* api = _runtime.Api;
        OrtLibrary library = _runtime.Library;
        OrtTensorTypeAndShapeInfo* rawInfo = null;
        library.ThrowIfFailed(api->GetTensorTypeAndShape(value.Pointer, &rawInfo), "GetTensorTypeAndShape");
        using var info = new OrtTensorTypeAndShapeInfoHandle(api, _runtime.Handles, rawInfo);

        TensorElementType elementType;
        nuint rank;
        nuint count;
        void* data = null;
        library.ThrowIfFailed(api->GetTensorElementType(rawInfo, &elementType), "GetTensorElementType");
        library.ThrowIfFailed(api->GetDimensionsCount(rawInfo, &rank), "GetDimensionsCount");
        library.ThrowIfFailed(api->GetTensorShapeElementCount(rawInfo, &count), "GetTensorShapeElementCount");
        Span<long> dims = rank <= StackDims ? stackalloc long[StackDims] : new long[(int)rank];
        dims = dims[..(int)rank];
        fixed (long* dimsPointer = dims)
        {
            library.ThrowIfFailed(api->GetDimensions(rawInfo, dimsPointer, rank), "GetDimensions");
        }

        if (count > 0)
        {
            library.ThrowIfFailed(api->GetTensorMutableData(value.Pointer, &data), "GetTensorMutableData");
        }

        if (count > int.MaxValue)
        {
            throw new NativeEngineException(
                OrtLibrary.EngineName,
                "Run",
                0,
                string.Create(CultureInfo.InvariantCulture, $"Output '{name}' of {_modelDescription} has {count} elements; a managed tensor holds at most {int.MaxValue}. Split the input batch."));
        }

        int length = (int)count;
        return elementType switch
        {
            TensorElementType.Float => Copy<float>(data, length, dims),
            TensorElementType.Double => Copy<double>(data, length, dims),
            TensorElementType.Int64 => Copy<long>(data, length, dims),
            TensorElementType.Int32 => Copy<int>(data, length, dims),
            TensorElementType.Int16 => Copy<short>(data, length, dims),
            TensorElementType.Int8 => Copy<sbyte>(data, length, dims),
            TensorElementType.UInt64 => Copy<ulong>(data, length, dims),
            TensorElementType.UInt32 => Copy<uint>(data, length, dims),
            TensorElementType.UInt16 => Copy<ushort>(data, length, dims),
            TensorElementType.UInt8 => Copy<byte>(data, length, dims),
            TensorElementType.Bool => Copy<bool>(data, length, dims),
            TensorElementType.Float16 => Copy<Half>(data, length, dims),
            _ => throw new NativeEngineException(
                OrtLibrary.EngineName,
                "Run",
                0,
                $"Output '{name}' of {_modelDescription} has element type {elementType}, which ModelKit.Serving cannot return as a managed tensor. " +
                "Add a Cast to a numeric type at the end of the graph."),
        };
    }

    private static Tensor<T> Copy<T>(void* source, int length, ReadOnlySpan<long> dims)
        where T : unmanaged
    {
        T[] buffer = length == 0 ? [] : GC.AllocateUninitializedArray<T>(length);
        new ReadOnlySpan<T>(source, length).CopyTo(buffer);
        return Tensor.Create<T>(buffer, dims);
    }

    private TensorSpec[] ReadSpecs(bool isInput)
    {
        OrtApi* api = _runtime.Api;
        OrtLibrary library = _runtime.Library;
        OrtSession* session = _session.Pointer;
        nuint count;
        library.ThrowIfFailed(isInput ? api->SessionGetInputCount(session, &count) : api->SessionGetOutputCount(session, &count), isInput ? "SessionGetInputCount" : "SessionGetOutputCount");
        OrtAllocator* allocator = null;
        library.ThrowIfFailed(api->GetAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions");

        var specs = new TensorSpec[(int)count];
        for (nuint i = 0; i < count; i++)
        {
            byte* rawName = null;
            library.ThrowIfFailed(
                isInput ? api->SessionGetInputName(session, i, allocator, &rawName) : api->SessionGetOutputName(session, i, allocator, &rawName),
                isInput ? "SessionGetInputName" : "SessionGetOutputName");
            string name;
            try
            {
                name = Marshal.PtrToStringUTF8((nint)rawName) ?? string.Empty;
            }
            finally
            {
                library.ThrowIfFailed(api->AllocatorFree(allocator, rawName), "AllocatorFree");
            }

            OrtTypeInfo* rawTypeInfo = null;
            library.ThrowIfFailed(
                isInput ? api->SessionGetInputTypeInfo(session, i, &rawTypeInfo) : api->SessionGetOutputTypeInfo(session, i, &rawTypeInfo),
                isInput ? "SessionGetInputTypeInfo" : "SessionGetOutputTypeInfo");
            using var typeInfo = new OrtTypeInfoHandle(api, _runtime.Handles, rawTypeInfo);

            OnnxType kind;
            library.ThrowIfFailed(api->GetOnnxTypeFromTypeInfo(rawTypeInfo, &kind), "GetOnnxTypeFromTypeInfo");
            if (kind != OnnxType.Tensor)
            {
                throw new ModelKitException(
                    $"{(isInput ? "Input" : "Output")} '{name}' of {_modelDescription} is a {kind} value; ModelKit.Serving runs models whose inputs and outputs are dense tensors. " +
                    "Re-export the model without sequence or map inputs and outputs (for example without a ZipMap).");
            }

            // Owned by the type info: valid until it is released, not released separately.
            OrtTensorTypeAndShapeInfo* tensorInfo = null;
            library.ThrowIfFailed(api->CastTypeInfoToTensorInfo(rawTypeInfo, &tensorInfo), "CastTypeInfoToTensorInfo");
            TensorElementType elementType;
            nuint rank;
            library.ThrowIfFailed(api->GetTensorElementType(tensorInfo, &elementType), "GetTensorElementType");
            library.ThrowIfFailed(api->GetDimensionsCount(tensorInfo, &rank), "GetDimensionsCount");
            long[] shape = new long[(int)rank];
            fixed (long* shapePointer = shape)
            {
                library.ThrowIfFailed(api->GetDimensions(tensorInfo, shapePointer, rank), "GetDimensions");
            }

            for (int d = 0; d < shape.Length; d++)
            {
                if (shape[d] < 0)
                {
                    shape[d] = -1;
                }
            }

            specs[(int)i] = new TensorSpec(name, elementType, shape);
        }

        return specs;
    }

    private void RecordFailure(double seconds, Exception exception)
    {
        var tags = new KeyValuePair<string, object?>[_successTags.Length + 1];
        _successTags.CopyTo(tags, 0);
        tags[^1] = new(ServingMetrics.ErrorTypeTag, exception.GetType().FullName);
        _metrics.InferenceDuration.Record(seconds, tags);
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ObjectDisposedException(
                nameof(OnnxRuntimeInferenceSession),
                $"The inference session for {_modelDescription} has been disposed. Create a new session with IInferenceSessionFactory.");
        }
    }

    private static int IndexOf(TensorSpec[] specs, string name)
    {
        for (int i = 0; i < specs.Length; i++)
        {
            if (string.Equals(specs[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    private static string Names(TensorSpec[] specs)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < specs.Length; i++)
        {
            sb.Append(i > 0 ? ", '" : "'").Append(specs[i].Name).Append('\'');
        }

        return sb.Append(']').ToString();
    }

    private static string Names(IReadOnlyList<NamedTensor> tensors)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < tensors.Count; i++)
        {
            sb.Append(i > 0 ? ", '" : "'").Append(tensors[i].Name).Append('\'');
        }

        return sb.Append(']').ToString();
    }
}
