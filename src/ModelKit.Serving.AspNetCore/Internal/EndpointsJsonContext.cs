using System.Text.Json.Serialization;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

internal sealed record ErrorBody(string Error);

internal sealed record ServerMetadataBody(string Name, string Version, IReadOnlyList<string> Extensions);

internal sealed record TensorMetadataBody(string Name, string Datatype, long[] Shape);

internal sealed record ModelMetadataBody(string Name, IReadOnlyList<string> Versions, string Platform, TensorMetadataBody[] Inputs, TensorMetadataBody[] Outputs);

internal sealed record ModelListBody(IReadOnlyList<string> Models);

internal sealed record VersionSummaryBody(int Version, string Digest, long SizeBytes, DateTimeOffset CreatedAt, string? Description);

internal sealed record ModelSummaryBody(string Name, IReadOnlyList<VersionSummaryBody> Versions, IReadOnlyDictionary<string, int> Aliases);

internal sealed record LineageBody(int? ParentVersion, string? TrainingRunId, string? DatasetDigest, string? CompressionRecipe, IReadOnlyDictionary<string, string> Parameters);

internal sealed record VersionBody(
    string Name,
    int Version,
    string Digest,
    long SizeBytes,
    string Format,
    DateTimeOffset CreatedAt,
    string? Description,
    TensorMetadataBody[] Inputs,
    TensorMetadataBody[] Outputs,
    IReadOnlyDictionary<string, double> Metrics,
    IReadOnlyDictionary<string, string> Tags,
    LineageBody Lineage,
    IReadOnlyList<string> Aliases)
{
    public static VersionBody From(ModelVersion v, IReadOnlyDictionary<string, int> aliases)
    {
        var names = new List<string>();
        foreach (KeyValuePair<string, int> a in aliases)
        {
            if (a.Value == v.Version)
            {
                names.Add(a.Key);
            }
        }

        names.Sort(StringComparer.Ordinal);
        return new VersionBody(
            v.Name, v.Version, v.Digest, v.SizeBytes, v.Format, v.CreatedAt, v.Description,
            Tensors(v.Signature.Inputs), Tensors(v.Signature.Outputs), v.Metrics, v.Tags,
            new LineageBody(v.Lineage.ParentVersion, v.Lineage.TrainingRunId, v.Lineage.DatasetDigest, v.Lineage.CompressionRecipe, v.Lineage.Parameters),
            names);
    }

    private static TensorMetadataBody[] Tensors(IReadOnlyList<TensorSpec> specs) =>
        [.. specs.Select(s => new TensorMetadataBody(s.Name, s.ElementType == TensorElementType.Undefined ? "UNDEFINED" : OipTensors.Datatype(s.ElementType), [.. s.Shape]))];
}

internal sealed record SetAliasBody(int Version, int? ExpectedVersion);

internal sealed record AliasBody(string Name, string Alias, int Version, int? PreviousVersion);

internal sealed record AliasConflictBody(string Error, string Name, string Alias, int? CurrentVersion, int? ExpectedVersion);

internal sealed record AliasHistoryEntryBody(int? OldVersion, int? NewVersion, DateTimeOffset ChangedAt, string? ChangedBy, string? Reason);

internal sealed record AliasHistoryBody(string Name, string Alias, IReadOnlyList<AliasHistoryEntryBody> Changes);

internal sealed record LoadedModelBody(string Reference, string Name, int Version, string ExecutionProvider, long SizeBytes, DateTimeOffset LastUsed);

internal sealed record LoadedModelsBody(IReadOnlyList<LoadedModelBody> Models);

/// <summary>Source-generated JSON for every body the endpoints read or write; snake_case like the protocol.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ErrorBody))]
[JsonSerializable(typeof(ServerMetadataBody))]
[JsonSerializable(typeof(ModelMetadataBody))]
[JsonSerializable(typeof(ModelListBody))]
[JsonSerializable(typeof(ModelSummaryBody))]
[JsonSerializable(typeof(VersionBody))]
[JsonSerializable(typeof(SetAliasBody))]
[JsonSerializable(typeof(AliasBody))]
[JsonSerializable(typeof(AliasConflictBody))]
[JsonSerializable(typeof(AliasHistoryBody))]
[JsonSerializable(typeof(LoadedModelsBody))]
[JsonSerializable(typeof(LoadedModelBody))]
[JsonSerializable(typeof(List<RepositoryIndexEntry>))]
internal sealed partial class EndpointsJsonContext : JsonSerializerContext;
