using System.ComponentModel.DataAnnotations;

namespace ModelKit.Training;

/// <summary>How ModelKit.Training loads and configures libtorch. Bound by <c>AddTraining()</c> and validated at start.</summary>
public sealed class TorchTrainingOptions
{
    /// <summary>The largest accepted <see cref="ThreadCount"/>.</summary>
    public const int MaxThreadCount = 1024;

    /// <summary>
    /// Gets or sets the path of the libtorch shim <c>libmodelkit_torch.so</c>. When <see langword="null"/>,
    /// the shim is loaded from <see cref="AppContext.BaseDirectory"/> and then from the loader's search path
    /// (<c>LD_LIBRARY_PATH</c>). A process loads one copy: every trainer must use the same path. The path is
    /// only read when the first network is created.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? LibraryPath { get; set; }

    /// <summary>
    /// Gets or sets the number of intra-op threads libtorch uses for matrix products and element-wise kernels
    /// (<c>at::set_num_threads</c>; process-wide). 0 means <see cref="Environment.ProcessorCount"/>.
    /// </summary>
    /// <value>The default is 0.</value>
    [Range(0, MaxThreadCount)]
    public int ThreadCount { get; set; }

    /// <summary>
    /// Gets or sets whether idle OpenMP threads sleep instead of spinning: when <see langword="true"/> and the
    /// environment variable <c>OMP_WAIT_POLICY</c> is not set, it is set to <c>PASSIVE</c> in the native process
    /// environment just before the shim is first loaded (libgomp reads it once, when it is loaded). With libgomp's
    /// default spinning, its idle threads compete with OpenBLAS's threads and with other processes for the cores;
    /// measured here, training steps of a 784-256-10 MLP on 2 busy cores ran 10 to 25 times slower.
    /// Has no effect once libgomp is loaded. Set <c>OMP_WAIT_POLICY</c> yourself to choose another policy.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool PassiveOpenMpWait { get; set; } = true;
}
