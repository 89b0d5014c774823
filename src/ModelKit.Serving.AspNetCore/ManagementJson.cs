using System.Text.Json;
using ModelKit.Registry;
using ModelKit.Serving.AspNetCore.Internal;

namespace ModelKit.Serving.AspNetCore;

/// <summary>
/// The JSON documents of the management endpoints (<c>MapModelKitManagement</c>, under <c>/modelkit/v1</c>), for tools
/// that print or store the same representation the endpoints send (the <c>modelkit show</c> command does).
/// </summary>
public static class ManagementJson
{
    /// <summary>
    /// Serializes <paramref name="version"/> as <c>GET /modelkit/v1/models/{name}/versions/{version}</c> answers it: an
    /// object with snake_case members (like the protocol) <c>name</c>, <c>version</c>, <c>digest</c>, <c>size_bytes</c>,
    /// <c>format</c>, <c>created_at</c> (ISO 8601), <c>description</c>, <c>inputs</c> and <c>outputs</c> (each <c>name</c>,
    /// <c>datatype</c> in Open Inference Protocol terms such as <c>FP32</c>, and <c>shape</c> with -1 for a dynamic
    /// dimension), <c>metrics</c>, <c>tags</c>, <c>lineage</c> and <c>aliases</c> (the names in
    /// <paramref name="aliases"/> that point at this version, in ordinal order).
    /// </summary>
    /// <param name="version">The version to describe.</param>
    /// <param name="aliases">The model's aliases, alias to version number (<c>IModelRegistry.GetAliasesAsync</c>).</param>
    /// <param name="writeIndented">Whether to indent the JSON for people to read.</param>
    /// <returns>The JSON document.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="version"/> or <paramref name="aliases"/> is <see langword="null"/>.</exception>
    public static string SerializeVersion(ModelVersion version, IReadOnlyDictionary<string, int> aliases, bool writeIndented = false)
    {
        ArgumentNullException.ThrowIfNull(version);
        ArgumentNullException.ThrowIfNull(aliases);
        var options = new JsonSerializerOptions(EndpointsJsonContext.Default.Options) { WriteIndented = writeIndented };
        return JsonSerializer.Serialize(VersionBody.From(version, aliases), options.GetTypeInfo(typeof(VersionBody)));
    }
}
