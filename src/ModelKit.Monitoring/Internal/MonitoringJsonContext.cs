using System.Text.Json.Serialization;
using ModelKit.Monitoring.Profiles;

namespace ModelKit.Monitoring.Internal;

/// <summary>Source-generated JSON for stored profiles.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, UseStringEnumConverter = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(ReferenceProfile))]
internal sealed partial class MonitoringJsonContext : JsonSerializerContext;
