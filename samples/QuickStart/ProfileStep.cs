using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring;
using ModelKit.Monitoring.Profiles;
using ModelKit.Registry;
using ModelKit.Serving;
using ModelKit.Training.Data;
using Spectre.Console;

namespace QuickStart;

/// <summary>
/// Part of step 4: the version's monitoring reference profile, computed from the trainer's held-out validation split
/// (inputs, the model's outputs through ONNX Runtime, and the true labels, so the profile also records the validation
/// accuracy and the confidence calibration), stored with the version in the registry as the attachment
/// <c>monitoring/reference-profile.json</c>. Serving hosts with <c>AddMonitoring()</c> (samples/DriftMonitoring,
/// samples/InferenceApi) compare live traffic with it.
/// </summary>
internal static class ProfileStep
{
    private const int BatchSize = 1000;

    /// <summary>Attaches a profile to the version <paramref name="alias"/> names now when that is not <paramref name="trained"/> (the compression gate promoted its int8 child, whose outputs differ slightly) and it has none.</summary>
    public static async Task RunForAliasAsync(IServiceProvider provider, ModelVersion trained, string alias, LabeledDataset validation, CancellationToken cancellationToken)
    {
        var registry = provider.GetRequiredService<IModelRegistry>();
        ModelVersion serving = await registry.ResolveAsync(ModelReference.Parse($"{trained.Name}@{alias}"), cancellationToken);
        if (serving.Version != trained.Version
            && !(await registry.ListAttachmentsAsync(serving.Name, serving.Version, cancellationToken)).Any(a => a.Name == RegistryReferenceProfileStore.AttachmentName))
        {
            AnsiConsole.MarkupLine($"  {serving.Name}/{serving.Version} now serves '{alias}': its own reference profile from the same validation images");
            await RunAsync(provider, serving, validation, cancellationToken);
        }
    }

    public static async Task RunAsync(IServiceProvider provider, ModelVersion version, LabeledDataset validation, CancellationToken cancellationToken)
    {
        var builder = new ReferenceProfileBuilder(version);
        string inputName = version.Signature.Inputs[0].Name;
        using (IInferenceSession session = await provider.GetRequiredService<IInferenceSessionFactory>().CreateAsync(version.Reference, cancellationToken))
        {
            for (int start = 0; start < validation.Count; start += BatchSize)
            {
                int n = Math.Min(BatchSize, validation.Count - start);
                NamedTensor[] inputs = [new NamedTensor(inputName, Tensor.Create(validation.Features.Slice(start * validation.SampleSize, n * validation.SampleSize), [n, .. validation.SampleShape]))];
                double[] labels = [.. validation.Labels.Span.Slice(start, n).ToArray().Select(l => (double)l)];
                builder.Add(inputs, session.Run(inputs), labels);
            }
        }

        ReferenceProfile profile = builder.Build("dataset", DateTimeOffset.UtcNow);
        var store = new RegistryReferenceProfileStore(provider.GetRequiredService<IModelRegistry>(), Options.Create(new MonitoringOptions()));
        await store.SaveAsync(version, profile, cancellationToken);
        AnsiConsole.MarkupLine($"  reference profile: {profile.RowCount:N0} validation images, {profile.Features.Count} features, validation accuracy {profile.Accuracy:F4}; attached as {RegistryReferenceProfileStore.AttachmentName}");
    }
}
