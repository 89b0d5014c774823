using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Compression;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Training.Data;
using Spectre.Console;

namespace QuickStart;

/// <summary>
/// Step 6 of the quick start: dynamic int8 quantization of the trained MLP through the compression gate. The gate measures
/// fp32 and int8 on this host (test accuracy through ONNX Runtime, size, p50 latency at batch 1 and 64), registers the int8
/// model as the next version with its parent and recipe, and moves the alias only when every threshold holds.
/// </summary>
internal static class CompressStep
{
    private const int EvaluationBatchSize = 1000;

    /// <summary>The gate's thresholds: at most 0.3 percentage points of accuracy lost, at most 0.27x the size, at least 1.5x faster at batch 64.</summary>
    private static readonly CompressionThresholds s_thresholds = new() { MaxMetricDrop = 0.003, MaxSizeRatio = 0.27, MinSpeedupBatch64 = 1.5 };

    public static async Task<int> RunAsync(IServiceProvider provider, ModelVersion parent, string alias, LabeledDataset test, CancellationToken cancellationToken)
    {
        AnsiConsole.MarkupLine($"[bold]6.[/] {Markup.Escape($"Compress {parent.Name}/{parent.Version} to dynamic int8 through the gate; move '{alias}' only if it passes")}");
        var batches = new List<IReadOnlyList<NamedTensor>>();
        long[] sampleShape = [.. test.SampleShape];
        string inputName = parent.Signature.Inputs[0].Name;
        for (int start = 0; start < test.Count; start += EvaluationBatchSize)
        {
            int n = Math.Min(EvaluationBatchSize, test.Count - start);
            var pixels = test.Features.Slice(start * test.SampleSize, n * test.SampleSize);
            batches.Add([new NamedTensor(inputName, Tensor.Create(pixels, [n, .. sampleShape]))]);
        }

        var recipe = new CompressionRecipe([new DynamicQuantizationStep { PerChannel = true }]);
        var request = new CompressionGateRequest(parent.Reference, recipe, new CompressionEvaluation(batches, test.Labels, EvaluationMetric.Accuracy))
        {
            Thresholds = s_thresholds,
            Alias = alias,
            Description = "The quick start's MLP, dynamic int8 (per-channel weights)",
        };
        CompressionGateReport report = await provider.GetRequiredService<ICompressionGate>().RunAsync(request, cancellationToken);

        ModelMeasurement fp32 = report.ParentMeasurement, int8 = report.CandidateMeasurement;
        var table = new Table().AddColumns(
            "measured through ONNX Runtime on this host",
            $"fp32 ({report.Parent.Name}/{report.Parent.Version})",
            $"int8 ({report.Candidate.Name}/{report.Candidate.Version})",
            "int8 / fp32");
        table.AddRow("size (bytes)", N(fp32.SizeBytes), N(int8.SizeBytes), F($"{(double)int8.SizeBytes / fp32.SizeBytes:F3}x"));
        table.AddRow("test accuracy", F($"{fp32.Metric:F4}"), F($"{int8.Metric:F4}"), F($"{(int8.Metric - fp32.Metric) * 100:+0.00;-0.00} pp"));
        table.AddRow("p50 latency, batch 1 (µs)", Micro(fp32.LatencyBatch1), Micro(int8.LatencyBatch1), F($"{fp32.LatencyBatch1 / int8.LatencyBatch1:F2}x faster"));
        table.AddRow("p50 latency, batch 64 (µs)", Micro(fp32.LatencyBatch64), Micro(int8.LatencyBatch64), F($"{fp32.LatencyBatch64 / int8.LatencyBatch64:F2}x faster"));
        AnsiConsole.Write(table);
        foreach (GateCheck check in report.Checks)
        {
            AnsiConsole.MarkupLine($"  {(check.Passed ? "[green]pass[/]" : "[red]FAIL[/]")} {Markup.Escape(check.Description)}");
        }

        AnsiConsole.MarkupLine($"  lineage of {report.Candidate.Name}/{report.Candidate.Version}: parent version {report.Candidate.Lineage.ParentVersion}, recipe {Markup.Escape(report.Candidate.Lineage.CompressionRecipe ?? "(none)")}");
        AnsiConsole.MarkupLine($"Gate decision: {Markup.Escape(report.Decision)}");
        ModelVersion now = await provider.GetRequiredService<IModelRegistry>().ResolveAsync(ModelReference.Parse($"{parent.Name}@{alias}"), cancellationToken);
        AnsiConsole.MarkupLine($"'{alias}' now points at {now.Name}/{now.Version}");
        return 0;
    }

    private static string N(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string F(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Micro(TimeSpan t) => t.TotalMicroseconds.ToString("F1", CultureInfo.InvariantCulture);
}
