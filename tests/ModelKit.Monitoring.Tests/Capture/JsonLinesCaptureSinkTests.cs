using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using ModelKit.Monitoring.Capture;
using ModelKit.Registry;

namespace ModelKit.Monitoring.Tests.Capture;

public sealed class JsonLinesCaptureSinkTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"modelkit-capture-{Guid.NewGuid():N}");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 8, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    private async Task<List<JsonElement>> CaptureAsync(CaptureOptions capture, int requests)
    {
        ModelVersion version = TestData.Classifier();
        var sink = new JsonLinesCaptureSink(_directory, capture, _time);
        await using (sink)
        {
            await using var monitor = new ModelMonitor(Options.Create(new MonitoringOptions()), new MemoryProfileStore(), [], sink, _time);
            await monitor.SetReferenceProfileAsync(version, TestData.Profile(version, 500));
            var random = new Random(1);
            for (int i = 0; i < requests; i++)
            {
                (float[] x, float[] logits, _) = TestData.Rows(random, 1);
                monitor.OnInferenceCompleted(TestData.Observation(version, x, logits, _time.GetUtcNow(), $"req-{i}"));
                await monitor.FlushAsync();
                _time.Advance(TimeSpan.FromMinutes(1));
            }

            Assert.Equal(LabelJoinResult.Joined, await monitor.PostLabelAsync("req-0", 2));
            await monitor.FlushAsync();
        }

        var lines = new List<JsonElement>();
        foreach (string file in Directory.GetFiles(_directory, "capture-*.jsonl").Order(StringComparer.Ordinal))
        {
            foreach (string line in await File.ReadAllLinesAsync(file))
            {
                lines.Add(JsonDocument.Parse(line).RootElement.Clone());
            }
        }

        return lines;
    }

    [Fact]
    public async Task WriteAsync_Predictions_WritesOneJsonLinePerRequestWithIdModelVersionTimeAndRawTensors()
    {
        List<JsonElement> lines = await CaptureAsync(new CaptureOptions(), 3);
        Assert.Equal(4, lines.Count);
        JsonElement first = lines[0];
        Assert.Equal("prediction", first.GetProperty("kind").GetString());
        Assert.Equal("req-0", first.GetProperty("requestId").GetString());
        Assert.Equal("tabular", first.GetProperty("model").GetString());
        Assert.Equal(1, first.GetProperty("version").GetInt32());
        Assert.Equal("2026-12-02T08:00:00.0000000Z", first.GetProperty("timestamp").GetString());
        Assert.Equal(3, first.GetProperty("inputs")[0].GetProperty("data").GetArrayLength());
        Assert.Equal(1, first.GetProperty("features").GetProperty("logits.class").GetArrayLength());
        JsonElement label = lines[^1];
        Assert.Equal("label", label.GetProperty("kind").GetString());
        Assert.Equal("req-0", label.GetProperty("requestId").GetString());
        Assert.Equal(2, label.GetProperty("label").GetDouble());
    }

    [Fact]
    public async Task WriteAsync_SummariesOnly_StoresFeaturesButNoRawInputsOrOutputs()
    {
        List<JsonElement> lines = await CaptureAsync(new CaptureOptions { SummariesOnly = true }, 2);
        Assert.All(lines.Where(l => l.GetProperty("kind").GetString() == "prediction"), l =>
        {
            Assert.False(l.TryGetProperty("inputs", out _));
            Assert.False(l.TryGetProperty("outputs", out _));
            Assert.True(l.GetProperty("features").TryGetProperty("x[0]", out _));
        });
    }

    [Fact]
    public async Task WriteAsync_FileOlderThanMaxAge_RotatesToANewFile()
    {
        await CaptureAsync(new CaptureOptions { MaxFileAge = TimeSpan.FromMinutes(2) }, 5);
        Assert.Equal(3, Directory.GetFiles(_directory, "capture-*.jsonl").Length);
    }

    [Fact]
    public async Task WriteAsync_FileLargerThanMaxBytes_RotatesToANewFile()
    {
        await CaptureAsync(new CaptureOptions { MaxFileBytes = 1024 }, 6);
        Assert.True(Directory.GetFiles(_directory, "capture-*.jsonl").Length >= 2);
    }
}
