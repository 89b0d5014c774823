using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Capture;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Tests;

internal sealed class RecordingSink : IAlertSink
{
    public List<AlertNotification> Notifications { get; } = [];

    public Task SendAsync(AlertNotification notification, CancellationToken cancellationToken)
    {
        lock (Notifications)
        {
            Notifications.Add(notification);
        }

        return Task.CompletedTask;
    }
}

public sealed class ModelMonitorTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 8, 0, 0, TimeSpan.Zero));
    private readonly RecordingSink _sink = new();
    private readonly MemoryProfileStore _store = new();

    private ModelMonitor Create(Action<MonitoringOptions>? configure = null, ICaptureSink? capture = null)
    {
        var options = new MonitoringOptions { WindowSize = 200 };
        configure?.Invoke(options);
        return new ModelMonitor(Options.Create(options), _store, [_sink], capture, _time);
    }

    private void Feed(ModelMonitor monitor, ModelVersion version, Random random, int requests, double shift = 0, string? idPrefix = null, List<double>? labels = null)
    {
        for (int i = 0; i < requests; i++)
        {
            (float[] x, float[] logits, double[] truth) = TestData.Rows(random, 1, shift);
            labels?.Add(truth[0]);
            monitor.OnInferenceCompleted(TestData.Observation(version, x, logits, _time.GetUtcNow(), idPrefix is null ? null : $"{idPrefix}-{i}"));
        }
    }

    [Fact]
    public async Task Windows_ShiftComesAndGoes_RuleFiresThenResolvesAndSinksHearBoth()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create(o => o.Rules.Add(new AlertRule { Name = "DatasetDrift", Metric = "drift.detected", Threshold = 1 }));
        var reports = new List<WindowReport>();
        monitor.WindowClosed += reports.Add;
        await monitor.SetReferenceProfileAsync(version, TestData.Profile(version));
        var random = new Random(5);

        Feed(monitor, version, random, 200);
        Feed(monitor, version, random, 200, shift: 1.5);
        Feed(monitor, version, random, 200);
        await monitor.FlushAsync();

        Assert.Equal(3, reports.Count);
        Assert.False(reports[0].DatasetDrift);
        Assert.True(reports[1].DatasetDrift, $"share {reports[1].DriftShare}");
        Assert.True(reports[1].Features.Single(f => f.Feature == "x[0]").Drifted);
        Assert.False(reports[1].Features.Single(f => f.Feature == "x[1]").Drifted);
        Assert.False(reports[2].DatasetDrift);
        Assert.Equal([AlertState.Firing, AlertState.Resolved], _sink.Notifications.Select(n => n.State));
        Assert.Equal(400, _sink.Notifications[0].ObservedRequests);
        Assert.Equal("tabular", _sink.Notifications[0].Labels["model"]);
    }

    [Fact]
    public async Task PostLabelAsync_LabelsByRequestId_GivesMeasuredAccuracyAndF1OfTheWindow()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create();
        var reports = new List<WindowReport>();
        monitor.WindowClosed += reports.Add;
        await monitor.SetReferenceProfileAsync(version, TestData.Profile(version));
        var random = new Random(6);
        var predicted = new List<double>();
        var labels = new List<double>();
        for (int i = 0; i < 199; i++)
        {
            (float[] x, float[] logits, double[] truth) = TestData.Rows(random, 1);
            predicted.Add(Array.IndexOf(logits, logits.Max()));
            labels.Add(truth[0]);
            monitor.OnInferenceCompleted(TestData.Observation(version, x, logits, _time.GetUtcNow(), $"r{i}"));
        }

        for (int i = 0; i < 199; i++)
        {
            Assert.Equal(LabelJoinResult.Joined, await monitor.PostLabelAsync($"r{i}", labels[i]));
        }

        Assert.Equal(LabelJoinResult.UnknownRequestId, await monitor.PostLabelAsync("r0", labels[0]));
        Assert.Equal(LabelJoinResult.UnknownRequestId, await monitor.PostLabelAsync("never-seen", 1));
        Feed(monitor, version, random, 1);
        await monitor.FlushAsync();

        WindowPerformance performance = Assert.Single(reports).Performance;
        double accuracy = predicted.Zip(labels).Count(p => p.First == p.Second) / 199.0;
        double f1 = 0;
        int classes = 0;
        for (int c = 0; c < 4; c++)
        {
            int tp = predicted.Zip(labels).Count(p => p.First == c && p.Second == c);
            int fp = predicted.Zip(labels).Count(p => p.First == c && p.Second != c);
            int fn = predicted.Zip(labels).Count(p => p.First != c && p.Second == c);
            if (tp + fp + fn > 0)
            {
                classes++;
                f1 += 2.0 * tp / ((2 * tp) + fp + fn);
            }
        }

        Assert.Equal(199, performance.LabelledCount);
        Assert.Equal(accuracy, performance.Accuracy, 12);
        Assert.Equal(f1 / classes, performance.MacroF1, 12);
        Assert.InRange(performance.EstimatedAccuracy, accuracy - 0.1, accuracy + 0.1);
        Assert.Equal(TestData.Profile(version).Accuracy!.Value, performance.ReferenceAccuracy, 12);
    }

    [Fact]
    public async Task PostLabelAsync_NonFiniteLabel_ThrowsNamingTheRequest()
    {
        await using ModelMonitor monitor = Create();
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => monitor.PostLabelAsync("r1", double.NaN));
        Assert.Contains("'r1'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Observations_WithNaNAndInfinity_AreCountedAndNeverEnterTheSketches()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create();
        var reports = new List<WindowReport>();
        monitor.WindowClosed += reports.Add;
        await monitor.SetReferenceProfileAsync(version, TestData.Profile(version));
        var random = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            (float[] x, float[] logits, _) = TestData.Rows(random, 1);
            if (i < 10)
            {
                x[0] = i % 2 == 0 ? float.NaN : float.PositiveInfinity;
            }

            monitor.OnInferenceCompleted(TestData.Observation(version, x, logits, _time.GetUtcNow()));
        }

        await monitor.FlushAsync();
        WindowReport report = Assert.Single(reports);
        Assert.Equal(10, report.NonFiniteInputs);
        FeatureDrift x0 = report.Features.Single(f => f.Feature == "x[0]");
        Assert.Equal(190, x0.Count);
        Assert.False(x0.Drifted);
        Assert.True(double.IsFinite(x0.KsStatistic) && double.IsFinite(x0.Psi));
        Assert.Equal(0.05, report.Values["input.nonfinite_per_row"], 12);
    }

    [Fact]
    public async Task OnInferenceCompleted_QueueFull_DropsAndCountsWithoutBlocking()
    {
        ModelVersion version = TestData.Classifier();
        var blocking = new BlockingCapture();
        await using ModelMonitor monitor = Create(o => o.QueueCapacity = 10, blocking);
        var random = new Random(8);
        Feed(monitor, version, random, 1);
        await blocking.Entered.Task;
        Feed(monitor, version, random, 50);

        Assert.Equal(40, monitor.DroppedCount);
        blocking.Release.SetResult();
        await monitor.FlushAsync();
        Assert.Equal(11, monitor.GetState().Single().ObservedRequests);
    }

    [Fact]
    public async Task OnInferenceCompleted_TenPercentSampling_ObservesEveryTenthRequest()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create(o => o.SamplingRate = 0.1);
        Feed(monitor, version, new Random(9), 1000);
        await monitor.FlushAsync();
        Assert.Equal(100, monitor.GetState().Single().ObservedRequests);
    }

    [Fact]
    public async Task OnInferenceCompleted_AfterAnIdleSpell_IsProcessedWithoutAFlush()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create();
        Feed(monitor, version, new Random(12), 1);
        await monitor.FlushAsync();
        Assert.Equal(1, monitor.GetState().Single().ObservedRequests);

        // 100 empty polls of 10 ms park the processing loop; the next observations must still be processed (no FlushAsync).
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Feed(monitor, version, new Random(13), 3);
        for (int i = 0; i < 500 && monitor.GetState().Single().ObservedRequests < 4; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(4, monitor.GetState().Single().ObservedRequests);
    }

    [Fact]
    public async Task Observations_NoStoredProfile_FirstRequestsBecomeTheBaselineAndAreStored()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create(o => o.BaselineSize = 300);
        var reports = new List<WindowReport>();
        monitor.WindowClosed += reports.Add;
        Feed(monitor, version, new Random(10), 500);
        await monitor.FlushAsync();

        ReferenceProfile? stored = null;
        for (int i = 0; i < 100 && stored is null; i++)
        {
            stored = await _store.GetAsync(version);
            await Task.Delay(10);
        }

        Assert.NotNull(stored);
        Assert.Equal("baseline", stored.Source);
        Assert.Equal(300, stored.RowCount);
        Assert.Single(reports);
        Assert.Equal(200, reports[0].RowCount);
        MonitoredModelState state = monitor.GetState().Single();
        Assert.Equal("baseline", state.ProfileSource);
        Assert.False(state.InBaseline);
    }

    [Fact]
    public async Task Windows_WindowDuration_ClosesASmallWindowWhenItIsOldEnough()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create(o =>
        {
            o.WindowDuration = TimeSpan.FromMinutes(1);
            o.WindowSize = 10_000;
        });
        var reports = new List<WindowReport>();
        monitor.WindowClosed += reports.Add;
        await monitor.SetReferenceProfileAsync(version, TestData.Profile(version));
        Feed(monitor, version, new Random(11), 150);
        await monitor.FlushAsync();
        Assert.Empty(reports);

        _time.Advance(TimeSpan.FromMinutes(1));
        await monitor.FlushAsync();
        WindowReport report = Assert.Single(reports);
        Assert.Equal(150, report.RowCount);
        Assert.Equal(TimeSpan.FromMinutes(1), report.End - report.Start);
    }

    [Fact]
    public async Task Windows_DriftValues_AreExportedOnTheMonitoringMeterWithModelFeatureAndMetricTags()
    {
        ModelVersion version = TestData.Classifier();
        var measurements = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "ModelKit.Monitoring")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
        {
            lock (measurements)
            {
                measurements.Add((instrument.Name, value, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));
            }
        });
        listener.Start();

        await using ModelMonitor monitor = Create();
        await monitor.SetReferenceProfileAsync(version, TestData.Profile(version));
        Feed(monitor, version, new Random(12), 200, shift: 2);
        await monitor.FlushAsync();

        var ks = measurements.Where(m => m.Instrument == "modelkit.monitoring.drift" && (string?)m.Tags["modelkit.feature"] == "x[0]" && (string?)m.Tags["modelkit.drift.metric"] == "ks_statistic").ToList();
        Assert.Single(ks);
        Assert.True(ks[0].Value > 0.5);
        Assert.Equal("tabular", ks[0].Tags["modelkit.model.name"]);
        Assert.Equal(1, ks[0].Tags["modelkit.model.version"]);
        Assert.Contains(measurements, m => m.Instrument == "modelkit.monitoring.drift.share");
        Assert.Contains(measurements, m => m.Instrument == "modelkit.monitoring.performance" && (string?)m.Tags["modelkit.drift.metric"] == "estimated_accuracy");
    }

    [Fact]
    public async Task OnInferenceCompleted_OutputMissingFromTheObservation_IsProcessedWithoutThrowing()
    {
        ModelVersion version = TestData.Classifier();
        await using ModelMonitor monitor = Create();
        await monitor.SetReferenceProfileAsync(version, TestData.Profile(version));
        var x = new float[] { 1, 2, 3 };
        monitor.OnInferenceCompleted(new InferenceObservation("tabular", version, TestData.Inputs(x), [], TimeSpan.Zero, _time.GetUtcNow()));
        await monitor.FlushAsync();
        Assert.Equal(1, monitor.GetState().Single().CurrentWindowRows);
    }

    [Fact]
    public async Task SetReferenceProfileAsync_ProfileOfAnotherSignature_ThrowsNamingBothFeatureLists()
    {
        ModelVersion version = TestData.Classifier();
        ReferenceProfile profile = TestData.Profile(version);
        profile.Features.RemoveAt(0);
        await using ModelMonitor monitor = Create();
        var ex = await Assert.ThrowsAsync<ReferenceProfileMismatchException>(() => monitor.SetReferenceProfileAsync(version, profile));
        Assert.Contains("has features [x[1], x[2], logits.class, logits.confidence]", ex.Message, StringComparison.Ordinal);
        Assert.Contains("gives [x[0], x[1]", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The hook's copies are pooled and reused: the caller's buffer changes right after each call (as a server reusing its buffers does), the batch size changes midway, and every captured record still holds the values of its own request.</summary>
    [Fact]
    public async Task OnInferenceCompleted_CallerReusesItsBuffer_EachObservationKeepsItsOwnValues()
    {
        ModelVersion version = TestData.Classifier();
        var capture = new RecordingCapture();
        await using ModelMonitor monitor = Create(capture: capture);
        float[] one = new float[3];
        float[] two = new float[6];
        float[] logits = [0, 1, 0, 0, 1, 0, 0, 0];
        for (int i = 0; i < 300; i++)
        {
            float[] x = i % 100 < 50 ? one : two;
            x.AsSpan().Fill(i);
            int rows = x.Length / 3;
            monitor.OnInferenceCompleted(TestData.Observation(version, x, logits[..(4 * rows)], _time.GetUtcNow()));
            x.AsSpan().Fill(-1);
        }

        await monitor.FlushAsync();
        Assert.Equal(300, capture.Records.Count);
        for (int i = 0; i < 300; i++)
        {
            double[] values = capture.Records[i];
            int rows = i % 100 < 50 ? 1 : 2;
            Assert.Equal(rows * (values.Length / rows), values.Length);
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < 3; j++)
                {
                    Assert.Equal((double)i, values[(r * (values.Length / rows)) + j]);
                }
            }
        }
    }

    private sealed class RecordingCapture : ICaptureSink
    {
        public List<double[]> Records { get; } = [];

        public ValueTask WriteAsync(CaptureRecord record, CancellationToken cancellationToken)
        {
            Records.Add(record.FeatureValues.ToArray());
            return ValueTask.CompletedTask;
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    private sealed class BlockingCapture : ICaptureSink
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask WriteAsync(CaptureRecord record, CancellationToken cancellationToken)
        {
            Entered.TrySetResult();
            await Release.Task.WaitAsync(cancellationToken);
        }

        public ValueTask FlushAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
