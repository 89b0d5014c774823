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
    /// (<c>setenv</c> while other threads run is unsafe in glibc). All intra-op parallelism runs on libtorch's OpenMP team:
    /// Linear's GEMMs go to oneDNN on that team and OpenBLAS is kept at one thread, so no second thread pool competes for
    /// the cores. With libgomp's default wait policy the team's idle threads spin briefly between the step's parallel
    /// regions, which is fastest on cores the process has to itself (the quick start's MLP: 1.9 ms per step of 256 against
    /// 2.4 ms with <c>OMP_WAIT_POLICY=PASSIVE</c>, 2 threads on 2 cores). Where processes share cores (more ranks times
    /// threads than cores), start them with <c>OMP_WAIT_POLICY=PASSIVE</c> (launch script, container spec; the
    /// DistributedTraining sample's launcher sets it for its ranks).
    /// </remarks>
    /// <value>The default is 0.</value>
    [Range(0, MaxThreadCount)]
    public int ThreadCount { get; set; }
}
