using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace ModelKit.Registry.Internal;

/// <summary>Text forms shared by the metadata stores: timestamps, JSON columns and JSON paths of validated keys.</summary>
internal static class RegistryText
{
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    /// <summary>UTC, 100 ns precision, sortable as text.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTime(string text) =>
        DateTimeOffset.ParseExact(text, TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>Truncates to the precision stored (100 ns ticks survive; offsets become UTC).</summary>
    public static DateTimeOffset Normalize(DateTimeOffset time) => ParseTime(FormatTime(time));

    public static string SerializeSignature(ModelSignature signature) => JsonSerializer.Serialize(signature, RegistryJsonContext.Default.ModelSignature);

    public static string SerializeMetrics(IReadOnlyDictionary<string, double> metrics) =>
        JsonSerializer.Serialize(new Dictionary<string, double>(metrics, StringComparer.Ordinal), RegistryJsonContext.Default.DictionaryStringDouble);

    public static string SerializeTags(IReadOnlyDictionary<string, string> tags) =>
        JsonSerializer.Serialize(new Dictionary<string, string>(tags, StringComparer.Ordinal), RegistryJsonContext.Default.DictionaryStringString);

    public static string SerializeLineage(ModelLineage lineage) => JsonSerializer.Serialize(lineage, RegistryJsonContext.Default.ModelLineage);

    public static ModelSignature DeserializeSignature(string json) => Deserialize(json, RegistryJsonContext.Default.ModelSignature);

    public static Dictionary<string, double> DeserializeMetrics(string json) => Deserialize(json, RegistryJsonContext.Default.DictionaryStringDouble);

    public static Dictionary<string, string> DeserializeTags(string json) => Deserialize(json, RegistryJsonContext.Default.DictionaryStringString);

    public static ModelLineage DeserializeLineage(string json) => Deserialize(json, RegistryJsonContext.Default.ModelLineage);

    /// <summary>A JSON path to a top-level key; keys are validated to <c>[A-Za-z0-9_.:/-]</c>, so quoting is safe.</summary>
    public static string JsonPath(string key) => "$.\"" + key + "\"";

    /// <summary>Applies an update to a copy of the stored tags and metrics.</summary>
    public static (Dictionary<string, string> Tags, Dictionary<string, double> Metrics) Apply(
        IReadOnlyDictionary<string, string> tags, IReadOnlyDictionary<string, double> metrics, ModelVersionUpdate update)
    {
        var newTags = new Dictionary<string, string>(tags, StringComparer.Ordinal);
        var newMetrics = new Dictionary<string, double>(metrics, StringComparer.Ordinal);
        foreach (string key in update.RemoveTags)
        {
            newTags.Remove(key);
        }

        foreach (string key in update.RemoveMetrics)
        {
            newMetrics.Remove(key);
        }

        foreach (KeyValuePair<string, string> tag in update.SetTags)
        {
            newTags[tag.Key] = tag.Value;
        }

        foreach (KeyValuePair<string, double> metric in update.SetMetrics)
        {
            newMetrics[metric.Key] = metric.Value;
        }

        return (newTags, newMetrics);
    }

    private static T Deserialize<T>(string json, JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(json, typeInfo) ?? throw new FormatException($"The JSON column holds null where a {typeof(T).Name} was expected.");
}
