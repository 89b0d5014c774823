using System.ComponentModel.DataAnnotations;
using Microsoft.ML.OnnxRuntime;

namespace ModelKit.Serving;

/// <summary>
/// How ONNX Runtime sessions are configured: threads, graph optimization, memory arena and execution provider. Read for
/// each new session. Validated by <c>AddOnnxRuntimeServing()</c> at host start and by <see cref="OnnxRuntimeSessionFactory"/>;
/// no I/O happens while options are built. The native library comes from the application's ONNX Runtime package:
/// <c>Microsoft.ML.OnnxRuntime</c> (CPU) or <c>Microsoft.ML.OnnxRuntime.Gpu</c> (CUDA), version 1.31.0.
/// </summary>
public sealed class OnnxRuntimeOptions
{
    /// <summary>
    /// Gets or sets the number of threads one operator may use (<c>SessionOptions.IntraOpNumThreads</c>); 0 lets ONNX
    /// Runtime choose (one per physical core).
    /// </summary>
    /// <value>The default is 0.</value>
    [Range(0, 1024)]
    public int IntraOpThreadCount { get; set; }

    /// <summary>
    /// Gets or sets the number of threads that run independent operators in parallel (<c>SessionOptions.InterOpNumThreads</c>);
    /// 0 lets ONNX Runtime choose. Only used when the session runs in parallel execution mode.
    /// </summary>
    /// <value>The default is 0.</value>
    [Range(0, 1024)]
    public int InterOpThreadCount { get; set; }

    /// <summary>Gets or sets the graph optimizations applied when a model is loaded.</summary>
    /// <value>The default is <see cref="GraphOptimizationLevel.All"/>.</value>
    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.All;

    /// <summary>
    /// Gets or sets whether the CPU memory arena is used (<c>SessionOptions.EnableCpuMemArena</c>): faster repeated runs,
    /// at the cost of memory that is kept after a large request.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool EnableMemoryArena { get; set; } = true;

    /// <summary>Gets or sets the execution provider sessions run on.</summary>
    /// <value>The default is <see cref="ExecutionProvider.Cpu"/>.</value>
    public ExecutionProvider ExecutionProvider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>Gets or sets the CUDA device ordinal (<c>device_id</c>) used when <see cref="ExecutionProvider"/> is <see cref="ExecutionProvider.Cuda"/>.</summary>
    /// <value>The default is 0 (the first GPU).</value>
    [Range(0, int.MaxValue)]
    public int CudaDeviceId { get; set; }

    /// <summary>
    /// Gets or sets the most GPU memory, in bytes, that the CUDA execution provider's arena may take
    /// (<c>gpu_mem_limit</c>); 0 means no limit.
    /// </summary>
    /// <value>The default is 0.</value>
    [Range(0, long.MaxValue)]
    public long CudaMemoryLimitBytes { get; set; }

    /// <summary>Gets or sets how the CUDA arena grows (<c>arena_extend_strategy</c>).</summary>
    /// <value>The default is <see cref="CudaArenaExtendStrategy.NextPowerOfTwo"/>, ONNX Runtime's default.</value>
    public CudaArenaExtendStrategy CudaArenaExtendStrategy { get; set; } = CudaArenaExtendStrategy.NextPowerOfTwo;

    /// <summary>Gets or sets how cuDNN chooses convolution algorithms (<c>cudnn_conv_algo_search</c>).</summary>
    /// <value>The default is <see cref="CudnnConvolutionAlgorithmSearch.Exhaustive"/>, ONNX Runtime's default.</value>
    public CudnnConvolutionAlgorithmSearch CudnnConvolutionAlgorithmSearch { get; set; } = CudnnConvolutionAlgorithmSearch.Exhaustive;

    /// <summary>
    /// Gets or sets whether a session falls back to the CPU execution provider when <see cref="ExecutionProvider.Cuda"/> is
    /// requested but cannot be added (the CPU-only native package, missing CUDA or cuDNN libraries, no GPU). When
    /// <see langword="false"/>, loading the model throws <see cref="NativeEngineException"/> naming the package to
    /// install; when <see langword="true"/>, a warning is logged and the session runs on CPU (its results and metrics say
    /// <c>cpu</c>).
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool AllowCpuFallback { get; set; }

    /// <summary>
    /// Gets or sets the one escape hatch to ONNX Runtime's own API: a callback that may adjust the
    /// <see cref="SessionOptions"/> of a model after ModelKit applied the settings above and before the model loads (for
    /// example to add a free-dimension override or a session configuration entry). The options are owned by ModelKit and
    /// disposed after the load: do not keep them.
    /// </summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Action<SessionOptions>? ConfigureSessionOptions { get; set; }

    /// <summary>Returns a copy, so per-model settings can start from the defaults.</summary>
    /// <returns>A new instance with the same values.</returns>
    public OnnxRuntimeOptions Clone() => (OnnxRuntimeOptions)MemberwiseClone();
}

/// <summary>
/// Graph optimization levels of ONNX Runtime (<c>GraphOptimizationLevel</c> in <c>onnxruntime_c_api.h</c>; see ONNX
/// Runtime's "Graph optimizations" documentation).
/// </summary>
public enum GraphOptimizationLevel
{
    /// <summary>No graph optimizations (<c>ORT_DISABLE_ALL</c>).</summary>
    Disabled = 0,

    /// <summary>Semantics-preserving rewrites such as constant folding and redundant node removal (<c>ORT_ENABLE_BASIC</c>).</summary>
    Basic = 1,

    /// <summary>Basic plus node fusions (<c>ORT_ENABLE_EXTENDED</c>).</summary>
    Extended = 2,

    /// <summary>Every optimization, including layout optimizations (<c>ORT_ENABLE_ALL</c>).</summary>
    All = 3,
}

/// <summary>The hardware an inference session runs on.</summary>
public enum ExecutionProvider
{
    /// <summary>ONNX Runtime's CPU execution provider, present in every native package.</summary>
    Cpu = 0,

    /// <summary>ONNX Runtime's CUDA execution provider; needs the <c>Microsoft.ML.OnnxRuntime.Gpu</c> package, CUDA and cuDNN, and an NVIDIA GPU.</summary>
    Cuda = 1,
}

/// <summary>How the CUDA execution provider's memory arena grows (<c>arena_extend_strategy</c>).</summary>
public enum CudaArenaExtendStrategy
{
    /// <summary>Grow by powers of two (<c>kNextPowerOfTwo</c>).</summary>
    NextPowerOfTwo = 0,

    /// <summary>Grow by exactly what is requested (<c>kSameAsRequested</c>).</summary>
    SameAsRequested = 1,
}

/// <summary>How cuDNN picks convolution algorithms (<c>cudnn_conv_algo_search</c>).</summary>
public enum CudnnConvolutionAlgorithmSearch
{
    /// <summary>Benchmark every algorithm once per shape (<c>EXHAUSTIVE</c>).</summary>
    Exhaustive = 0,

    /// <summary>cuDNN's heuristics (<c>HEURISTIC</c>).</summary>
    Heuristic = 1,

    /// <summary>The default algorithm (<c>DEFAULT</c>).</summary>
    Default = 2,
}
