using System.Diagnostics.Metrics;
using ModelKit.Serving.Internal;

namespace ModelKit.Serving.Tests.Internal;

public sealed class OnnxRuntimeInferenceSessionTests
{
    [Fact]
    public void Run_GemmRelu_ComputesHandComputedOutput()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());

        // Row 0: [1·1 − 2·2 + 0.5·3 + 0.5, −1·1 + 0.25·2 + 2·3 − 0.25] = [−1, 5.25] → Relu → [0, 5.25]
        // Row 1: [−1 − 1 + 2 + 0.5, 1 + 0.125 + 8 − 0.25] = [0.5, 8.875]
        IReadOnlyList<NamedTensor> outputs = session.Run([TestModels.Float("input", [1f, 2f, 3f, -1f, 0.5f, 4f], 2, 3)]);

        NamedTensor output = Assert.Single(outputs);
        Assert.Equal("output", output.Name);
        Tensor<float> tensor = Assert.IsType<Tensor<float>>(output.Value);
        Assert.Equal([2L, 2L], tensor.Shape.ToArray());
        float[] expected = [0f, 5.25f, 0.5f, 8.875f];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], tensor.Span[i], 1e-6f);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    public void Run_DynamicBatchDimension_AcceptsAnyBatchSize(int batch)
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());
        float[] input = new float[batch * 3];
        for (int i = 0; i < input.Length; i++)
        {
            input[i] = ((i % 7) - 3) * 0.5f;
        }

        Tensor<float> output = Assert.IsType<Tensor<float>>(session.Run([TestModels.Float("input", input, batch, 3)])[0].Value);

        Assert.Equal([(long)batch, 2L], output.Shape.ToArray());
        float[] expected = TestModels.GemmReluReference(input);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], output.Span[i], 1e-6f);
        }
    }

    [Fact]
    public void Run_BatchSizeChangesBetweenRuns_BoundOutputsFollowAndEarlierResultsStayIntact()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());
        var internalSession = (OnnxRuntimeInferenceSession)session;
        var kept = new List<(float[] Input, Tensor<float> Output)>();

        // The first run learns that the output follows the batch; the later ones run through the I/O binding, whose
        // output buffers are rebound at every batch size change and reused otherwise.
        int seed = 0;
        foreach (int batch in (int[])[1, 3, 3, 2, 5, 1, 5])
        {
            float[] input = new float[batch * 3];
            for (int i = 0; i < input.Length; i++)
            {
                input[i] = (((seed + i) % 11) - 5) * 0.25f;
            }

            seed += 7;
            kept.Add((input, Assert.IsType<Tensor<float>>(session.Run([TestModels.Float("input", input, batch, 3)])[0].Value)));
            Assert.True(internalSession.OutputsBound);
        }

        // Every result is the caller's own array: later runs into the same bound buffers changed none of them.
        foreach ((float[] input, Tensor<float> output) in kept)
        {
            Assert.Equal([input.Length / 3L, 2L], output.Shape.ToArray());
            Assert.Equal(TestModels.GemmReluReference(input), output.Span.ToArray());
        }
    }

    [Fact]
    public void Run_OutputShapeStopsFollowingTheBatch_FallsBackToOutputsTheEngineAllocates()
    {
        // y = Tile(x, repeats): with repeats [1, 1] the output follows the batch, so outputs get bound; with [2, 1] it has
        // twice the rows, which the bound buffers cannot hold, and the session must still answer correctly.
        byte[] model = new ModelKit.Onnx.OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInput("repeats", TensorElementType.Int64, 2)
            .AddNode("Tile", ["x", "repeats"], ["y"])
            .AddOutput("y", TensorElementType.Float, -1, 3)
            .ToBytes();
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(model);
        var internalSession = (OnnxRuntimeInferenceSession)session;
        float[] x = [1f, 2f, 3f, 4f, 5f, 6f];

        Tensor<float> once = Assert.IsType<Tensor<float>>(session.Run([TestModels.Float("x", x, 2, 3), TestModels.Int64("repeats", [1L, 1L], 2)])[0].Value);
        Assert.True(internalSession.OutputsBound);
        Tensor<float> twice = Assert.IsType<Tensor<float>>(session.Run([TestModels.Float("x", x, 2, 3), TestModels.Int64("repeats", [2L, 1L], 2)])[0].Value);
        Tensor<float> again = Assert.IsType<Tensor<float>>(session.Run([TestModels.Float("x", x, 2, 3), TestModels.Int64("repeats", [1L, 1L], 2)])[0].Value);

        Assert.Equal(x, once.Span.ToArray());
        Assert.Equal([4L, 3L], twice.Shape.ToArray());
        Assert.Equal([.. x, .. x], twice.Span.ToArray());
        Assert.False(internalSession.OutputsBound);
        Assert.Equal(x, again.Span.ToArray());
    }

    [Fact]
    public void Run_Int64Add_AddsExactly()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.Int64Add());

        IReadOnlyList<NamedTensor> outputs = session.Run(
        [
            TestModels.Int64("b", [1, -2, 3, 40], 2, 2),
            TestModels.Int64("a", [9_000_000_000_000_000_000, 5, -7, 2], 2, 2),
        ]);

        Tensor<long> sum = Assert.IsType<Tensor<long>>(Assert.Single(outputs).Value);
        Assert.Equal(TensorElementType.Int64, sum.ElementType);
        Assert.Equal([9_000_000_000_000_000_001, 3, -4, 42], sum.Span.ToArray());
    }

    [Fact]
    public void Signature_IsReadFromTheModel()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.ImageRelu());

        Assert.Null(session.ModelVersion);
        Assert.Equal(new TensorSpec("pixels", TensorElementType.Float, [-1, 1, 2, 2]), Assert.Single(session.Signature.Inputs));
        Assert.Equal(new TensorSpec("out", TensorElementType.Float, [-1, 1, 2, 2]), Assert.Single(session.Signature.Outputs));
    }

    [Fact]
    public void Run_UnknownInputName_ThrowsNamingInputAndExpectedNames()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());

        var ex = Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Float("x", [1f, 2f, 3f], 1, 3)]));

        Assert.Equal("x", ex.InputName);
        Assert.Equal("Input 'x' is not an input of the model, which expects ['input']. Rename the input or check the model reference.", ex.Message);
    }

    [Fact]
    public void Run_WrongElementType_ThrowsNamingInputExpectedAndActualType()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());

        var ex = Assert.Throws<InferenceInputException>(() => session.Run([new NamedTensor("input", Tensor.Create<double>(new double[3], 1, 3))]));

        Assert.Equal("input", ex.InputName);
        Assert.Equal("Input 'input' has element type Double but the model expects Float. Convert the input or check the model reference.", ex.Message);
    }

    [Fact]
    public void Run_WrongShape_ThrowsNamingInputExpectedAndActualShape()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.ImageRelu());

        var ex = Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Float("pixels", new float[12], 3, 4)]));

        Assert.Equal("pixels", ex.InputName);
        Assert.Equal("Input 'pixels' has shape [3, 4] but the model expects [-1, 1, 2, 2]. Reshape the input or check the model reference.", ex.Message);
    }

    [Fact]
    public void Run_FixedDimensionMismatch_ThrowsNamingShapes()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.ImageRelu());

        var ex = Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Float("pixels", new float[6], 1, 1, 2, 3)]));

        Assert.Equal("Input 'pixels' has shape [1, 1, 2, 3] but the model expects [-1, 1, 2, 2]. Reshape the input or check the model reference.", ex.Message);
    }

    [Fact]
    public void Run_MissingInput_ThrowsNamingMissingInputAndWhatWasGiven()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.Int64Add());

        var ex = Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Int64("a", [1, 2], 1, 2)]));

        Assert.Equal("b", ex.InputName);
        Assert.Equal(
            "Input 'b' is missing: the model expects ['a', 'b'] but got ['a']. Add a Int64 tensor of shape [-1, 2] named 'b'.",
            ex.Message);
    }

    [Fact]
    public void Run_SameInputTwice_Throws()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.Int64Add());

        var ex = Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Int64("a", [1, 2], 1, 2), TestModels.Int64("a", [1, 2], 1, 2)]));

        Assert.Equal("a", ex.InputName);
        Assert.Contains("given more than once", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_EngineFailureAfterValidation_ThrowsNativeEngineExceptionWithOrtTextAndLeaksNothing()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.Int64Add());

        // Both inputs fit [-1, 2], but batch 2 and batch 3 cannot be broadcast by Add.
        var ex = Assert.Throws<NativeEngineException>(() => session.Run([TestModels.Int64("a", new long[4], 2, 2), TestModels.Int64("b", new long[6], 3, 2)]));

        Assert.Equal("ONNX Runtime", ex.Engine);
        Assert.Equal("run", ex.Operation);
        Assert.StartsWith("ONNX Runtime failed to run the model: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("broadcast", ex.Message, StringComparison.OrdinalIgnoreCase);

        // The session keeps working after the failure.
        var sum = (Tensor<long>)session.Run([TestModels.Int64("a", [1, 2], 1, 2), TestModels.Int64("b", [3, 4], 1, 2)])[0].Value;
        Assert.Equal([4L, 6L], sum.Span.ToArray());
    }

    [Fact]
    public void Run_AfterDispose_ThrowsObjectDisposedException()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        IInferenceSession session = factory.Create(TestModels.GemmRelu());
        session.Dispose();
        session.Dispose();

        var ex = Assert.Throws<ObjectDisposedException>(() => session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)]));

        Assert.Contains("has been disposed", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_ConcurrentlyFromSeveralThreads_EveryResultIsCorrect()
    {
        using OnnxRuntimeSessionFactory factory = TestModels.Factory();
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());
        int failures = 0;

        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            int batch = 1 + (i % 5);
            float[] input = new float[batch * 3];
            for (int j = 0; j < input.Length; j++)
            {
                input[j] = ((i + j) % 9 - 4) * 0.25f;
            }

            var output = (Tensor<float>)session.Run([TestModels.Float("input", input, batch, 3)])[0].Value;
            if (!output.Span.SequenceEqual(TestModels.GemmReluReference(input)))
            {
                Interlocked.Increment(ref failures);
            }
        });

        Assert.Equal(0, failures);
    }

    [Fact]
    public void Run_WithMeterListener_RecordsDurationWithNameUnitAndTags()
    {
        using var meterFactory = new ScopedMeterFactory();
        using OnnxRuntimeSessionFactory factory = TestModels.Factory(meterFactory: meterFactory);
        using IInferenceSession session = factory.Create(TestModels.GemmRelu());
        var measurements = new List<(string Meter, string Name, string? Unit, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, meterFactory))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            var dict = new Dictionary<string, object?>();
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                dict[tag.Key] = tag.Value;
            }

            lock (measurements)
            {
                measurements.Add((instrument.Meter.Name, instrument.Name, instrument.Unit, value, dict));
            }
        });
        listener.Start();

        session.Run([TestModels.Float("input", [1f, 2f, 3f], 1, 3)]);
        Assert.Throws<InferenceInputException>(() => session.Run([TestModels.Float("input", [1f], 1, 1)]));

        Assert.Equal(2, measurements.Count);
        Assert.All(measurements, m =>
        {
            Assert.Equal("ModelKit.Serving", m.Meter);
            Assert.Equal("modelkit.inference.duration", m.Name);
            Assert.Equal("s", m.Unit);
            Assert.InRange(m.Value, 0, 60);
            Assert.Equal("cpu", m.Tags["modelkit.provider"]);
        });
        Assert.False(measurements[0].Tags.ContainsKey("error.type"));
        Assert.Equal(typeof(InferenceInputException).FullName, measurements[1].Tags["error.type"]);
    }
}

