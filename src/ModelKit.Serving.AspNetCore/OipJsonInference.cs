using System.Buffers;
using System.Text.Json;
using ModelKit.Registry;
using ModelKit.Serving.AspNetCore.Internal;

namespace ModelKit.Serving.AspNetCore;

/// <summary>
/// Runs one Open Inference Protocol v2 REST inference request (the JSON body of
/// <c>POST /v2/models/{name}[/versions/{version}]/infer</c>, without the binary tensor data extension) in-process,
/// without HTTP, through the same codec, limits (<see cref="InferenceEndpointsOptions"/>) and session pool as the
/// endpoints, and returns the JSON response body the endpoint would send. For command-line tools, queue consumers and
/// tests that speak the protocol's JSON. <c>AddInferenceEndpoints()</c> registers it as a singleton; it is thread-safe.
/// </summary>
public sealed class OipJsonInference
{
    private readonly InferenceEndpointHandler _handler;

    internal OipJsonInference(InferenceEndpointHandler handler) => _handler = handler;

    /// <summary>
    /// Reads <paramref name="requestJson"/> (UTF-8 JSON: <c>inputs</c> with <c>name</c>, <c>shape</c>, <c>datatype</c>
    /// and <c>data</c>; optional <c>id</c>, <c>outputs</c> and <c>parameters</c>), runs it on the version
    /// <paramref name="model"/> names and writes the response: <c>model_name</c>, <c>model_version</c>, <c>id</c> and
    /// <c>outputs</c>, every tensor as JSON <c>data</c> (a <c>binary_data</c> parameter in the request is ignored here,
    /// since there is no binary part to carry it).
    /// </summary>
    /// <param name="model">The version to run: a number, an alias or the latest.</param>
    /// <param name="requestJson">The request body, UTF-8 JSON; not kept after the call.</param>
    /// <param name="cancellationToken">Cancels the wait for the model and the run.</param>
    /// <returns>The response body, UTF-8 JSON, owned by the caller.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="model"/> is <see langword="null"/>.</exception>
    /// <exception cref="OipRequestException">The protocol layer refuses the request (malformed JSON, a tensor over the limits, an unknown datatype, a model not loaded while <see cref="InferenceEndpointsOptions.LoadOnDemand"/> is off); <see cref="OipRequestException.StatusCode"/> is the HTTP status the endpoint would answer.</exception>
    /// <exception cref="ModelNotFoundException">No version of the registry matches <paramref name="model"/>.</exception>
    /// <exception cref="InferenceInputException">The inputs do not match the model's signature (names, element types, shapes).</exception>
    /// <exception cref="InferenceQueueFullException">The pool's queue is full.</exception>
    /// <exception cref="InferenceTimeoutException">The request's <c>timeout</c> parameter (or <see cref="InferenceEndpointsOptions.DefaultRequestTimeout"/>) passed before the run finished.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<byte[]> InferAsync(ModelReference model, ReadOnlyMemory<byte> requestJson, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        try
        {
            OipInferenceRequest request = OipJsonCodec.ReadRequest(requestJson.Span, [], false, _handler.Limits);
            InferenceResult result = await _handler.InferAsync(model, request, null, cancellationToken).ConfigureAwait(false);
            (List<NamedTensor> outputs, bool[] binary) = InferenceEndpointHandler.SelectOutputs(model.Name, result, request);
            Array.Clear(binary);
            var buffer = new ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer))
            {
                OipJsonCodec.WriteResponse(writer, model.Name, result.ModelVersion.Version, request.Id, outputs, binary);
            }

            return buffer.WrittenSpan.ToArray();
        }
        catch (InferenceProtocolException ex)
        {
            throw new OipRequestException(ex.StatusCode, ex.Message, ex);
        }
    }
}

/// <summary>An Open Inference Protocol request that the protocol layer refuses, with the HTTP status an endpoint answers it with.</summary>
public sealed class OipRequestException : ModelKitException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">The HTTP status, 400 to 599.</param>
    /// <param name="message">What is wrong and what to do.</param>
    /// <param name="innerException">The cause; optional.</param>
    public OipRequestException(int statusCode, string message, Exception? innerException = null)
        : base(message, innerException!) => StatusCode = statusCode;

    /// <summary>The HTTP status the REST endpoint answers with: 400 (malformed request), 404 (no such model or version), 409, 413 (too large) or 503 (not loaded); the gRPC endpoint maps it to a gRPC status.</summary>
    public int StatusCode { get; }
}
