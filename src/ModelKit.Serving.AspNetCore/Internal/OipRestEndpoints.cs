using System.Buffers;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>The Open Inference Protocol v2 REST endpoints (specification/protocol/inference_rest.md).</summary>
internal static class OipRestEndpoints
{
    public const string HeaderContentLength = "Inference-Header-Content-Length";
    public static readonly string ServerVersion = typeof(OipRestEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
    public static readonly string[] Extensions = ["binary_tensor_data"];

    public static IResult Live() => Results.Ok();

    public static IResult Ready(InferenceEndpointHandler handler) =>
        handler.IsServerReady ? Results.Ok() : Error(503, handler.ReadinessText);

    public static IResult ServerMetadata(InferenceEndpointHandler handler, ModelRepositoryExtension repository) =>
        Results.Json(new ServerMetadataBody(handler.Options.ServerName, ServerVersion, repository.Extensions), EndpointsJsonContext.Default.ServerMetadataBody);

    public static async Task<IResult> ModelMetadata(string name, string? version, InferenceEndpointHandler handler, CancellationToken cancellationToken)
    {
        try
        {
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, cancellationToken);
            OipModelMetadata metadata = await handler.GetMetadataAsync(reference, cancellationToken);
            return Results.Json(
                new ModelMetadataBody(metadata.Name, metadata.Versions, OipTensors.Platform, ToBody(metadata.Inputs), ToBody(metadata.Outputs)),
                EndpointsJsonContext.Default.ModelMetadataBody);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            (int status, string message) = handler.Classify(ex, "rest", name);
            return Error(status, message);
        }
    }

