using System.Data.Common;
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

    /// <summary>
    /// Reads one <see cref="ModelVersion"/> row of both metadata stores (columns: name, version, digest, size_bytes, format,
    /// signature, metrics, tags, lineage, description, created_at, archived).
    /// </summary>
    /// <param name="reader">The reader, on the row.</param>
    /// <param name="readTime">Reads column 10 (SQLite keeps text, PostgreSQL timestamptz).</param>
    /// <param name="where">Where the row lives, for the message, for example <c>'/data/registry.db'</c>.</param>
    /// <returns>The version.</returns>
    /// <exception cref="ModelKitException">A JSON column or a value cannot be read.</exception>
    public static ModelVersion ReadVersion(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> readTime, string where)
    {
        string name = reader.GetString(0);
        int version = reader.GetInt32(1);
        try
        {
            return new ModelVersion
            {
                Name = name,
                Version = version,
                Digest = reader.GetString(2),
                SizeBytes = reader.GetInt64(3),
                Format = reader.GetString(4),
                Signature = DeserializeSignature(reader.GetString(5)),
                Metrics = DeserializeMetrics(reader.GetString(6)),
                Tags = DeserializeTags(reader.GetString(7)),
                Lineage = DeserializeLineage(reader.GetString(8)),
                Description = reader.IsDBNull(9) ? null : reader.GetString(9),
                CreatedAt = readTime(reader, 10),
                IsArchived = reader.GetFieldType(11) == typeof(bool) ? reader.GetBoolean(11) : reader.GetInt64(11) != 0,
            };
        }
        catch (Exception ex) when (ex is JsonException or FormatException or InvalidCastException)
        {
            throw new ModelKitException(
                $"The metadata of model '{name}' version {version} in {where} cannot be read: {ex.Message} " +
                "The database was edited outside ModelKit or written by an incompatible version; restore it from a backup.", ex);
        }
    }

    private static T Deserialize<T>(string json, JsonTypeInfo<T> typeInfo) =>
        JsonSerializer.Deserialize(json, typeInfo) ?? throw new FormatException($"The JSON column holds null where a {typeof(T).Name} was expected.");
}
