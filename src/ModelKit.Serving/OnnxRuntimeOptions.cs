using System.ComponentModel.DataAnnotations;

namespace ModelKit.Serving;

/// <summary>
/// How ONNX Runtime is loaded and how its sessions are configured. Read once, when the first session is created
/// (the library and its <c>OrtEnv</c>) and again for each new session (threads, optimization, execution provider).
/// Validated by <c>AddOnnxRuntimeServing()</c> at host start; no I/O happens while options are built.
/// </summary>
public sealed class OnnxRuntimeOptions
{
    /// <summary>
    /// Gets or sets the full path of the ONNX Runtime shared library (C API version 13 or later, that is ONNX Runtime
    /// 1.13 or later). Set it to use a different build, for example a GPU build with the CUDA execution provider
    /// (<c>libonnxruntime_providers_cuda.so</c> and <c>libonnxruntime_providers_shared.so</c> next to it).
    /// </summary>
    /// <value>
    /// The default is <see langword="null"/>: <c>libonnxruntime.so.1</c> (<c>onnxruntime.dll</c> on Windows,
    /// <c>libonnxruntime.dylib</c> on macOS) in <see cref="AppContext.BaseDirectory"/> when it exists there, otherwise the
    /// same file name through the system loader's search path (<c>LD_LIBRARY_PATH</c>, the ldconfig cache, ...).
    /// </value>
    public string? LibraryPath { get; set; }

    /// <summary>
    /// Gets or sets the number of threads one operator may use (<c>SetIntraOpNumThreads</c>); 0 lets ONNX Runtime
    /// choose (one per physical core).
    /// </summary>
    /// <value>The default is 0.</value>
    [Range(0, 1024)]
    public int IntraOpThreadCount { get; set; }

    /// <summary>
    /// Gets or sets the number of threads that run independent operators in parallel (<c>SetInterOpNumThreads</c>); 0
    /// lets ONNX Runtime choose. Only used when the session runs in parallel execution mode.
    /// </summary>
    /// <value>The default is 0.</value>
    [Range(0, 1024)]
    public int InterOpThreadCount { get; set; }

    /// <summary>Gets or sets the graph optimizations applied when a model is loaded.</summary>
    /// <value>The default is <see cref="GraphOptimizationLevel.All"/>.</value>
    public GraphOptimizationLevel GraphOptimizationLevel { get; set; } = GraphOptimizationLevel.All;

    /// <summary>Gets or sets the execution provider sessions run on.</summary>
    /// <value>The default is <see cref="ExecutionProvider.Cpu"/>.</value>
    public ExecutionProvider ExecutionProvider { get; set; } = ExecutionProvider.Cpu;

    /// <summary>Gets or sets the CUDA device ordinal used when <see cref="ExecutionProvider"/> is <see cref="ExecutionProvider.Cuda"/>.</summary>
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

    /// <summary>
    /// Gets or sets whether a session falls back to the CPU execution provider when <see cref="ExecutionProvider.Cuda"/> is
    /// requested but the library cannot add the CUDA execution provider (a CPU-only build, missing CUDA libraries, no
    /// GPU). When <see langword="false"/>, creating the session throws <see cref="NativeEngineException"/> instead; when
    /// <see langword="true"/>, a warning is logged and the session runs on CPU.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool AllowCpuFallback { get; set; }
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
    /// <summary>ONNX Runtime's CPU execution provider, present in every build.</summary>
    Cpu = 0,

    /// <summary>ONNX Runtime's CUDA execution provider; needs a GPU build of ONNX Runtime, CUDA and cuDNN, and an NVIDIA GPU.</summary>
    Cuda = 1,
}
