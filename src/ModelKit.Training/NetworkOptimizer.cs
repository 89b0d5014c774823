using ModelKit.Training.Interop;

namespace ModelKit.Training;

/// <summary>
/// A libtorch optimizer (Adam or SGD) over one <see cref="SequentialNetwork"/>'s parameters, holding its state
/// (Adam's moment estimates, SGD's momentum buffers). Create one with <see cref="SequentialNetwork.CreateOptimizer"/>
/// and pass it to <see cref="SequentialNetwork.TrainStep"/>.
/// </summary>
/// <remarks>Thread-safe: calls are serialised with the network's. The caller disposes it; disposing twice is harmless.</remarks>
public sealed class NetworkOptimizer : IDisposable
{
    private readonly OptimizerSafeHandle _handle;
    private double _learningRate;
    private bool _disposed;

    internal NetworkOptimizer(SequentialNetwork network, OptimizerSafeHandle handle, OptimizerSettings settings)
    {
        Network = network;
        _handle = handle;
        Settings = settings;
        _learningRate = settings.LearningRate;
    }

    /// <summary>Gets the network whose parameters this optimizer updates.</summary>
    public SequentialNetwork Network { get; }

    /// <summary>Gets the settings the optimizer was created with (<see cref="LearningRate"/> may have changed since).</summary>
    public OptimizerSettings Settings { get; }

    /// <summary>Gets or sets the learning rate of every parameter group, for schedules that change it between steps.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not finite or not greater than 0.</exception>
    /// <exception cref="ObjectDisposedException">The optimizer was disposed.</exception>
    /// <exception cref="NativeEngineException">libtorch failed.</exception>
    public double LearningRate
    {
        get
        {
            lock (Network.Gate)
            {
                return _learningRate;
            }
        }

        set
        {
            if (!double.IsFinite(value) || value <= 0)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, $"The learning rate is {OptimizerSettings.Format(value)}; it must be a finite number greater than 0.");
            }

            lock (Network.Gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                TorchLibrary.ThrowIfFailed(MkTraining.SetLearningRate(_handle, value), "mk_optimizer_set_learning_rate");
                _learningRate = value;
            }
        }
    }

    /// <summary>Releases the native optimizer and its state. Safe to call more than once.</summary>
    public void Dispose()
    {
        lock (Network.Gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _handle.Dispose();
        }
    }

    /// <summary>Returns the handle for a call made under the network's lock.</summary>
    internal OptimizerSafeHandle GetHandle()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _handle;
    }
}
