using System.Globalization;
using System.Runtime.InteropServices;
using ModelKit.Training.Distributed;
using ModelKit.Training.Internal;
using ModelKit.Training.Interop;

namespace ModelKit.Training;

/// <summary>
/// A feed-forward network held by libtorch: PyTorch's <c>nn.Sequential</c> of the given layers, trained with
/// cross-entropy over class logits. Create one with <see cref="Trainer.CreateNetwork"/>.
/// </summary>
/// <remarks>
/// <para>
/// Tensors cross the boundary as float32 row-major features of shape <c>[N, …]</c> fitting <see cref="Input"/>,
/// int64 labels of shape <c>[N]</c>, and float32 logits of shape <c>[N, <see cref="ClassCount"/>]</c>.
/// </para>
/// <para>
/// Thread-safety: every member may be called from any thread; calls on one network (and its optimizers) are
/// serialised by an internal lock, so concurrent calls wait for each other. Different networks run in parallel.
/// </para>
/// <para>Ownership: the network owns its native libtorch module; dispose it (disposing twice is harmless).</para>
/// </remarks>
public sealed class SequentialNetwork : IDisposable
{
    private readonly NetworkSafeHandle _handle;
    private readonly ParameterLayout[] _parameters;
    private readonly ParameterLayout[] _buffers;
    private bool _disposed;

    private SequentialNetwork(NetworkSafeHandle handle, NetworkSpec spec, TensorSpec input, long seed, ParameterLayout[] parameters, ParameterLayout[] buffers)
    {
        _handle = handle;
        _parameters = parameters;
        _buffers = buffers;
        Spec = spec;
        Layers = Array.AsReadOnly(spec.Layers);
        Input = input;
        ClassCount = spec.OutputFeatures;
        long[] outputShape = [.. spec.OutputShape];
        outputShape[0] = input.Shape[0];
        Output = new TensorSpec("logits", TensorElementType.Float, outputShape);
        long perSample = 1;
        for (int d = 1; d < outputShape.Length; d++)
        {
            perSample = outputShape[d] < 0 || perSample < 0 ? -1 : checked(perSample * outputShape[d]);
        }

        OutputSampleSize = perSample;
        Seed = seed;
        long total = 0;
        foreach (ParameterLayout p in parameters)
        {
            total += p.Numel;
        }

        ParameterCount = total;
    }

    /// <summary>Gets the layers, in order; layer <c>i</c>'s parameters are named <c>i.weight</c> and <c>i.bias</c>.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>Gets the input spec: float32, batch dimension first, for example <c>input: Float [-1, 1, 28, 28]</c>.</summary>
    public TensorSpec Input { get; }

    /// <summary>Gets the output spec: float32, named <c>logits</c>, shape as the layers produce it, for example <c>[N, ClassCount]</c>.</summary>
    public TensorSpec Output { get; }

    /// <summary>Gets the number of classes for cross-entropy: the second dimension of a rank-2 output; 0 when the output is not <c>[N, C]</c>.</summary>
    public int ClassCount { get; }

    /// <summary>Gets the number of output values per sample (the product of the output's non-batch dimensions); −1 when one of them is dynamic.</summary>
    public long OutputSampleSize { get; }

    /// <summary>Gets the seed the parameters were initialised with (and the dropout generator's seed).</summary>
    public long Seed { get; }

    /// <summary>Gets the number of trainable scalars (the sum of every parameter's element count).</summary>
    public long ParameterCount { get; }

    internal Lock Gate { get; } = new();

    internal NetworkSpec Spec { get; }

    internal NetworkSafeHandle Handle => _handle;

