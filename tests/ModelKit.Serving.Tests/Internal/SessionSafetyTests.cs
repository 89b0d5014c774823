using Google.Protobuf;
using Microsoft.Extensions.Logging;
using ModelKit.Onnx;
using ModelKit.Onnx.Protobuf;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving.Tests.Internal;

/// <summary>Regression tests for issue 13's serving items: external data never read outside the model's folder, and safe concurrent dispose / log routing.</summary>
public sealed class SessionSafetyTests
{
    [Fact]
    public void CreateFromFile_ExternalDataLocationEscapingTheModelFolder_IsRefusedNamingTheLocation()
    {
        string root = Path.Combine(Path.GetTempPath(), $"modelkit-extdata-{Guid.NewGuid():N}");
        string modelFolder = Path.Combine(root, "model");
        Directory.CreateDirectory(modelFolder);
        try
        {
            File.WriteAllBytes(Path.Combine(root, "secret.bin"), new byte[24]);
            string path = Path.Combine(modelFolder, "model.onnx");
            File.WriteAllBytes(path, GemmWithExternalWeights("../secret.bin"));
            using OnnxRuntimeSessionFactory factory = TestModels.Factory();

            var ex = Assert.Throws<InvalidModelException>(() => factory.CreateFromFile(path));

            Assert.Contains("'../secret.bin'", ex.Message, StringComparison.Ordinal);
            Assert.Contains("initializer 'W'", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void Create_BytesWithExternalDataNamingAFileInTheWorkingDirectory_IsRefusedAndTheFileIsNeverRead()
    {
        string canaryName = $"modelkit-canary-{Guid.NewGuid():N}.bin";
        string canaryPath = Path.Combine(Environment.CurrentDirectory, canaryName);
        float[] canary = [1234.5f, 1234.5f, 1234.5f, 1234.5f, 1234.5f, 1234.5f];
        File.WriteAllBytes(canaryPath, System.Runtime.InteropServices.MemoryMarshal.AsBytes(canary.AsSpan()).ToArray());
        try
        {
            using OnnxRuntimeSessionFactory factory = TestModels.Factory();

            var ex = Assert.Throws<InvalidModelException>(() => factory.Create(GemmWithExternalWeights(canaryName)));

            Assert.Contains($"'{canaryName}'", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("1234.5", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(canaryPath);
        }
    }

    [Fact]
    public void Dispose_WhileRunsAreInFlight_EveryRunSucceedsOrThrowsObjectDisposedAndTheNativeSessionIsReleasedOnce()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        for (int round = 0; round < 20; round++)
        {
            var session = (OnnxRuntimeInferenceSession)factory.Create(TestModels.GemmRelu());
            using var start = new Barrier(5);
            int unexpected = 0;
            Thread[] runners = [.. Enumerable.Range(0, 4).Select(_ => new Thread(() =>
            {
                start.SignalAndWait();
                for (int i = 0; i < 200; i++)
                {
                    try
                    {
                        var output = (Tensor<float>)session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)])[0].Value;
                        if (!output.Span.SequenceEqual([0f, 5.25f]))
                        {
                            Interlocked.Increment(ref unexpected);
                        }
                    }
                    catch (ObjectDisposedException)
                    {
                        return;
                    }
                    catch (Exception)
                    {
                        Interlocked.Increment(ref unexpected);
                    }
                }
            }))];
            foreach (Thread runner in runners)
            {
                runner.Start();
            }

            start.SignalAndWait();
            Thread.Sleep(round % 3);
            session.Dispose();
            foreach (Thread runner in runners)
            {
                runner.Join();
            }

            Assert.Equal(0, unexpected);
            Assert.True(session.NativeReleased);
        }
    }

    [Fact]
    public void OnnxRuntimeWarnings_GoToTheLiveFactorysLogger_NotToADisposedFirstOne()
    {
        var first = new ListLoggerProvider();
        var second = new ListLoggerProvider();
        using (var firstLoggers = new LoggerFactory([first]))
        using (var firstFactory = new Microsoft.Extensions.Options.OptionsWrapper<OnnxRuntimeOptions>(new OnnxRuntimeOptions()) is { } o ? new OnnxRuntimeSessionFactory(o, firstLoggers) : null)
        {
            using IInferenceSession warm = firstFactory!.Create(TestModels.GemmRelu());
        }

        using var secondLoggers = new LoggerFactory([second]);
        using var secondFactory = new OnnxRuntimeSessionFactory(new Microsoft.Extensions.Options.OptionsWrapper<OnnxRuntimeOptions>(new OnnxRuntimeOptions()), secondLoggers);
        int before = first.Entries.Count;

        // An initializer no node uses: ONNX Runtime warns that it removes it.
        byte[] model = new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 2)
            .AddInitializer("unused_weights", [1f, 2f], 2)
            .AddNode("Relu", ["x"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 2)
            .ToBytes();
        using IInferenceSession session = secondFactory.Create(model);

        Assert.Contains(second.Entries, e => e.EventId == 4 && e.Message.Contains("unused_weights", StringComparison.Ordinal));
        Assert.Equal(before, first.Entries.Count);
    }

    /// <summary>The Gemm+Relu model with W stored externally at <paramref name="location"/> (data_location EXTERNAL).</summary>
    private static byte[] GemmWithExternalWeights(string location)
    {
        ModelProto model = ModelProto.Parser.ParseFrom(TestModels.GemmRelu());
        TensorProto weights = model.Graph.Initializer.Single(t => t.Name == "W");
        weights.ClearRawData();
        weights.FloatData.Clear();
        weights.DataLocation = TensorProto.Types.DataLocation.External;
        weights.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        weights.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = "0" });
        weights.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = "24" });
        return model.ToByteArray();
    }
}
