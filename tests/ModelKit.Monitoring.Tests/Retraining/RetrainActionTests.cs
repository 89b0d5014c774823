using Microsoft.Extensions.DependencyInjection;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Retraining;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Tests.Retraining;

public sealed class RetrainActionTests : IAsyncLifetime
{
    private static readonly float[] Good = [1.5f, 0, 0, 0, 1.5f, 0, 0, 0, 1.5f, -1, -1, -1];
    private static readonly float[] Bad = [0, 1.5f, 0, 0, 0, 1.5f, 1.5f, 0, 0, -1, -1, -1];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"modelkit-retrain-{Guid.NewGuid():N}");
    private ServiceProvider _provider = null!;
    private IModelRegistry _registry = null!;
    private RetrainAction _action = null!;

    public async Task InitializeAsync()
    {
        var services = new ServiceCollection();
        services.AddModelKit(o => o.DataDirectory = _directory).AddOnnx().AddModelRegistry().AddOnnxRuntimeServing(o => o.IntraOpThreadCount = 1);
        _provider = services.BuildServiceProvider();
        _registry = _provider.GetRequiredService<IModelRegistry>();
        _action = new RetrainAction(_registry, _provider.GetRequiredService<IInferenceSessionFactory>());
        await RegisterAsync(Bad, alias: true);
    }

    public async Task DisposeAsync()
    {
        await _provider.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static byte[] Model(float[] weights) =>
        new OnnxGraphBuilder()
            .AddInput("x", TensorElementType.Float, -1, 3)
            .AddInitializer("W", weights, 4, 3)
            .AddNode("Gemm", ["x", "W"], ["logits"], OnnxAttribute.Int("transB", 1))
            .AddOutput("logits", TensorElementType.Float, -1, 4)
            .ToBytes();

    private async Task<ModelVersion> RegisterAsync(float[] weights, bool alias)
    {
        using var content = new MemoryStream(Model(weights));
        ModelVersion version = await _registry.RegisterAsync(new ModelRegistration("tabular"), content);
        if (alias)
        {
            await _registry.SetAliasAsync("tabular", "production", version.Version);
        }

        return version;
    }

    private static LabelledWindow Window()
    {
        (float[] x, float[] logits, _) = TestData.Rows(new Random(4), 500);
        long[] labels = new long[500];
        for (int r = 0; r < 500; r++)
        {
            ReadOnlySpan<float> row = logits.AsSpan(r * 4, 4);
            labels[r] = row.IndexOf(row.ToArray().Max());
        }

        return new LabelledWindow(TestData.Inputs(x), labels);
    }

    private static Func<RetrainContext, CancellationToken, Task<RetrainedModel>> Train(float[] weights, List<RetrainContext>? seen = null) => (context, _) =>
    {
        seen?.Add(context);
        return Task.FromResult(new RetrainedModel { Onnx = Model(weights), TrainingRunId = "run-2", DatasetDigest = "sha256:window", Parameters = new Dictionary<string, string> { ["epochs"] = "3" } });
    };

    private static AlertNotification Trigger() => new()
    {
        RuleName = "Drift",
        State = AlertState.Firing,
        ModelName = "tabular",
        ModelVersion = 1,
        Value = 0.5,
        Threshold = 0,
        Labels = new Dictionary<string, string>(),
        Annotations = new Dictionary<string, string>(),
        StartsAt = DateTimeOffset.UnixEpoch,
    };

    [Fact]
    public async Task RunAsync_BetterCandidate_RegistersItWithLineageAndMovesTheAlias()
    {
        var seen = new List<RetrainContext>();
        RetrainOutcome outcome = await _action.RunAsync("tabular", "production", Train(Good, seen), Window(), Trigger());

        Assert.True(outcome.AliasMoved, outcome.Reason);
        Assert.Equal(1, Assert.Single(seen).Parent.Version);
        Assert.Equal(1.0, outcome.CandidateAccuracy);
        Assert.True(outcome.ParentAccuracy < 0.6);
        ModelVersion candidate = outcome.Candidate!;
        Assert.Equal(2, (await _registry.GetAliasesAsync("tabular"))["production"]);
        Assert.Equal(1, candidate.Lineage.ParentVersion);
        Assert.Equal("run-2", candidate.Lineage.TrainingRunId);
        Assert.Equal("sha256:window", candidate.Lineage.DatasetDigest);
        Assert.Equal("Drift", candidate.Tags["retrain.trigger.alert"]);
    }

    [Fact]
    public async Task RunAsync_WorseCandidate_RegistersItButLeavesTheAlias()
    {
        await _registry.SetAliasAsync("tabular", "production", (await RegisterAsync(Good, alias: false)).Version);
        RetrainOutcome outcome = await _action.RunAsync("tabular", "production", Train(Bad), Window());

        Assert.False(outcome.AliasMoved);
        Assert.Contains("not better", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal(2, (await _registry.GetAliasesAsync("tabular"))["production"]);
        Assert.Equal(3, outcome.Candidate!.Version);
    }

    [Fact]
    public async Task RunAsync_GateRejects_RegistersNothing()
    {
        var action = new RetrainAction(_registry, _provider.GetRequiredService<IInferenceSessionFactory>(), new RejectingGate());
        RetrainOutcome outcome = await action.RunAsync("tabular", "production", Train(Good), Window());

        Assert.Null(outcome.Candidate);
        Assert.Contains("too slow", outcome.Reason, StringComparison.Ordinal);
        Assert.Single(await _registry.ListVersionsAsync("tabular"));
    }

    [Fact]
    public async Task RunAsync_EmptyWindow_ThrowsSayingWhatToGive()
    {
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => _action.RunAsync("tabular", "production", Train(Good), new LabelledWindow([], [])));
        Assert.Contains("at least one labelled row", ex.Message, StringComparison.Ordinal);
    }

    private sealed class RejectingGate : IModelGate
    {
        public Task<GateResult> EvaluateAsync(RetrainedModel candidate, RetrainContext context, CancellationToken cancellationToken) =>
            Task.FromResult(new GateResult(false, candidate, null, "too slow"));
    }
}
