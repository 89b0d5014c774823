using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Jobs;
using Microsoft.Extensions.Options;
using ModelKit;
using ModelKit.Onnx;
using ModelKit.Serving;
using ModelKit.Serving.Interop;
using ModelKit.Serving.Internal;
using ModelKit.Training;

namespace ModelKit.Benchmarks;

/// <summary>
/// One inference of the quick start's MLP (Flatten → Gemm 784×256 → Relu → Gemm 256×10, exported by
/// <see cref="SequentialModelExporter"/> exactly as the trainer exports it, with seeded random weights: weights do not
/// change the work) through <see cref="IInferenceSession.Run"/>, against the same inference made directly on ONNX
/// Runtime's C API through the <c>OrtApi</c> function table: CreateTensorWithDataAsOrtValue over the pinned input,
/// Run, GetTensorMutableData, copy of the logits into a new managed array, ReleaseValue twice. Both use the same
/// session options (one intra-op thread, all graph optimizations), so the ratio is ModelKit's overhead.
/// </summary>
[MemoryDiagnoser]
// In-process: BenchmarkDotNet 0.14 (the version served here) cannot generate a net10.0 child project.
[InProcess]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet releases the fields in [GlobalCleanup].")]
public unsafe class SingleInferenceBenchmarks
{
    private static readonly byte[] s_inputName = "input\0"u8.ToArray();
    private static readonly byte[] s_outputName = "logits\0"u8.ToArray();

    private OnnxRuntimeSessionFactory _factory = null!;
    private IInferenceSession _session = null!;
    private OrtRuntime _runtime = null!;
    private OrtSessionHandle _rawSession = null!;
    private float[] _pixels = null!;
    private long[] _shape = null!;
    private NamedTensor[] _inputs = null!;

    /// <summary>Gets or sets the number of images per inference.</summary>
    [Params(1, 64)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] model = ExportMlp();
        var options = new OnnxRuntimeOptions { IntraOpThreadCount = 1, InterOpThreadCount = 1 };
        _factory = new OnnxRuntimeSessionFactory(Options.Create(options));
        _session = _factory.Create(model);
        _runtime = _factory.GetRuntime();
        _rawSession = _runtime.CreateSession(model, options, out _);

        var random = new Random(7);
        _pixels = new float[BatchSize * 784];
        for (int i = 0; i < _pixels.Length; i++)
        {
            _pixels[i] = (float)random.NextDouble();
        }

        _shape = [BatchSize, 1, 28, 28];
        _inputs = [new NamedTensor("input", Tensor.Create<float>(_pixels, _shape))];

        // Both paths must compute the same logits, or the comparison means nothing.
        ReadOnlyMemory<float> viaModelKit = ModelKitServing();
        ReadOnlyMemory<float> viaRaw = RawCApi();
        if (viaModelKit.Length != BatchSize * 10 || !viaModelKit.Span.SequenceEqual(viaRaw.Span))
        {
            throw new InvalidOperationException("ModelKit.Serving and the raw C API produced different logits.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _rawSession.Dispose();
        _session.Dispose();
        _factory.Dispose();
    }

    [Benchmark(Description = "ModelKit.Serving Run")]
    public ReadOnlyMemory<float> ModelKitServing()
    {
        // The session returns the logits in a new managed array that the caller owns: the same one copy as below.
        IReadOnlyList<NamedTensor> outputs = _session.Run(_inputs);
        return ((Tensor<float>)outputs[0].Value).Data;
    }

    [Benchmark(Baseline = true, Description = "raw C API (OrtApi) Run")]
    public ReadOnlyMemory<float> RawCApi()
    {
        OrtApi* api = _runtime.Api;
        OrtLibrary library = _runtime.Library;
        OrtValue* input = null;
        OrtValue* output = null;
        try
        {
            fixed (float* data = _pixels)
            fixed (long* shape = _shape)
            fixed (byte* inputName = s_inputName)
            fixed (byte* outputName = s_outputName)
            {
                library.ThrowIfFailed(
                    api->CreateTensorWithDataAsOrtValue(_runtime.CpuMemoryInfo.Pointer, data, (nuint)(_pixels.Length * sizeof(float)), shape, (nuint)_shape.Length, TensorElementType.Float, &input),
                    "CreateTensorWithDataAsOrtValue");
                byte* inName = inputName;
                byte* outName = outputName;
                library.ThrowIfFailed(api->Run(_rawSession.Pointer, null, &inName, &input, 1, &outName, 1, &output), "Run");
                float* logits;
                library.ThrowIfFailed(api->GetTensorMutableData(output, (void**)&logits), "GetTensorMutableData");
                return new ReadOnlySpan<float>(logits, BatchSize * 10).ToArray();
            }
        }
        finally
        {
            if (output is not null)
            {
                api->ReleaseValue(output);
            }

            if (input is not null)
            {
                api->ReleaseValue(input);
            }
        }
    }

    private static byte[] ExportMlp()
    {
        var random = new Random(42);
        float[] Weights(int count, int fanIn)
        {
            float bound = 1f / MathF.Sqrt(fanIn);
            var w = new float[count];
            for (int i = 0; i < w.Length; i++)
            {
                w[i] = ((float)random.NextDouble() * 2 - 1) * bound;
            }

            return w;
        }

        LayerSpec[] layers = [new FlattenLayer(), new LinearLayer(784, 256), new ReluLayer(), new DropoutLayer(0.1), new LinearLayer(256, 10)];
        OnnxParameter[] parameters =
        [
            new("1.weight", Weights(256 * 784, 784), [256, 784]),
            new("1.bias", Weights(256, 784), [256]),
            new("4.weight", Weights(10 * 256, 256), [10, 256]),
            new("4.bias", Weights(10, 256), [10]),
        ];
        var input = new TensorSpec("input", TensorElementType.Float, [-1, 1, 28, 28]);
        return SequentialModelExporter.ExportToBytes(new SequentialExportRequest(layers, parameters, input));
    }
}
