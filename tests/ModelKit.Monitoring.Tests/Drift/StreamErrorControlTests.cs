using Xunit.Abstractions;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Internal;
using ModelKit.Registry;

namespace ModelKit.Monitoring.Tests.Drift;

/// <summary>
/// False alarms over whole streams and detection delay, on the real window path (feature extraction, window sketches,
/// KS and chi-squared against a 5,000-row reference, the configured correction).
/// </summary>
public sealed class StreamErrorControlTests
{
    private readonly ITestOutputHelper _output;

    public StreamErrorControlTests(ITestOutputHelper output) => _output = output;

    private const int Streams = 100;
    private const int WindowsPerStream = 50;
    private const int WindowSize = 200;

    private static (int AlarmedStreams, long LatestFirstAlarmRow) Run(DriftCorrection correction, int streams, double shift, int seed)
    {
        ModelVersion version = TestData.Classifier();
        var options = new MonitoringOptions { Correction = correction, WindowSize = WindowSize };
        var profile = TestData.Profile(version, 5000, seed);
        var time = new FakeTimeProvider();
        int alarmed = 0;
        long firstAlarm = -1;
        for (int s = 0; s < streams; s++)
        {
            var state = new MonitoredVersion(version, options, [], time.GetUtcNow());
            state.UseProfile(profile, time.GetUtcNow());
            var random = new Random((seed * 1000) + s);
            for (int w = 0; w < WindowsPerStream; w++)
            {
                (float[] x, float[] logits, _) = TestData.Rows(random, WindowSize, shift);
                double[] rows = state.Extractor.Extract(TestData.Inputs(x), TestData.Outputs(logits), out long nonFinite);
                state.Add(rows, nonFinite, TimeSpan.Zero);
                WindowReport report = state.CloseWindow(time.GetUtcNow(), 0);
                if (report.Features.Any(f => f.Drifted))
                {
                    alarmed++;
                    firstAlarm = Math.Max(firstAlarm, (w + 1L) * WindowSize);

                    break;
                }
            }
        }

        return (alarmed, firstAlarm);
    }

    [Fact]
    public void AlphaSpending_UnshiftedStreamsOfTenThousandRows_FalseAlarmInAtMostAlphaOfThem()
    {
        (int alarmed, _) = Run(DriftCorrection.AlphaSpending, Streams, 0, 1);
        _output.WriteLine($"alpha spending: {alarmed} of {Streams} unshifted streams alarmed");

        // α = 0.05 bounds the family-wise error over all 50 windows × 5 features; allow two binomial standard deviations.
        Assert.True(alarmed <= 9, $"{alarmed} of {Streams} unshifted streams raised a false alarm");
    }

    [Fact]
    public void NoCorrection_UnshiftedStreams_FalseAlarmInMostOfThem()
    {
        // The failure mode of per-window tests at p < 0.05 that the correction exists for.
        (int alarmed, _) = Run(DriftCorrection.None, 40, 0, 2);
        _output.WriteLine($"no correction: {alarmed} of 40 unshifted streams alarmed");
        Assert.True(alarmed >= 30, $"only {alarmed} of 40 streams alarmed without correction");
    }

    [Fact]
    public void AlphaSpending_HalfStandardDeviationShiftOfOneColumn_IsDetectedInTheFirstWindow()
    {
        (int alarmed, long first) = Run(DriftCorrection.AlphaSpending, 20, 0.5, 3);
        Assert.Equal(20, alarmed);
        Assert.Equal(WindowSize, first);
    }
}
