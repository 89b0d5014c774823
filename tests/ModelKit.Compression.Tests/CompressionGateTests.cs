using Microsoft.Extensions.DependencyInjection;
using ModelKit.Compression.Tests.TestSupport;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Compression.Tests;

public sealed class CompressionGateTests : IDisposable
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "modelkit-compression-tests", Guid.NewGuid().ToString("N"));
    private readonly ServiceProvider _services;

    public CompressionGateTests()
    {
        IServiceCollection services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _dataDirectory)
            .AddOnnx()
            .AddModelRegistry()
            .AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1)
            .AddCompression(o =>
            {
                o.LatencyIterations = 5;
                o.WarmupIterations = 1;
            });
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    private IModelRegistry Registry => _services.GetRequiredService<IModelRegistry>();

    private ICompressionGate Gate => _services.GetRequiredService<ICompressionGate>();

    public void Dispose()
    {
        _services.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private async Task<ModelVersion> RegisterParentAsync(byte[] model)
    {
        ModelVersion v = await Registry.RegisterAsync(
            new ModelRegistration("mlp") { Lineage = new ModelLineage { TrainingRunId = "run-1", DatasetDigest = "sha256:abc" } }, new MemoryStream(model));
        await Registry.SetAliasAsync("mlp", "production", v.Version);
        return v;
    }

    // Labels = the parent's own predictions, so the parent's accuracy is exactly 1.
    private static CompressionEvaluation Evaluation(byte[] model, EvaluationMetric metric)
    {
        float[] x = TestModels.Random(256 * 64, seed: 21);
        int[] predicted = TestModels.ArgMax(TestModels.Run(model, "input", x, 256, 1, 8, 8), 10);
        var batches = new List<IReadOnlyList<NamedTensor>>();
        for (int b = 0; b < 4; b++)
        {
            batches.Add([new NamedTensor("input", Tensor.Create(new ReadOnlyMemory<float>(x, b * 64 * 64, 64 * 64), 64, 1, 8, 8))]);
        }

        return new CompressionEvaluation(batches, metric == EvaluationMetric.Accuracy ? predicted.Select(p => (long)p).ToArray() : null, metric);
    }

    // Timing is measured and reported but never decides a test: a speed-up threshold this low always holds.
    private static readonly CompressionThresholds s_lenient = new() { MaxMetricDrop = 0.05, MinSpeedupBatch64 = 1e-6, MaxSizeRatio = 0.5 };

    [Fact]
    public async Task Run_CandidateWithinThresholds_RegistersItWithLineageAndMovesTheAlias()
    {
        byte[] model = TestModels.Mlp(hidden: 128);
        ModelVersion parent = await RegisterParentAsync(model);
        var recipe = new CompressionRecipe([new DynamicQuantizationStep()]);

        CompressionGateReport report = await Gate.RunAsync(new CompressionGateRequest(parent.Reference, recipe, Evaluation(model, EvaluationMetric.Agreement)) { Thresholds = s_lenient });

        Assert.True(report.Promoted, report.Decision);
        Assert.Equal(2, report.Candidate.Version);
        Assert.Equal(2, (await Registry.ResolveAsync(ModelReference.Parse("mlp@production"))).Version);
        ModelVersion stored = await Registry.ResolveAsync(ModelReference.Parse("mlp/2"));
        Assert.Equal(1, stored.Lineage.ParentVersion);
        Assert.Equal(recipe, CompressionRecipe.FromJson(stored.Lineage.CompressionRecipe!));
        Assert.Equal("run-1", stored.Lineage.TrainingRunId);
        Assert.Equal("passed", stored.Tags["gate"]);
        Assert.Equal(report.CandidateMeasurement.Metric, stored.Metrics["gate_agreement"]);
        Assert.Equal(1.0, report.ParentMeasurement.Metric);
        Assert.True(report.CandidateMeasurement.SizeBytes < report.ParentMeasurement.SizeBytes / 3);
        Assert.True(report.ParentMeasurement.LatencyBatch1 > TimeSpan.Zero && report.CandidateMeasurement.LatencyBatch64 > TimeSpan.Zero);
        Assert.Equal(["metric drop", "size ratio", "speed-up at batch 64"], report.Checks.Select(c => c.Name));
        Assert.StartsWith("promoted: alias 'production' moved from version 1 to version 2", report.Decision, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_RecipeThatCostsTooMuchAccuracy_RegistersTheCandidateButLeavesTheAlias()
    {
        byte[] model = TestModels.Mlp(hidden: 64);
        ModelVersion parent = await RegisterParentAsync(model);
        var recipe = new CompressionRecipe([new MagnitudePruningStep { Sparsity = 0.97 }, new DynamicQuantizationStep()]);

        CompressionGateReport report = await Gate.RunAsync(new CompressionGateRequest(
            ModelReference.Parse("mlp@production"), recipe, Evaluation(model, EvaluationMetric.Accuracy)) { Thresholds = s_lenient with { MaxMetricDrop = 0.003 } });

        Assert.False(report.Promoted);
        Assert.Equal(1, (await Registry.ResolveAsync(ModelReference.Parse("mlp@production"))).Version);
        ModelVersion candidate = await Registry.ResolveAsync(ModelReference.Parse("mlp/2"));
        Assert.Equal("failed", candidate.Tags["gate"]);
        Assert.Equal(parent.Version, candidate.Lineage.ParentVersion);
        GateCheck metric = report.Checks.Single(c => c.Name == "metric drop");
        Assert.False(metric.Passed);
        Assert.True(metric.Measured > 0.003);
        // The relation printed is the one that holds: a failed drop reads "> 0.30 pp", never "≤ 0.30 pp: FAILED".
        Assert.Contains("pp > 0.30 pp: FAILED", metric.Description, StringComparison.Ordinal);
        Assert.Contains("not promoted: alias 'production' stays at version 1; failed: metric 1.0000 →", report.Decision, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SizeThresholdNotMet_IsNotPromoted()
    {
        byte[] model = TestModels.Mlp(hidden: 64);
        ModelVersion parent = await RegisterParentAsync(model);

        CompressionGateReport report = await Gate.RunAsync(new CompressionGateRequest(
            parent.Reference, new CompressionRecipe([new WeightClippingStep()]), Evaluation(model, EvaluationMetric.Agreement)) { Thresholds = s_lenient });

        Assert.False(report.Promoted);
        GateCheck size = report.Checks.Single(c => c.Name == "size ratio");
        Assert.False(size.Passed);
        Assert.EndsWith("x > 0.500x: FAILED", size.Description, StringComparison.Ordinal);
        Assert.EndsWith(": passed", report.Checks.Single(c => c.Name == "metric drop").Description, StringComparison.Ordinal);
        Assert.Contains(" ≤ 5.00 pp: passed", report.Checks.Single(c => c.Name == "metric drop").Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_LabelsDoNotMatchTheSamples_ThrowsSayingHowMany()
    {
        byte[] model = TestModels.Mlp();
        ModelVersion parent = await RegisterParentAsync(model);
        CompressionEvaluation evaluation = Evaluation(model, EvaluationMetric.Agreement);
        var mislabelled = new CompressionEvaluation(evaluation.Batches, new long[10], EvaluationMetric.Accuracy);

        var ex = await Assert.ThrowsAsync<CompressionException>(() => Gate.RunAsync(
            new CompressionGateRequest(parent.Reference, new CompressionRecipe([new DynamicQuantizationStep()]), mislabelled)));
        Assert.Contains("The evaluation has 10 labels", ex.Message, StringComparison.Ordinal);
        Assert.Single(await Registry.ListVersionsAsync("mlp"));
    }

    [Fact]
    public async Task Run_UnknownParent_ThrowsModelNotFound()
    {
        await Assert.ThrowsAsync<ModelNotFoundException>(() => Gate.RunAsync(new CompressionGateRequest(
            ModelReference.Parse("nothing@production"), new CompressionRecipe([new DynamicQuantizationStep()]), Evaluation(TestModels.Mlp(), EvaluationMetric.Agreement))));
    }

    [Fact]
    public void Thresholds_OutOfRange_AreRejectedNamingTheValue()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CompressionThresholds { MinSpeedupBatch64 = 0 }.Validate());
        Assert.Equal("MinSpeedupBatch64 is 0; it must be a finite number greater than 0, for example 1.5. (Parameter 'MinSpeedupBatch64')", ex.Message);
    }
}