    /// <summary>Creates an optimizer over this network's parameters.</summary>
    /// <param name="settings">The algorithm and hyper-parameters.</param>
    /// <returns>The optimizer, bound to this network; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A setting is out of range; the message quotes it.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public unsafe NetworkOptimizer CreateOptimizer(OptimizerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        lock (Gate)
        {
            ThrowIfDisposed();
            var args = new MkTraining.OptimizerArgs
            {
                Kind = settings.Kind switch
                {
                    OptimizerKind.Adam => MkTraining.OptimizerAdam,
                    OptimizerKind.AdamW => MkTraining.OptimizerAdamW,
                    _ => MkTraining.OptimizerSgd,
                },
                LearningRate = settings.LearningRate,
                Momentum = settings.Momentum,
                Dampening = settings.Dampening,
                Nesterov = settings.Nesterov ? 1 : 0,
                Beta1 = settings.Beta1,
                Beta2 = settings.Beta2,
                Epsilon = settings.Epsilon,
                WeightDecay = settings.WeightDecay,
            };
            int status = MkTraining.Create(_handle, &args, out OptimizerSafeHandle handle);
            if (status != 0)
            {
                handle.Dispose();
                TorchLibrary.ThrowIfFailed(status, "mk_optimizer_create");
            }

            return new NetworkOptimizer(this, handle, settings);
        }
    }

    /// <summary>
    /// Runs one optimizer step on a mini-batch: train mode (dropout active), zero the gradients, forward, mean
    /// cross-entropy of the logits against <paramref name="labels"/> (PyTorch's <c>F.cross_entropy</c>), backward, step.
    /// </summary>
    /// <param name="optimizer">An optimizer created by <see cref="CreateOptimizer"/> on this network.</param>
    /// <param name="features">The batch, float32 row-major, <c>product(shape)</c> values; read during the call only.</param>
    /// <param name="shape">The batch shape, for example <c>[32, 1, 28, 28]</c>; must fit <see cref="Input"/>.</param>
    /// <param name="labels">One int64 class index per sample, <c>[N]</c>, each in <c>[0, ClassCount)</c>.</param>
    /// <returns>The mean cross-entropy (natural log) of the batch, computed before the update.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="optimizer"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="shape"/> does not fit <see cref="Input"/>, or <paramref name="optimizer"/> belongs to another network.</exception>
    /// <exception cref="NativeEngineException">
    /// The shim or libtorch rejected the batch (the feature count does not match the shape, the label count does not
    /// match the batch, a label is out of range, or libtorch failed); the message carries their text. The network is
    /// unchanged and can keep training.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The network or the optimizer was disposed.</exception>
    public unsafe float TrainStep(NetworkOptimizer optimizer, ReadOnlySpan<float> features, ReadOnlySpan<long> shape, ReadOnlySpan<long> labels)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!ReferenceEquals(optimizer.Network, this))
        {
            throw new ArgumentException("The optimizer was created on another network; create one with this network's CreateOptimizer.", nameof(optimizer));
        }

        CheckShape(shape);
        var args = new MkTraining.StepArgs { LossKind = MkTraining.LossCrossEntropy, LossScale = 1, ZeroGrad = 1, Step = 1 };
        fixed (long* pLabels = labels)
        {
            return Step(optimizer, null, ref args, features, shape, pLabels, labels.Length);
        }
    }

    /// <summary>
    /// The general step behind <see cref="TrainStep"/> and the trainer: loss, accumulation, clipping and (with a process group)
    /// the bucketed gradient all-reduce, as <paramref name="args"/> says. <paramref name="targets"/> points at int64 labels or
    /// float32 targets, <paramref name="targetCount"/> elements, pinned by the caller.
    /// </summary>
    internal unsafe float Step(NetworkOptimizer optimizer, ProcessGroup? group, ref MkTraining.StepArgs args, ReadOnlySpan<float> features, ReadOnlySpan<long> shape, void* targets, long targetCount)
    {
        lock (Gate)
        {
            ThrowIfDisposed();
            OptimizerSafeHandle optimizerHandle = optimizer.GetHandle();
            bool added = false;
            int status;
            float loss;
            try
            {
                nint groupHandle = 0;
                if (group is not null)
                {
                    group.Handle.DangerousAddRef(ref added);
                    groupHandle = group.Handle.DangerousGetHandle();
                }

                fixed (float* pFeatures = features)
                fixed (long* pShape = shape)
                fixed (MkTraining.StepArgs* pArgs = &args)
                {
                    status = MkTraining.TrainStepEx(_handle, optimizerHandle, groupHandle, pArgs, pFeatures, features.Length, pShape, shape.Length, targets, targetCount, out loss);
                }
            }
            finally
            {
                if (added)
                {
                    group!.Handle.DangerousRelease();
                }
            }

            TorchLibrary.ThrowIfFailed(status, "mk_network_train_step_ex");
            return loss;
        }
    }

    /// <summary>Reseeds the dropout generator (the trainer derives the seed from the run seed, the rank and the step).</summary>
    internal void SetDropoutSeed(ulong seed)
    {
        lock (Gate)
        {
            ThrowIfDisposed();
            TorchLibrary.ThrowIfFailed(MkNetwork.SetDropoutSeed(_handle, seed), "mk_network_set_dropout_seed");
        }
    }

    /// <summary>Serialises parameters, buffers and the optimizer's state (libtorch archive bytes).</summary>
    internal unsafe byte[] SaveState(NetworkOptimizer? optimizer)
    {
        lock (Gate)
        {
            ThrowIfDisposed();
            nint optimizerHandle = optimizer is null ? 0 : optimizer.GetHandle().DangerousGetHandle();
            int status = MkTraining.CheckpointSave(_handle, optimizerHandle, out NativeBufferSafeHandle buffer);
            using (buffer)
            {
                TorchLibrary.ThrowIfFailed(status, "mk_checkpoint_save");
                TorchLibrary.ThrowIfFailed(MkTraining.BufferData(buffer, out byte* data, out long size), "mk_buffer_data");
                return new ReadOnlySpan<byte>(data, checked((int)size)).ToArray();
            }
        }
    }

    /// <summary>Restores what <see cref="SaveState"/> wrote; a mismatched archive is a <see cref="NativeEngineException"/> naming the tensor.</summary>
    internal unsafe void LoadState(NetworkOptimizer? optimizer, ReadOnlySpan<byte> state)
    {
        lock (Gate)
        {
            ThrowIfDisposed();
            nint optimizerHandle = optimizer is null ? 0 : optimizer.GetHandle().DangerousGetHandle();
            fixed (byte* pState = state)
            {
                TorchLibrary.ThrowIfFailed(MkTraining.CheckpointLoad(_handle, optimizerHandle, pState, state.Length), "mk_checkpoint_load");
            }
        }
    }

    /// <summary>Copies every float32 buffer (BatchNorm <c>running_mean</c>, <c>running_var</c>) out of libtorch.</summary>
    /// <returns>New arrays owned by the caller, in libtorch's order; empty when the network has no buffers.</returns>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public unsafe IReadOnlyList<NamedParameter> GetBuffers()
    {
        var result = new NamedParameter[_buffers.Length];
        lock (Gate)
        {
            ThrowIfDisposed();
            for (int i = 0; i < _buffers.Length; i++)
            {
                ParameterLayout layout = _buffers[i];
                float[] data = new float[layout.Numel];
                int status;
                fixed (float* pData = data)
                {
                    status = MkNetwork.BufferRead(_handle, i, pData, data.Length);
                }

                TorchLibrary.ThrowIfFailed(status, "mk_network_buffer_read");
                result[i] = new NamedParameter(layout.Name, data, (long[])layout.Shape.Clone());
            }
        }

        return result;
    }

    /// <summary>Computes class logits in eval mode (dropout off) without recording gradients (<c>torch::NoGradGuard</c>).</summary>
    /// <param name="features">The batch, float32 row-major, <c>product(shape)</c> values; read during the call only.</param>
    /// <param name="shape">The batch shape, for example <c>[1000, 1, 28, 28]</c>; must fit <see cref="Input"/>.</param>
    /// <param name="logits">Receives the output, float32 row-major (for a classifier <c>[N, ClassCount]</c>); must hold at least <c>N · OutputSampleSize</c> values (the rest is left untouched).</param>
    /// <exception cref="ArgumentException"><paramref name="shape"/> does not fit <see cref="Input"/>, or <paramref name="logits"/> is too small; the message gives the sizes.</exception>
    /// <exception cref="NativeEngineException">The shim or libtorch rejected the call (for example the feature count does not match the shape).</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public unsafe void Forward(ReadOnlySpan<float> features, ReadOnlySpan<long> shape, Span<float> logits)
    {
        CheckShape(shape);
        if (OutputSampleSize > 0)
        {
            long needed = checked(shape[0] * OutputSampleSize);
            if (logits.Length < needed)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture,
                        $"The logits buffer holds {logits.Length} floats but the output for a batch of shape {TensorSpec.FormatShape(shape)} is {shape[0]} × {OutputSampleSize} = {needed} floats; pass a buffer of at least {needed}."),
                    nameof(logits));
            }
        }

        Span<long> outShape = stackalloc long[MkNetwork.MaxRank];
        lock (Gate)
        {
            ThrowIfDisposed();
            int status;
            fixed (float* pFeatures = features)
            fixed (long* pShape = shape)
            fixed (float* pLogits = logits)
            fixed (long* pOutShape = outShape)
            {
                status = MkNetwork.Forward(_handle, pFeatures, features.Length, pShape, shape.Length, pLogits, logits.Length, pOutShape, outShape.Length, out _);
            }

            TorchLibrary.ThrowIfFailed(status, "mk_network_forward");
        }
    }

    /// <summary>Copies every parameter out of libtorch, in <c>named_parameters()</c> order (<c>0.weight</c>, <c>0.bias</c>, <c>2.weight</c>, …).</summary>
    /// <returns>New arrays owned by the caller; later training does not change them.</returns>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public unsafe IReadOnlyList<NamedParameter> GetParameters()
    {
        var result = new NamedParameter[_parameters.Length];
        lock (Gate)
        {
            ThrowIfDisposed();
            for (int i = 0; i < _parameters.Length; i++)
            {
                ParameterLayout layout = _parameters[i];
                float[] data = new float[layout.Numel];
                int status;
                fixed (float* pData = data)
                {
                    status = MkNetwork.ParameterRead(_handle, i, pData, data.Length);
                }

                TorchLibrary.ThrowIfFailed(status, "mk_network_parameter_read");
                result[i] = new NamedParameter(layout.Name, data, (long[])layout.Shape.Clone());
            }
        }

        return result;
    }

    /// <summary>
    /// Overwrites the parameters with <paramref name="parameters"/> (for example ones saved from <see cref="GetParameters"/>).
    /// Every parameter of the network must be given once, by name, with its exact shape; optimizer state is not changed.
    /// </summary>
    /// <param name="parameters">The values; copied during the call.</param>
    /// <exception cref="ArgumentNullException"><paramref name="parameters"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A name is unknown, missing or repeated, or a shape or length differs; nothing is changed.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public unsafe void LoadParameters(IReadOnlyList<NamedParameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var byIndex = new NamedParameter?[_parameters.Length];
        foreach (NamedParameter? p in parameters)
        {
            if (p is null)
            {
                throw new ArgumentException("A parameter entry is null.", nameof(parameters));
            }

            int index = Array.FindIndex(_parameters, l => l.Name == p.Name);
            if (index < 0)
            {
                throw new ArgumentException($"Parameter '{p.Name}' does not exist in this network; its parameters are {string.Join(", ", _parameters.Select(l => l.Name))}.", nameof(parameters));
            }

            if (byIndex[index] is not null)
            {
                throw new ArgumentException($"Parameter '{p.Name}' is given more than once.", nameof(parameters));
            }

            ParameterLayout layout = _parameters[index];
            if (p.Shape is null || p.Data is null || !p.Shape.AsSpan().SequenceEqual(layout.Shape) || p.Data.Length != layout.Numel)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture,
                        $"Parameter '{p.Name}' has shape {(p.Shape is null ? "null" : TensorSpec.FormatShape(p.Shape))} and {p.Data?.Length ?? 0} values but the network's is {TensorSpec.FormatShape(layout.Shape)} with {layout.Numel} values."),
                    nameof(parameters));
            }

            byIndex[index] = p;
        }

        for (int i = 0; i < byIndex.Length; i++)
        {
            if (byIndex[i] is null)
            {
                throw new ArgumentException($"Parameter '{_parameters[i].Name}' is missing; give every parameter of the network.", nameof(parameters));
            }
        }

        lock (Gate)
        {
            ThrowIfDisposed();
            for (int i = 0; i < byIndex.Length; i++)
            {
                float[] data = byIndex[i]!.Data;
                int status;
                fixed (float* pData = data)
                {
                    status = MkNetwork.ParameterWrite(_handle, i, pData, data.Length);
                }

                TorchLibrary.ThrowIfFailed(status, "mk_network_parameter_write");
            }
        }
    }

    /// <summary>
    /// Writes the network as an ONNX model (<c>ModelProto</c>) with the current parameters and buffers as initializers:
    /// one graph input named and shaped as <see cref="Input"/>, one output <c>logits</c> shaped as <see cref="Output"/>;
    /// every layer maps to standard operators (see <see cref="SequentialModelExporter"/>), Dropout is dropped
    /// (the identity at inference) and BatchNorm uses its running statistics.
    /// </summary>
    /// <param name="destination">A writable stream; the caller keeps ownership.</param>
    /// <param name="opset">The ONNX default-domain opset to declare.</param>
    /// <param name="metadata">Optional <c>metadata_props</c> entries stored in the model, for example a training run id.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// The opset is outside <c>SequentialModelExporter.MinOpset</c> to <c>MaxOpset</c> (17 to 23), a dynamic (<c>-1</c>) dimension
    /// reaches a layer that needs it fixed, or <paramref name="destination"/> is not writable.
    /// </exception>
    /// <exception cref="IOException">Writing to <paramref name="destination"/> failed.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed while the parameters were copied out.</exception>
    public void ExportOnnx(Stream destination, int opset = 17, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        IReadOnlyList<NamedParameter> parameters = [.. GetParameters(), .. GetBuffers()];
        var onnxParameters = new OnnxParameter[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            onnxParameters[i] = new OnnxParameter(parameters[i].Name, parameters[i].Data, parameters[i].Shape);
        }

        var request = new SequentialExportRequest(Layers, onnxParameters, Input)
        {
            Opset = opset,
            Metadata = metadata ?? new Dictionary<string, string>(),
        };
        SequentialModelExporter.Export(request, destination);
    }

    /// <summary>Releases the native module. Safe to call more than once; later calls on the network throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _handle.Dispose();
        }
    }

    /// <summary>Creates the native network after <see cref="NetworkSpec.Create"/> validated the spec.</summary>
    internal static unsafe SequentialNetwork Create(NetworkSpec spec, TensorSpec input, long seed)
    {
        NetworkSafeHandle handle;
        int status;
        fixed (int* pKinds = spec.Kinds)
        fixed (long* pInts = spec.IntArgs)
        fixed (double* pReals = spec.RealArgs)
        {
            status = MkNetwork.Create(pKinds, pInts, pReals, spec.Kinds.Length, unchecked((ulong)seed), out handle);
        }

        if (status != 0)
        {
            handle.Dispose();
            TorchLibrary.ThrowIfFailed(status, "mk_network_create");
        }

        try
        {
            return new SequentialNetwork(handle, spec, input, seed, ReadLayout(handle, buffers: false), ReadLayout(handle, buffers: true));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static unsafe ParameterLayout[] ReadLayout(NetworkSafeHandle handle, bool buffers)
    {
        TorchLibrary.ThrowIfFailed(
            buffers ? MkNetwork.BufferCount(handle, out long count) : MkNetwork.ParameterCount(handle, out count),
            buffers ? "mk_network_buffer_count" : "mk_network_parameter_count");
        var layout = new ParameterLayout[count];
        long* shape = stackalloc long[MkNetwork.MaxRank];
        for (int i = 0; i < layout.Length; i++)
        {
            nint name;
            long rank;
            long numel;
            TorchLibrary.ThrowIfFailed(
                buffers
                    ? MkNetwork.BufferInfo(handle, i, out name, shape, MkNetwork.MaxRank, out rank, out numel)
                    : MkNetwork.ParameterInfo(handle, i, out name, shape, MkNetwork.MaxRank, out rank, out numel),
                buffers ? "mk_network_buffer_info" : "mk_network_parameter_info");
            layout[i] = new ParameterLayout(Marshal.PtrToStringUTF8(name) ?? string.Empty, new ReadOnlySpan<long>(shape, (int)rank).ToArray(), numel);
        }

        return layout;
    }

    private void CheckShape(ReadOnlySpan<long> shape)
    {
        if (!Input.Accepts(shape) || shape[0] < 1)
        {
            throw new ArgumentException(
                $"A batch of shape {TensorSpec.FormatShape(shape)} does not fit the network input '{Input.Name}' {TensorSpec.FormatShape(Input.Shape)}: " +
                "the rank and every fixed dimension must match, and the batch dimension must be 1 or greater. Reshape the batch or check the network's input spec.",
                nameof(shape));
        }

        for (int d = 1; d < shape.Length; d++)
        {
            if (shape[d] < 0)
            {
                throw new ArgumentException($"A batch of shape {TensorSpec.FormatShape(shape)} has a negative dimension; give concrete sizes.", nameof(shape));
            }
        }
    }

    private sealed record ParameterLayout(string Name, long[] Shape, long Numel);
}
