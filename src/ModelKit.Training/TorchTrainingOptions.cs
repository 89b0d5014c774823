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
}
