using System.Text.Json;
using Microsoft.AspNetCore.Http;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>
/// The model repository extension over REST: <c>POST /v2/repository/index</c> (body <c>{"ready": bool}</c>, optional),
/// <c>POST /v2/repository/models/{name}/load</c> and <c>…/unload</c> (body <c>{"parameters": {…}}</c>, optional).
/// Errors are <c>{"error": "…"}</c> with 400 or 404.
/// </summary>
internal static class ModelRepositoryRestEndpoints
{
    private const int MaxBodyBytes = 64 * 1024;

    public static async Task<IResult> Index(HttpContext context, ModelRepositoryExtension repository, InferenceEndpointHandler handler)
    {
        try
        {
            bool readyOnly = false;
            using JsonDocument? body = await ReadBodyAsync(context);
            if (body is not null)
            {
                foreach (JsonProperty property in body.RootElement.EnumerateObject())
                {
                    if (property.Name == "ready" && property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                    {
                        readyOnly = property.Value.GetBoolean();
                    }
                    else if (property.Name != "repository_name" || property.Value.ValueKind != JsonValueKind.String)
                    {
                        throw InferenceProtocolException.BadRequest($"The index request has a field '{InferenceEndpointHandler.Shorten(property.Name)}' it does not take, or of the wrong type; send {{\"ready\": true|false}}.");
                    }
                }
            }

            List<RepositoryIndexEntry> index = await repository.IndexAsync(readyOnly, context.RequestAborted);
            return Results.Json(index, EndpointsJsonContext.Default.ListRepositoryIndexEntry);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            (int status, string message) = handler.Classify(ex, "rest", "");
            return OipRestEndpoints.Error(status, message);
        }
    }

    public static Task<IResult> Load(HttpContext context, string name, ModelRepositoryExtension repository, InferenceEndpointHandler handler) =>
        Run(context, name, unload: false, repository, handler);

    public static Task<IResult> Unload(HttpContext context, string name, ModelRepositoryExtension repository, InferenceEndpointHandler handler) =>
        Run(context, name, unload: true, repository, handler);

    private static async Task<IResult> Run(HttpContext context, string name, bool unload, ModelRepositoryExtension repository, InferenceEndpointHandler handler)
    {
        try
        {
            var parameters = new List<KeyValuePair<string, object?>>();
            using JsonDocument? body = await ReadBodyAsync(context);
            if (body is not null)
            {
                foreach (JsonProperty property in body.RootElement.EnumerateObject())
                {
                    if (property.Name != "parameters" || property.Value.ValueKind != JsonValueKind.Object)
                    {
                        throw InferenceProtocolException.BadRequest($"The {(unload ? "unload" : "load")} request has a field '{InferenceEndpointHandler.Shorten(property.Name)}' it does not take; send {{\"parameters\": {{...}}}} or no body.");
                    }

                    foreach (JsonProperty parameter in property.Value.EnumerateObject())
                    {
                        object? value = parameter.Value.ValueKind switch
                        {
                            JsonValueKind.String => parameter.Value.GetString(),
                            JsonValueKind.True or JsonValueKind.False => parameter.Value.GetBoolean(),
                            JsonValueKind.Number when parameter.Value.TryGetInt64(out long whole) => whole,
                            _ => parameter.Value.Clone(),
                        };
                        parameters.Add(new(parameter.Name, value));
                    }
                }
            }

            string? version = ModelRepositoryExtension.CheckParameters(parameters, unload);
            if (unload)
            {
                await repository.UnloadAsync(name, version, context.RequestAborted);
            }
            else
            {
                await repository.LoadAsync(name, version, context.RequestAborted);
            }

            return Results.Ok();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            (int status, string message) = handler.Classify(ex, "rest", name);
            return OipRestEndpoints.Error(status, message);
        }
    }

    private static async Task<JsonDocument?> ReadBodyAsync(HttpContext context)
    {
        if (context.Request.ContentLength is > MaxBodyBytes)
        {
            throw new InferenceProtocolException(413, $"The request body is {context.Request.ContentLength} bytes; repository requests take at most {MaxBodyBytes}.");
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[4096];
        int read;
        while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new InferenceProtocolException(413, $"The request body is more than the {MaxBodyBytes} bytes repository requests take.");
            }

            buffer.Write(chunk, 0, read);
        }

        if (buffer.Length == 0)
        {
            return null;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(buffer.ToArray());
        }
        catch (JsonException ex)
        {
            throw InferenceProtocolException.BadRequest($"The request body is not valid JSON: {ex.Message}");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw InferenceProtocolException.BadRequest("The request body must be a JSON object.");
        }

        return document;
    }
}
