using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using ModelKit.Registry;

namespace ModelKit.Serving.Internal;

/// <summary>
/// An <see cref="IInferenceSession"/> over one ONNX Runtime <see cref="InferenceSession"/> (the official managed API).
/// Inputs are validated against the signature (read by ModelKit.Onnx from the validated model) before any native call,
/// then wrapped as <see cref="OrtValue"/>s over the pinned caller memory without copying. Once the first run has shown
/// that every output has the signature's shape with the batch dimension of the inputs, outputs go to pinned buffers
/// preallocated per session (one set per concurrent run, bound as <see cref="OrtValue"/>s that are reused while the batch
/// size stays the same) and are copied once into the new arrays the caller owns; otherwise ONNX Runtime allocates them
/// and they are copied. <see cref="Run"/> is thread-safe, and <see cref="Dispose"/> may race with it safely: the native session is
/// released only after the last in-flight run returns, so no run ever touches freed state. There is no finalizer.
/// </summary>
internal sealed class OnnxRuntimeInferenceSession : IInferenceSession
{
    private const int Unknown = 0;
    private const int Bindable = 1;
    private const int NotBindable = 2;

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions;
    private readonly TensorSpec[] _inputs;
    private readonly TensorSpec[] _outputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly string _modelDescription;
    private readonly ServingMetrics _metrics;
    private readonly KeyValuePair<string, object?>[] _successTags;

    private readonly long[][] _outputDims;
    private readonly OutputSlot?[] _slots = new OutputSlot?[Math.Clamp(Environment.ProcessorCount, 2, 16)];
    private readonly long[]?[] _outputShapes;
    private readonly long[]?[] _inputShapes;
    private int _outputBinding;
    private int _active;
    private int _disposed;
    private int _released;

    public OnnxRuntimeInferenceSession(InferenceSession session, ModelSignature signature, ExecutionProvider provider, ModelVersion? modelVersion, string modelDescription, ServingMetrics metrics)
    {
        _session = session;
        _metrics = metrics;
        _runOptions = new RunOptions();
        Provider = provider;
        ModelVersion = modelVersion;
        Signature = signature;
        _modelDescription = modelDescription;
        _inputs = [.. signature.Inputs];
        _outputs = [.. signature.Outputs];
        _inputNames = Array.ConvertAll(_inputs, s => s.Name);
        _outputNames = Array.ConvertAll(_outputs, s => s.Name);
        _outputDims = Array.ConvertAll(_outputs, s => s.Shape.ToArray());
        _outputShapes = new long[]?[_outputs.Length];
        _inputShapes = new long[]?[_inputs.Length];

        // Outputs can be preallocated only when every output's shape is the signature's, with at most dimension 0 dynamic.
        bool candidate = true;
        foreach (TensorSpec spec in _outputs)
        {
            if (spec.ElementType == TensorElementType.String || spec.Shape.Count == 0)
            {
                candidate = false;
                break;
            }

            for (int d = 1; d < spec.Shape.Count; d++)
            {
                candidate &= spec.Shape[d] >= 0;
            }
        }

        _outputBinding = candidate && _inputs.Length > 0 ? Unknown : NotBindable;

        var tags = new List<KeyValuePair<string, object?>>(3);
        if (modelVersion is not null)
        {
            tags.Add(new(ServingMetrics.ModelNameTag, modelVersion.Name));
            tags.Add(new(ServingMetrics.ModelVersionTag, modelVersion.Version));
        }

        tags.Add(new(ServingMetrics.ProviderTag, ProviderName));
        _successTags = [.. tags];
    }

    /// <inheritdoc />
    public ModelSignature Signature { get; }

    /// <inheritdoc />
    public ModelVersion? ModelVersion { get; }

    /// <summary>Gets the execution provider the session actually runs on (CPU after a CUDA fallback).</summary>
    public ExecutionProvider Provider { get; }

    /// <summary>Gets <c>cpu</c> or <c>cuda</c>.</summary>
    public string ProviderName => Provider == ExecutionProvider.Cuda ? "cuda" : "cpu";

    /// <summary>Gets the description used in messages, for example <c>model 'mnist' version 2</c>.</summary>
    internal string ModelDescription => _modelDescription;

    /// <summary>Gets whether outputs are preallocated and bound (known after the first successful run).</summary>
    internal bool OutputsBound => Volatile.Read(ref _outputBinding) == Bindable;

    /// <summary>Gets whether the native session has been released (after dispose and the last in-flight run).</summary>
    internal bool NativeReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Gets the official API's session, for benchmarks that compare against it.</summary>
    internal InferenceSession NativeSession => _session;

