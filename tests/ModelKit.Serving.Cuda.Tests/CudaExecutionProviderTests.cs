using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelKit.Onnx;
using ModelKit.Serving.Internal;
using Xunit.Abstractions;

namespace ModelKit.Serving.Cuda.Tests;

/// <summary>
/// ModelKit's CUDA path against the real CUDA build of ONNX Runtime (NuGet Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0).
/// On a machine without an NVIDIA GPU and CUDA libraries, ONNX Runtime itself fails to load
/// <c>libonnxruntime_providers_cuda.so</c>; these tests check that ModelKit turns exactly that failure into a clear error,
/// or into the configured, logged fallback to CPU. On a machine with a GPU, the failure tests are skipped and the model
/// runs on CUDA instead.
/// </summary>
public sealed class CudaExecutionProviderTests(ITestOutputHelper output)
{
    private static readonly byte[] Model = new OnnxGraphBuilder()
        .AddInput("x", TensorElementType.Float, -1, 3)
        .AddInitializer("k", [2f, -1f, 0.5f], 3)
        .AddNode("Mul", ["x", "k"], ["y"])
        .AddOutput("y", TensorElementType.Float, -1, 3)
        .ToBytes();

    [Fact]
    public void GpuPackage_ListsTheCudaExecutionProvider()
    {
        Assert.Contains("CUDAExecutionProvider", OrtEnvironment.GetAvailableProviders());
    }

    [NoGpuFact]
    public void Create_CudaWithoutCudaLibraries_ThrowsWithOnnxRuntimesReasonAndThePackageToInstall()
    {
        using var factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { ExecutionProvider = ExecutionProvider.Cuda, CudaDeviceId = 0, CudaMemoryLimitBytes = 1L << 30 }));

        var ex = Assert.Throws<NativeEngineException>(() => factory.Create(Model));

        output.WriteLine(ex.Message);
        Assert.Equal("ONNX Runtime", ex.Engine);
        Assert.Equal("AppendExecutionProvider_CUDA", ex.Operation);
        Assert.StartsWith("The CUDA execution provider (device 0) could not be added for the model: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("libonnxruntime_providers_cuda.so", ex.Message, StringComparison.Ordinal); // ONNX Runtime's own text
        Assert.Contains("Microsoft.ML.OnnxRuntime.Gpu", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AllowCpuFallback = true", ex.Message, StringComparison.Ordinal);
    }

    [NoGpuFact]
    public void Create_CudaWithFallbackAndNoCudaLibraries_LogsTheReasonAndRunsOnCpu()
    {
        using var logs = new ListLoggerProvider();
        using var loggerFactory = new LoggerFactory([logs]);
        using var factory = new OnnxRuntimeSessionFactory(
            Options.Create(new OnnxRuntimeOptions { ExecutionProvider = ExecutionProvider.Cuda, AllowCpuFallback = true, CudnnConvolutionAlgorithmSearch = CudnnConvolutionAlgorithmSearch.Heuristic }),
            loggerFactory);

        using var session = (OnnxRuntimeInferenceSession)factory.Create(Model);

        Assert.Equal(ExecutionProvider.Cpu, session.Provider);
        Assert.Equal("cpu", session.ProviderName);
        var y = (Tensor<float>)session.Run([new NamedTensor("x", Tensor.Create<float>(new[] { 1f, 2f, 3f }, 1, 3))])[0].Value;
        Assert.Equal([2f, -2f, 1.5f], y.Span.ToArray());
        (LogLevel level, int eventId, string message) = Assert.Single(logs.Entries, e => e.EventId == 2);
        output.WriteLine(message);
        Assert.Equal(LogLevel.Warning, level);
        Assert.Contains("libonnxruntime_providers_cuda.so", message, StringComparison.Ordinal);
        Assert.EndsWith("Running the model on the CPU execution provider because OnnxRuntimeOptions.AllowCpuFallback is true.", message, StringComparison.Ordinal);
    }

    [GpuFact]
    public void Create_CudaOnAMachineWithAGpu_RunsOnCudaAndMatchesCpu()
    {
        using var cuda = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { ExecutionProvider = ExecutionProvider.Cuda }));
        using var cpu = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions()));
        using var onCuda = (OnnxRuntimeInferenceSession)cuda.Create(Model);
        using IInferenceSession onCpu = cpu.Create(Model);
        NamedTensor[] input = [new NamedTensor("x", Tensor.Create<float>(new[] { 1f, 2f, 3f, -4f, 5f, 6f }, 2, 3))];

        Assert.Equal(ExecutionProvider.Cuda, onCuda.Provider);
        Assert.Equal(((Tensor<float>)onCpu.Run(input)[0].Value).Span.ToArray(), ((Tensor<float>)onCuda.Run(input)[0].Value).Span.ToArray());
    }
}

/// <summary>A fact that runs only where no NVIDIA GPU is visible (the CUDA provider then cannot load).</summary>
public sealed class NoGpuFactAttribute : FactAttribute
{
    public NoGpuFactAttribute()
    {
        if (GpuProbe.HasGpu)
        {
            Skip = "An NVIDIA GPU is present here, so the CUDA provider may load; the failure path is tested on machines without one.";
        }
    }
}

/// <summary>A fact that runs only where an NVIDIA GPU is visible.</summary>
public sealed class GpuFactAttribute : FactAttribute
{
    public GpuFactAttribute()
    {
        if (!GpuProbe.HasGpu)
        {
            Skip = "No NVIDIA GPU here (/dev/nvidiactl is absent).";
        }
    }
}

internal static class GpuProbe
{
    public static bool HasGpu => File.Exists("/dev/nvidiactl");
}

internal sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly List<(LogLevel Level, int EventId, string Message)> _entries = [];

    /// <summary>
    /// Gets a copy of the entries logged so far, taken under the lock: ONNX Runtime's messages reach every registered
    /// logger, so sessions created by tests running in parallel may log here while a test reads.
    /// </summary>
    public IReadOnlyList<(LogLevel Level, int EventId, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new ListLogger(this);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((logLevel, eventId.Id, formatter(state, exception)));
            }
        }
    }
}
