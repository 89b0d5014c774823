namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>A request the protocol layer refuses, with the HTTP status it maps to (the gRPC status follows from it).</summary>
internal sealed class InferenceProtocolException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;

    public static InferenceProtocolException BadRequest(string message) => new(400, message);
}