    /// <inheritdoc />
    public IReadOnlyList<NamedTensor> Run(IReadOnlyList<NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        Enter();
        try
        {
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
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Marks the session disposed; the native session is released now when no run is in flight, otherwise by the last run
    /// to return. Later calls to <see cref="Run"/> throw <see cref="ObjectDisposedException"/>. Safe to call more than once.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (Volatile.Read(ref _active) == 0)
        {
            Release();
        }
    }

    /// <summary>Validates <paramref name="inputs"/> against the signature and returns them in signature order.</summary>
    /// <param name="inputs">The inputs.</param>
    /// <returns>The tensors, one per signature input, in signature order.</returns>
    /// <exception cref="InferenceInputException">An input does not match the signature.</exception>
    internal Tensor[] ValidateAndOrder(IReadOnlyList<NamedTensor> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        Span<int> order = _inputs.Length <= 32 ? stackalloc int[_inputs.Length] : new int[_inputs.Length];
        Validate(inputs, order);
        var ordered = new Tensor[_inputs.Length];
        for (int k = 0; k < ordered.Length; k++)
        {
            ordered[k] = inputs[order[k]].Value;
        }

        return ordered;
    }

    /// <summary>Runs inputs already validated and in signature order (the batcher's path).</summary>
    /// <param name="ordered">One tensor per signature input, in signature order.</param>
    /// <returns>The outputs in signature order.</returns>
    internal NamedTensor[] RunOrdered(Tensor[] ordered)
    {
        Enter();
        try
        {
            if (!_metrics.InferenceDuration.Enabled)
            {
                return RunValidated(ordered);
            }

            long start = Stopwatch.GetTimestamp();
            try
            {
                NamedTensor[] outputs = RunValidated(ordered);
                _metrics.InferenceDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, _successTags);
                return outputs;
            }
            catch (Exception ex)
            {
                RecordFailure(Stopwatch.GetElapsedTime(start).TotalSeconds, ex);
                throw;
            }
        }
        finally
        {
            Exit();
        }
    }

