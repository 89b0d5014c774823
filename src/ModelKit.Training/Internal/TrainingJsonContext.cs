using System.Text.Json.Serialization;

namespace ModelKit.Training.Internal;

/// <summary>Source-generated JSON for layer specs (the spec digest) and checkpoint headers.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(LayerSpec))]
[JsonSerializable(typeof(CheckpointHeader))]
internal sealed partial class TrainingJsonContext : JsonSerializerContext;
