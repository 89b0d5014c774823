using System.Globalization;
using System.Runtime.InteropServices;
using ModelKit.Onnx;
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
    private bool _disposed;

    private SequentialNetwork(NetworkSafeHandle handle, NetworkSpec spec, TensorSpec input, long seed, ParameterLayout[] parameters)
    {
        _handle = handle;
        _parameters = parameters;
        Layers = Array.AsReadOnly(spec.Layers);
        Input = input;
        ClassCount = spec.OutputFeatures;
        Output = new TensorSpec("logits", TensorElementType.Float, [input.Shape[0], spec.OutputFeatures]);
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

    /// <summary>Gets the output spec: float32 logits named <c>logits</c>, shape <c>[N, ClassCount]</c>.</summary>
    public TensorSpec Output { get; }

    /// <summary>Gets the number of classes (the last Linear layer's output features).</summary>
    public int ClassCount { get; }

    /// <summary>Gets the seed the parameters were initialised with (and the dropout generator's seed).</summary>
    public long Seed { get; }

    /// <summary>Gets the number of trainable scalars (the sum of every parameter's element count).</summary>
    public long ParameterCount { get; }

    internal Lock Gate { get; } = new();

    internal NetworkSafeHandle Handle => _handle;

    /// <summary>Creates an optimizer over this network's parameters.</summary>
    /// <param name="settings">The algorithm and hyper-parameters.</param>
    /// <returns>The optimizer, bound to this network; the caller disposes it.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="settings"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A setting is out of range; the message quotes it.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public NetworkOptimizer CreateOptimizer(OptimizerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        lock (Gate)
        {
            ThrowIfDisposed();
            int status;
            OptimizerSafeHandle handle;
            string operation;
            if (settings.Kind == OptimizerKind.Adam)
            {
                operation = "mk_optimizer_create_adam";
                status = MkTraining.CreateAdam(_handle, settings.LearningRate, settings.Beta1, settings.Beta2, settings.Epsilon, settings.WeightDecay, out handle);
            }
            else
            {
                operation = "mk_optimizer_create_sgd";
                status = MkTraining.CreateSgd(_handle, settings.LearningRate, settings.Momentum, settings.WeightDecay, out handle);
            }

            if (status != 0)
            {
                handle.Dispose();
                TorchLibrary.ThrowIfFailed(status, operation);
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
        lock (Gate)
        {
            ThrowIfDisposed();
            OptimizerSafeHandle optimizerHandle = optimizer.GetHandle();
            int status;
            float loss;
            fixed (float* pFeatures = features)
            fixed (long* pShape = shape)
            fixed (long* pLabels = labels)
            {
                status = MkTraining.TrainStep(_handle, optimizerHandle, pFeatures, features.Length, pShape, shape.Length, pLabels, labels.Length, out loss);
            }

            TorchLibrary.ThrowIfFailed(status, "mk_network_train_step");
            return loss;
        }
    }

    /// <summary>Computes class logits in eval mode (dropout off) without recording gradients (<c>torch::NoGradGuard</c>).</summary>
    /// <param name="features">The batch, float32 row-major, <c>product(shape)</c> values; read during the call only.</param>
    /// <param name="shape">The batch shape, for example <c>[1000, 1, 28, 28]</c>; must fit <see cref="Input"/>.</param>
    /// <param name="logits">Receives the logits, float32 <c>[N, ClassCount]</c> row-major; must hold at least <c>N · ClassCount</c> values (the rest is left untouched).</param>
    /// <exception cref="ArgumentException"><paramref name="shape"/> does not fit <see cref="Input"/>, or <paramref name="logits"/> is too small; the message gives the sizes.</exception>
    /// <exception cref="NativeEngineException">The shim or libtorch rejected the call (for example the feature count does not match the shape).</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    public unsafe void Forward(ReadOnlySpan<float> features, ReadOnlySpan<long> shape, Span<float> logits)
    {
        CheckShape(shape);
        long needed = checked(shape[0] * ClassCount);
        if (logits.Length < needed)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture,
                    $"The logits buffer holds {logits.Length} floats but the output for a batch of shape {TensorSpec.FormatShape(shape)} is [{shape[0]}, {ClassCount}] = {needed} floats; pass a buffer of at least {needed}."),
                nameof(logits));
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
    /// Writes the network as an ONNX model (<c>ModelProto</c>) with the current parameters as initializers: one
    /// graph input named and shaped as <see cref="Input"/>, one output <c>logits</c> <c>[N, ClassCount]</c>; Linear
    /// becomes <c>Gemm</c> (<c>transB=1</c>), ReLU <c>Relu</c>, Flatten <c>Flatten</c> (<c>axis=1</c>), and Dropout
    /// is dropped (the identity at inference). Built by ModelKit.Onnx's <c>SequentialModelExporter</c>.
    /// </summary>
    /// <param name="destination">A writable stream; the caller keeps ownership.</param>
    /// <param name="opset">The ONNX default-domain opset to declare.</param>
    /// <param name="metadata">Optional <c>metadata_props</c> entries stored in the model, for example a training run id.</param>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">
    /// The opset is outside <c>SequentialModelExporter.MinOpset</c> to <c>MaxOpset</c> (13 to 23), <see cref="Input"/> has a dynamic
    /// (<c>-1</c>) dimension other than the batch dimension (the exporter needs them fixed), or <paramref name="destination"/> is not writable.
    /// </exception>
    /// <exception cref="IOException">Writing to <paramref name="destination"/> failed.</exception>
    /// <exception cref="ObjectDisposedException">The network was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed while the parameters were copied out.</exception>
    public void ExportOnnx(Stream destination, int opset = 17, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        IReadOnlyList<NamedParameter> parameters = GetParameters();
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
            return new SequentialNetwork(handle, spec, input, seed, ReadLayout(handle));
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    internal void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static unsafe ParameterLayout[] ReadLayout(NetworkSafeHandle handle)
    {
        TorchLibrary.ThrowIfFailed(MkNetwork.ParameterCount(handle, out long count), "mk_network_parameter_count");
        var layout = new ParameterLayout[count];
        long* shape = stackalloc long[MkNetwork.MaxRank];
        for (int i = 0; i < layout.Length; i++)
        {
            TorchLibrary.ThrowIfFailed(
                MkNetwork.ParameterInfo(handle, i, out nint name, shape, MkNetwork.MaxRank, out long rank, out long numel),
                "mk_network_parameter_info");
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