    private void Enter()
    {
        Interlocked.Increment(ref _active);
        if (Volatile.Read(ref _disposed) != 0)
        {
            Exit();
            throw new ObjectDisposedException(
                nameof(OnnxRuntimeInferenceSession),
                $"The inference session for {_modelDescription} has been disposed. Create a new session with IInferenceSessionFactory, or run through IInferenceSessionPool.");
        }
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _disposed) != 0)
        {
            Release();
        }
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            for (int i = 0; i < _slots.Length; i++)
            {
                Interlocked.Exchange(ref _slots[i], null)?.Dispose();
            }

            _session.Dispose();
            _runOptions.Dispose();
        }
    }

    private NamedTensor[] RunCore(IReadOnlyList<NamedTensor> inputs)
    {
        int count = _inputs.Length;
        Tensor[] ordered = ArrayPool<Tensor>.Shared.Rent(count);
        try
        {
            Span<int> order = count <= 32 ? stackalloc int[count] : new int[count];
            Validate(inputs, order);
            for (int k = 0; k < count; k++)
            {
                ordered[k] = inputs[order[k]].Value;
            }

            return RunValidated(ordered);
        }
        finally
        {
            ArrayPool<Tensor>.Shared.Return(ordered, clearArray: true);
        }
    }

    private void Validate(IReadOnlyList<NamedTensor> inputs, Span<int> order)
    {
        int inputCount = _inputs.Length;
        order.Fill(-1);
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

    private NamedTensor[] RunValidated(Tensor[] ordered)
    {
        int inputCount = _inputs.Length;

        // The slot also holds the arrays of input values and pins, so a run allocates none of its own.
        OutputSlot slot = RentSlot();
        OrtValue[] inputValues = slot.InputValues;
        MemoryHandle[] pins = slot.Pins;
        int created = 0;
        try
        {
            for (int k = 0; k < inputCount; k++)
            {
                inputValues[k] = OrtTensors.CreateInput(ordered[k], InputShape(k, ordered[k].Shape), out pins[k]);
                created = k + 1;
            }

            int binding = Volatile.Read(ref _outputBinding);
            if (binding == Bindable && ordered[0].Shape.Length > 0)
            {
                try
                {
                    return RunIntoPreallocated(slot, inputValues, ordered[0].Shape[0]);
                }
                catch (OnnxRuntimeException)
                {
                    // An output's shape did not follow the batch dimension after all (a data-dependent shape):
                    // stop preallocating for this session and run again with outputs ONNX Runtime allocates.
                    Volatile.Write(ref _outputBinding, NotBindable);
                }
            }

            NamedTensor[] results = RunAllocating(inputValues);
            if (binding == Unknown)
            {
                Volatile.Write(ref _outputBinding, FollowsBatch(results, ordered) ? Bindable : NotBindable);
            }

            return results;
        }
        catch (OnnxRuntimeException ex)
        {
            throw OnnxRuntimeErrors.Wrap(ex, "run", _modelDescription);
        }
        finally
        {
            for (int k = 0; k < created; k++)
            {
                inputValues[k].Dispose();
                inputValues[k] = null!;
                pins[k].Dispose();
                pins[k] = default;
            }

            ReturnSlot(slot);
        }
    }

    /// <summary>
    /// Runs into the output buffers of <paramref name="slot"/> (pinned, bound as <see cref="OrtValue"/>s to the slot's
    /// <see cref="OrtIoBinding"/> while the batch size stays the same) and copies each output into a new array the caller
    /// owns: one copy of the result instead of creating and releasing a native output value around a new array on every
    /// call. The inputs are bound for this run only. Running through the binding (ONNX Runtime's I/O binding,
    /// <c>RunWithBinding</c>) skips the per-call marshalling and look-up of every input and output name that
    /// <c>Run(RunOptions, names, values, names, values)</c> does: about 0.8 µs per call at batch 1 on the quick start's MLP.
    /// </summary>
    private NamedTensor[] RunIntoPreallocated(OutputSlot slot, OrtValue[] inputValues, long batch)
    {
        OrtIoBinding binding = slot.Bind(batch);
        try
        {
            for (int k = 0; k < inputValues.Length; k++)
            {
                binding.BindInput(_inputNames[k], inputValues[k]);
            }

            _session.RunWithBinding(_runOptions, binding);
        }
        finally
        {
            // The inputs are the caller's memory, pinned for this run only: the binding must not keep them.
            binding.ClearBoundInputs();
        }

        var results = new NamedTensor[_outputs.Length];
        for (int k = 0; k < results.Length; k++)
        {
            TensorSpec spec = _outputs[k];
            results[k] = new NamedTensor(spec.Name, OrtTensors.Copy(spec.ElementType, OutputShape(k, batch), slot.Bytes(k)));
        }

        return results;
    }

    private OutputSlot RentSlot()
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            OutputSlot? slot = Interlocked.Exchange(ref _slots[i], null);
            if (slot is not null)
            {
                return slot;
            }
        }

        return new OutputSlot(_session, _inputs.Length, _outputs, _outputDims);
    }

    private void ReturnSlot(OutputSlot slot)
    {
        for (int i = 0; i < _slots.Length; i++)
        {
            if (Interlocked.CompareExchange(ref _slots[i], slot, null) is null)
            {
                return;
            }
        }

        slot.Dispose(); // more runs than slots were in flight: keep the ones already parked
    }

    /// <summary>
    /// Returns <paramref name="shape"/> (the shape of input <paramref name="k"/> of this run) as an array: the array of the
    /// last shape seen for that input when it is equal, so a steady stream of same-shaped requests allocates none (the
    /// array is never changed once published; ONNX Runtime copies it when it creates the value).
    /// </summary>
    private long[] InputShape(int k, ReadOnlySpan<long> shape)
    {
        long[]? cached = Volatile.Read(ref _inputShapes[k]);
        if (cached is not null && shape.SequenceEqual(cached))
        {
            return cached;
        }

        cached = shape.ToArray();
        Volatile.Write(ref _inputShapes[k], cached);
        return cached;
    }

    /// <summary>
    /// Returns the shape of output <paramref name="k"/> for <paramref name="batch"/> rows. The array of the last batch size
    /// is kept and shared by the result tensors of every run with that size (tensors never change their shape array).
    /// </summary>
    private long[] OutputShape(int k, long batch)
    {
        long[]? cached = Volatile.Read(ref _outputShapes[k]);
        if (cached is not null && cached[0] == batch)
        {
            return cached;
        }

        long[] dims = _outputDims[k];
        long[] shape = new long[dims.Length];
        for (int d = 0; d < shape.Length; d++)
        {
            shape[d] = dims[d] < 0 ? batch : dims[d];
        }

        Volatile.Write(ref _outputShapes[k], shape);
        return shape;
    }

    private NamedTensor[] RunAllocating(OrtValue[] inputValues)
    {
        using IDisposableReadOnlyCollection<OrtValue> outputs = _session.Run(_runOptions, _inputNames, inputValues, _outputNames);
        var results = new NamedTensor[_outputs.Length];
        int k = 0;
        foreach (OrtValue value in outputs)
        {
            results[k] = new NamedTensor(_outputNames[k], OrtTensors.ReadOutput(value, _outputNames[k], _modelDescription));
            k++;
        }

        return results;
    }

    private bool FollowsBatch(NamedTensor[] results, Tensor[] ordered)
    {
        long batch = ordered[0].Shape.Length > 0 ? ordered[0].Shape[0] : -1;
        if (batch < 0)
        {
            return false;
        }

        for (int k = 0; k < results.Length; k++)
        {
            ReadOnlySpan<long> actual = results[k].Value.Shape;
            TensorSpec spec = _outputs[k];
            if (actual.Length != spec.Shape.Count)
            {
                return false;
            }

            for (int d = 0; d < actual.Length; d++)
            {
                long expected = spec.Shape[d] < 0 ? batch : spec.Shape[d];
                if (actual[d] != expected)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private void RecordFailure(double seconds, Exception exception)
    {
        var tags = new KeyValuePair<string, object?>[_successTags.Length + 1];
        _successTags.CopyTo(tags, 0);
        tags[^1] = new(ServingMetrics.ErrorTypeTag, exception.GetType().FullName);
        _metrics.InferenceDuration.Record(seconds, tags);
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

    /// <summary>
    /// Pinned output buffers of one run at a time, with the <see cref="OrtValue"/>s over them for the last batch size bound
    /// as the outputs of the slot's own <see cref="OrtIoBinding"/> (a binding is used by one run at a time), and that run's
    /// arrays of input values and pins. A run rents a slot exclusively; buffers grow to the largest batch seen.
    /// </summary>
    private sealed class OutputSlot(InferenceSession session, int inputCount, TensorSpec[] outputs, long[][] dims) : IDisposable
    {
        private OrtIoBinding? _binding;

        /// <summary>Gets the array of input values of the run that holds the slot (filled and cleared by that run).</summary>
        public OrtValue[] InputValues { get; } = new OrtValue[inputCount];

        /// <summary>Gets the pins of the inputs of the run that holds the slot (filled and cleared by that run).</summary>
        public MemoryHandle[] Pins { get; } = new MemoryHandle[inputCount];

        private readonly byte[]?[] _buffers = new byte[]?[outputs.Length];
        private readonly int[] _lengths = new int[outputs.Length];
        private readonly OrtValue[] _values = new OrtValue[outputs.Length];
        private long _batch = -1;

        /// <summary>
        /// Returns the slot's binding with its outputs bound for <paramref name="batch"/> rows, creating the output values
        /// (and growing the buffers) and binding them when the batch size changed.
        /// </summary>
        public unsafe OrtIoBinding Bind(long batch)
        {
            _binding ??= session.CreateIoBinding();
            if (batch == _batch)
            {
                return _binding;
            }

            DisposeValues();
            for (int k = 0; k < outputs.Length; k++)
            {
                long[] shape = new long[dims[k].Length];
                long count = 1;
                for (int d = 0; d < shape.Length; d++)
                {
                    shape[d] = dims[k][d] < 0 ? batch : dims[k][d];
                    count = checked(count * shape[d]);
                }

                int length = checked((int)(count * ElementSize(outputs[k].ElementType)));
                byte[]? buffer = _buffers[k];
                if (buffer is null || buffer.Length < Math.Max(length, 1))
                {
                    buffer = GC.AllocateUninitializedArray<byte>(Math.Max(length, 1), pinned: true);
                    _buffers[k] = buffer;
                }

                _lengths[k] = length;
                _values[k] = OrtValue.CreateTensorValueWithData(
                    OrtMemoryInfo.DefaultInstance,
                    (Microsoft.ML.OnnxRuntime.Tensors.TensorElementType)(int)outputs[k].ElementType,
                    shape,
                    (IntPtr)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.InteropServices.MemoryMarshal.GetArrayDataReference(buffer)),
                    length);
                _binding.BindOutput(outputs[k].Name, _values[k]);
            }

            _batch = batch;
            return _binding;
        }

        /// <summary>Returns the bytes output <paramref name="k"/> filled in the last run.</summary>
        public ReadOnlySpan<byte> Bytes(int k) => _buffers[k].AsSpan(0, _lengths[k]);

        public void Dispose()
        {
            DisposeValues();
            _binding?.Dispose();
            _binding = null;
        }

        private void DisposeValues()
        {
            _binding?.ClearBoundOutputs();
            for (int k = 0; k < _values.Length; k++)
            {
                _values[k]?.Dispose();
                _values[k] = null!;
            }

            _batch = -1;
        }

        private static int ElementSize(TensorElementType type) => type switch
        {
            TensorElementType.Double or TensorElementType.Int64 or TensorElementType.UInt64 => 8,
            TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
            TensorElementType.Int16 or TensorElementType.UInt16 or TensorElementType.Float16 or TensorElementType.BFloat16 => 2,
            TensorElementType.Int8 or TensorElementType.UInt8 or TensorElementType.Bool => 1,
            _ => throw new NotSupportedException($"Element type {type} has no fixed size."),
        };
    }
}
