using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using ModelKit.Onnx;

namespace ModelKit.Serving.Tests;

/// <summary>Tiny ONNX models built in code, with weights whose products and sums are exact in float32.</summary>
internal static class TestModels
{
    // Gemm(transB=1): output = Relu(input · Wᵀ + b); W is [2, 3], b is [2].
    public static readonly float[] GemmWeights = [1f, -2f, 0.5f, -1f, 0.25f, 2f];
    public static readonly float[] GemmBias = [0.5f, -0.25f];

    /// <summary>input Float [-1, 3] → Gemm(W, b, transB=1) → Relu → output Float [-1, 2].</summary>
    public static byte[] GemmRelu() =>
        new OnnxGraphBuilder()
            .AddInput("input", TensorElementType.Float, -1, 3)
            .AddInitializer("W", GemmWeights, 2, 3)
            .AddInitializer("b", GemmBias, 2)
            .AddNode("Gemm", ["input", "W", "b"], ["hidden"], OnnxAttribute.Int("transB", 1))
            .AddNode("Relu", ["hidden"], ["output"])
            .AddOutput("output", TensorElementType.Float, -1, 2)
            .ToBytes();

    /// <summary>Reference forward pass of <see cref="GemmRelu"/> written out by hand.</summary>
    public static float[] GemmReluReference(float[] input)
    {
        int batch = input.Length / 3;
        var output = new float[batch * 2];
        for (int n = 0; n < batch; n++)
        {
            for (int o = 0; o < 2; o++)
            {
                float sum = GemmBias[o];
                for (int i = 0; i < 3; i++)
                {
                    sum += input[(n * 3) + i] * GemmWeights[(o * 3) + i];
                }

                output[(n * 2) + o] = Math.Max(sum, 0f);
            }
        }

        return output;
    }

    /// <summary>a Int64 [-1, 2] + b Int64 [-1, 2] → sum Int64 [-1, 2].</summary>
    public static byte[] Int64Add() =>
        new OnnxGraphBuilder()
            .AddInput("a", TensorElementType.Int64, -1, 2)
            .AddInput("b", TensorElementType.Int64, -1, 2)
            .AddNode("Add", ["a", "b"], ["sum"])
            .AddOutput("sum", TensorElementType.Int64, -1, 2)
            .ToBytes();

    /// <summary>pixels Float [-1, 1, 2, 2] → Relu → out Float [-1, 1, 2, 2].</summary>
    public static byte[] ImageRelu() =>
        new OnnxGraphBuilder()
            .AddInput("pixels", TensorElementType.Float, -1, 1, 2, 2)
            .AddNode("Relu", ["pixels"], ["out"])
            .AddOutput("out", TensorElementType.Float, -1, 1, 2, 2)
            .ToBytes();

    public static OnnxRuntimeSessionFactory Factory(Action<OnnxRuntimeOptions>? configure = null, IMeterFactory? meterFactory = null)
    {
        var options = new OnnxRuntimeOptions { IntraOpThreadCount = 1 };
        configure?.Invoke(options);
        return new OnnxRuntimeSessionFactory(Options.Create(options), meterFactory: meterFactory);
    }

    public static NamedTensor Float(string name, float[] data, params long[] shape) => new(name, Tensor.Create<float>(data, shape));

    public static NamedTensor Int64(string name, long[] data, params long[] shape) => new(name, Tensor.Create<long>(data, shape));
}

/// <summary>An <see cref="IMeterFactory"/> that creates meters scoped to itself, so a listener can tell this test's instruments from others'.</summary>
internal sealed class ScopedMeterFactory : IMeterFactory
{
    private readonly List<Meter> _meters = [];

    public Meter Create(MeterOptions options)
    {
        options.Scope = this;
        var meter = new Meter(options);
        lock (_meters)
        {
            _meters.Add(meter);
        }

        return meter;
    }

    public void Dispose()
    {
        lock (_meters)
        {
            foreach (Meter meter in _meters)
            {
                meter.Dispose();
            }

            _meters.Clear();
        }
    }
}

/// <summary>Collects log entries written through a real <see cref="Microsoft.Extensions.Logging.LoggerFactory"/>.</summary>
internal sealed class ListLoggerProvider : Microsoft.Extensions.Logging.ILoggerProvider
{
    private readonly List<(Microsoft.Extensions.Logging.LogLevel Level, int EventId, string Message)> _entries = [];

    /// <summary>
    /// Gets a copy of the entries logged so far, taken under the lock: ONNX Runtime's messages reach every registered
    /// logger, so sessions created by tests running in parallel may log here while a test reads.
    /// </summary>
    public IReadOnlyList<(Microsoft.Extensions.Logging.LogLevel Level, int EventId, string Message)> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new ListLogger(this);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider owner) : Microsoft.Extensions.Logging.ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add((logLevel, eventId.Id, formatter(state, exception)));
            }
        }
    }
}

/// <summary>More tiny models for the pool and batcher tests.</summary>
internal static class PoolTestModels
{
    /// <summary>x Float [-1, 3] → Mul(x, k) → y Float [-1, 3], with k = <paramref name="factor"/>: each version answers with its own factor.</summary>
    public static byte[] Scale(float factor) =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("k", [factor], 1)
            .AddNode("Mul", ["x", "k"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes();

    /// <summary>x [-1, 3] → Reshape to [2, -1] → y: fails for any batch whose element count is odd, such as the warm-up's batch of 1.</summary>
    public static byte[] FailsOnWarmUp() =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("shape", [2L, -1L], 2)
            .AddNode("Reshape", ["x", "shape"], ["r"])
            .AddNode("Reshape", ["r", "back"], ["y"])
            .AddInitializer("back", [-1L, 3L], 2)
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes();

    /// <summary>x T [-1, 2] → Identity → y T [-1, 2].</summary>
    public static byte[] Identity(TensorElementType elementType) =>
        new OnnxGraphBuilder()
            .AddInput("x", elementType, -1, 2)
            .AddNode("Identity", ["x"], ["y"])
            .AddOutput("y", elementType, -1, 2)
            .ToBytes();

    public static float[] Row(int seed) => [seed * 0.5f, -seed * 0.25f, seed + 1f];
}
