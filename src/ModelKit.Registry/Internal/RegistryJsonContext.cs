using System.Text.Json.Serialization;

namespace ModelKit.Registry.Internal;

/// <summary>
/// Source-generated JSON for the registry's JSON columns. Property names are camelCase and element types are
/// written by name (<c>"elementType": "Float"</c>); both are part of the on-disk format and must not change.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ModelSignature))]
[JsonSerializable(typeof(ModelLineage))]
[JsonSerializable(typeof(Dictionary<string, double>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class RegistryJsonContext : JsonSerializerContext;