    public static async Task<IResult> ModelReady(string name, string? version, InferenceEndpointHandler handler, CancellationToken cancellationToken)
    {
        try
        {
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, cancellationToken);
            return await handler.IsLoadedAsync(reference, cancellationToken)
                ? Results.Ok()
                : Error(503, $"Model '{reference}' is registered but not loaded; it loads on its first inference request or through the management 'load' endpoint.");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            (int status, string message) = handler.Classify(ex, "rest", name);
            return Error(status, message);
        }
    }

    public static async Task Infer(HttpContext context)
    {
        InferenceEndpointHandler handler = context.RequestServices.GetRequiredService<InferenceEndpointHandler>();
        string name = (string)context.Request.RouteValues["name"]!;
        string? version = context.Request.RouteValues["version"] as string;
        byte[]? buffer = null;
        int status;
        try
        {
            int maxBytes = handler.Options.MaxRequestBodyBytes;
            IHttpMaxRequestBodySizeFeature? sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (sizeFeature is { IsReadOnly: false })
            {
                sizeFeature.MaxRequestBodySize = maxBytes;
            }

            if (context.Request.ContentLength > maxBytes)
            {
                throw new InferenceProtocolException(413, string.Create(CultureInfo.InvariantCulture, $"The request body is {context.Request.ContentLength} bytes, more than the {maxBytes} this server accepts; send smaller batches."));
            }

            (buffer, int length) = await ReadBodyAsync(context.Request.Body, context.Request.ContentLength, maxBytes, context.RequestAborted);
            ReadOnlySpan<byte> body = buffer.AsSpan(0, length);
            int jsonLength = length;
            bool hasBinary = false;
            if (context.Request.Headers.TryGetValue(HeaderContentLength, out var headerValue))
            {
                if (!int.TryParse(headerValue.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out jsonLength) || jsonLength > length)
                {
                    throw InferenceProtocolException.BadRequest(string.Create(
                        CultureInfo.InvariantCulture,
                        $"The {HeaderContentLength} header is '{InferenceEndpointHandler.Shorten(headerValue.ToString())}'; it must be the JSON part's length in bytes, at most the body's {length}."));
                }

                hasBinary = true;
            }

            OipInferenceRequest request = OipJsonCodec.ReadRequest(body[..jsonLength], body[jsonLength..], hasBinary, handler.Limits);
            ModelReference reference = await handler.ResolveReferenceAsync(name, version, context.RequestAborted);
            InferenceResult result = await handler.InferAsync(reference, request, null, context.RequestAborted);
            (List<NamedTensor> outputs, bool[] binary) = InferenceEndpointHandler.SelectOutputs(name, result, request);
            await WriteResponseAsync(context, name, result.ModelVersion.Version, request.Id, outputs, binary);
            status = 200;
        }
        catch (BadHttpRequestException ex)
        {
            status = ex.StatusCode;
            await WriteErrorAsync(context, status, ex.StatusCode == 413 ? $"The request body is larger than the {handler.Options.MaxRequestBodyBytes} bytes this server accepts; send smaller batches." : ex.Message, handler);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            (status, string message) = handler.Classify(ex, "rest", name);
            if (!context.RequestAborted.IsCancellationRequested)
            {
                await WriteErrorAsync(context, status, message, handler);
            }
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        handler.CountRequest("rest", status);
    }

    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(Stream body, long? contentLength, int maxBytes, CancellationToken cancellationToken)
    {
        // Never more than maxBytes + 1 bytes: one byte past the limit proves the body too large.
        int limit = maxBytes + 1;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Min(contentLength is long n and > 0 ? (int)n + 1 : 16 * 1024, limit));
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)buffer.Length * 2, limit));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, limit) - length), cancellationToken);
                if (read == 0)
                {
                    return (buffer, length);
                }

                length += read;
                if (length > maxBytes)
                {
                    throw new InferenceProtocolException(413, string.Create(CultureInfo.InvariantCulture, $"The request body is larger than the {maxBytes} bytes this server accepts; send smaller batches."));
                }
            }
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    private static async Task WriteResponseAsync(HttpContext context, string model, int version, string? id, List<NamedTensor> outputs, bool[] binary)
    {
        bool anyBinary = Array.IndexOf(binary, true) >= 0;
        HttpResponse response = context.Response;
        response.StatusCode = 200;
        if (!anyBinary)
        {
            response.ContentType = "application/json";
            await using var direct = new Utf8JsonWriter(response.BodyWriter, new JsonWriterOptions { SkipValidation = true });
            OipJsonCodec.WriteResponse(direct, model, version, id, outputs, binary);
            await direct.FlushAsync(context.RequestAborted);
            return;
        }

        var json = new ArrayBufferWriter<byte>(1024);
        await using (var writer = new Utf8JsonWriter(json, new JsonWriterOptions { SkipValidation = true }))
        {
            OipJsonCodec.WriteResponse(writer, model, version, id, outputs, binary);
        }

        long total = json.WrittenCount;
        for (int i = 0; i < outputs.Count; i++)
        {
            if (binary[i])
            {
                total += OipTensors.RawLength(outputs[i].Value);
            }
        }

        response.ContentType = "application/octet-stream";
        response.Headers[HeaderContentLength] = json.WrittenCount.ToString(CultureInfo.InvariantCulture);
        response.ContentLength = total;
        await response.Body.WriteAsync(json.WrittenMemory, context.RequestAborted);
        for (int i = 0; i < outputs.Count; i++)
        {
            if (binary[i])
            {
                int n = (int)OipTensors.RawLength(outputs[i].Value);
                Memory<byte> target = response.BodyWriter.GetMemory(n)[..n];
                OipTensors.WriteRaw(outputs[i].Value, target.Span);
                response.BodyWriter.Advance(n);
            }
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static async Task WriteErrorAsync(HttpContext context, int status, string message, InferenceEndpointHandler handler)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.Clear();
        context.Response.StatusCode = status;
        if (status == 429)
        {
            context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(handler.Options.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(OipJsonCodec.ErrorBody(message), context.RequestAborted);
    }

    public static IResult Error(int status, string message) =>
        Results.Json(new ErrorBody(message), EndpointsJsonContext.Default.ErrorBody, statusCode: status);

    private static TensorMetadataBody[] ToBody(IReadOnlyList<TensorSpec> specs)
    {
        var result = new TensorMetadataBody[specs.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = new TensorMetadataBody(specs[i].Name, OipTensors.Datatype(specs[i].ElementType), [.. specs[i].Shape]);
        }

        return result;
    }
}
