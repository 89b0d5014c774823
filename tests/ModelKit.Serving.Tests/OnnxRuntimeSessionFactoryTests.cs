using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Registry;
using ModelKit.Serving.Internal;
using Xunit.Abstractions;

namespace ModelKit.Serving.Tests;

public sealed class OnnxRuntimeSessionFactoryTests(ITestOutputHelper output)
{
    [Fact]
    public void Create_BytesThatAreNotAModel_ThrowsInvalidModelException()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();

        var ex = Assert.Throws<InvalidModelException>(() => factory.Create("this is not an ONNX model"u8.ToArray()));

        // Validated by ModelKit.Onnx before ONNX Runtime sees the bytes.
        Assert.StartsWith("The data is not an ONNX model: the input (25 bytes) looks like text", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_EmptyBytes_ThrowsInvalidModelException()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();

        var ex = Assert.Throws<InvalidModelException>(() => factory.Create(ReadOnlyMemory<byte>.Empty));

        Assert.StartsWith("The data is not an ONNX model: it is empty (0 bytes)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateFromFile_ModelFile_LoadsAndRuns()
    {
        string path = Path.Combine(Path.GetTempPath(), $"modelkit-serving-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, TestModels.GemmRelu());
        try
        {
            using OnnxRuntimeSessionFactory factory = TestModels.Factory();
            using IInferenceSession session = factory.CreateFromFile(path);

            var output = (Tensor<float>)session.Run([TestModels.Float("input", [-1f, 0.5f, 4f], 1, 3)])[0].Value;

            Assert.Equal([0.5f, 8.875f], output.Span.ToArray());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void CreateFromFile_MissingFile_ThrowsFileNotFoundNamingPath()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        string path = Path.Combine(Path.GetTempPath(), "modelkit-does-not-exist.onnx");

        var ex = Assert.Throws<FileNotFoundException>(() => factory.CreateFromFile(path));

        Assert.Equal(path, ex.FileName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_CudaWithoutFallbackOnCpuOnlyLibrary_ThrowsNamingLibraryAndRemedies()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory(o => o.ExecutionProvider = ExecutionProvider.Cuda);

        var ex = Assert.Throws<NativeEngineException>(() => factory.Create(TestModels.GemmRelu()));

        output.WriteLine(ex.Message);
        Assert.Equal("AppendExecutionProvider_CUDA", ex.Operation);
        Assert.StartsWith("The CUDA execution provider (device 0) could not be added for the model: the native ONNX Runtime package of this application has no CUDA execution provider (it has ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("CPUExecutionProvider", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Reference the NuGet package Microsoft.ML.OnnxRuntime.Gpu", ex.Message, StringComparison.Ordinal);
        Assert.Contains("AllowCpuFallback = true", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_CudaWithFallbackOnCpuOnlyLibrary_RunsOnCpu()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory(o =>
        {
            o.ExecutionProvider = ExecutionProvider.Cuda;
            o.AllowCpuFallback = true;
        });

        using IInferenceSession session = factory.Create(TestModels.GemmRelu());

        Assert.Equal(ExecutionProvider.Cpu, Assert.IsType<OnnxRuntimeInferenceSession>(session).Provider);
        var output = (Tensor<float>)session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)])[0].Value;
        Assert.Equal([0f, 5.25f], output.Span.ToArray());
    }

    [Fact]
    public void Create_CudaWithFallback_LogsWarningWithReason()
    {
        using var provider = new ListLoggerProvider();
        using var loggerFactory = new Microsoft.Extensions.Logging.LoggerFactory([provider]);
        var options = new OnnxRuntimeOptions { ExecutionProvider = ExecutionProvider.Cuda, AllowCpuFallback = true, IntraOpThreadCount = 1 };
        using var factory = new OnnxRuntimeSessionFactory(Options.Create(options), loggerFactory);

        using IInferenceSession session = factory.Create(TestModels.GemmRelu());

        (Microsoft.Extensions.Logging.LogLevel level, int eventId, string message) = Assert.Single(provider.Entries, e => e.EventId == 2);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, level);
        Assert.StartsWith("The CUDA execution provider (device 0) could not be added: the native ONNX Runtime package of this application has no CUDA execution provider", message, StringComparison.Ordinal);
        Assert.EndsWith("Running the model on the CPU execution provider because OnnxRuntimeOptions.AllowCpuFallback is true.", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsQuotingValues()
    {
        var ex = Assert.Throws<OptionsValidationException>(() =>
            new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions { IntraOpThreadCount = -3 })));

        Assert.Contains("OnnxRuntimeOptions.IntraOpThreadCount is -3", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_AfterDispose_ThrowsObjectDisposedException()
    {
        OnnxRuntimeSessionFactory factory = TestModels.Factory();
        factory.Dispose();
        factory.Dispose();

        Assert.Throws<ObjectDisposedException>(() => factory.Create(TestModels.GemmRelu()));
    }

    [Fact]
    public async Task CreateAsync_WithoutRegistry_ThrowsTellingToAddModelRegistry()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => factory.CreateAsync(ModelReference.Parse("fashion-mnist@production")));

        Assert.StartsWith(
            "Cannot load model reference 'fashion-mnist@production': no IModelRegistry is registered. Call services.AddModelKit().AddModelRegistry()",
            ex.Message,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task CreateAsync_RegisteredModel_LoadsWithModelVersionAndNamesItInErrors()
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), $"modelkit-serving-registry-{Guid.NewGuid():N}");
        try
        {
            var services = new ServiceCollection();
            services.AddModelKit(o => o.DataDirectory = dataDirectory).AddModelRegistry().AddOnnx().AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1);
            await using ServiceProvider provider = services.BuildServiceProvider();
            IModelRegistry registry = provider.GetRequiredService<IModelRegistry>();
            using (var content = new MemoryStream(TestModels.ImageRelu()))
            {
                ModelVersion registered = await registry.RegisterAsync(new ModelRegistration("pixels-relu"), content);
                await registry.SetAliasAsync("pixels-relu", "production", registered.Version);
            }

            IInferenceSessionFactory factory = provider.GetRequiredService<IInferenceSessionFactory>();
            using IInferenceSession session = await factory.CreateAsync(ModelReference.Parse("pixels-relu@production"));

            Assert.NotNull(session.ModelVersion);
            Assert.Equal("pixels-relu", session.ModelVersion.Name);
            Assert.Equal(1, session.ModelVersion.Version);
            var output = (Tensor<float>)session.Run([TestModels.Float("pixels", [-1f, 2f, -3f, 4f], 1, 1, 2, 2)])[0].Value;
            Assert.Equal([0f, 2f, 0f, 4f], output.Span.ToArray());
            var ex = Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Float("pixels", new float[12], 3, 4)]));
            Assert.Equal(
                "Input 'pixels' has shape [3, 4] but model 'pixels-relu' version 1 expects [-1, 1, 2, 2]. Reshape the input or check the model reference.",
                ex.Message);
        }
        finally
        {
            if (Directory.Exists(dataDirectory))
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
        }
    }
}
