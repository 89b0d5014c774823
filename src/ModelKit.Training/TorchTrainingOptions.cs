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
    /// <remarks>
    /// ModelKit sets thread counts only through libtorch's API and never changes the environment of the running process
    /// (<c>setenv</c> while other threads run is unsafe in glibc). Start the process with <c>OMP_WAIT_POLICY=PASSIVE</c>
    /// (launch script, container spec; the DistributedTraining sample's launcher does it for its ranks): libgomp's default
    /// spin-waiting starves OpenBLAS's threads and measured 10-25x slower steps with 2 threads on 2 busy cores. A warning is
    /// logged when it is not set.
    /// </remarks>
    /// <value>The default is 0.</value>
    [Range(0, MaxThreadCount)]
    public int ThreadCount { get; set; }
}
