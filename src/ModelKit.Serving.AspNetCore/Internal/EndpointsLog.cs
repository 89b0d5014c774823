using Microsoft.Extensions.Logging;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>Source-generated log messages of ModelKit.Serving.AspNetCore; event ids are stable.</summary>
internal static partial class EndpointsLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded {Reference} (version {Version}) at start; {Remaining} configured models still loading.")]
    public static partial void ModelPreloaded(ILogger logger, string reference, int version, int remaining);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Loading {Reference} at start failed; the server stays not ready and retries in {RetrySeconds} s.")]
    public static partial void ModelPreloadFailed(ILogger logger, Exception exception, string reference, double retrySeconds);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "{Protocol} inference request for {Model} failed on the server side.")]
    public static partial void InferenceFailed(ILogger logger, Exception exception, string protocol, string model);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Management: {Action} {Target} by {User}.")]
    public static partial void ManagementAction(ILogger logger, string action, string target, string user);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Management request {Action} {Target} failed on the server side.")]
    public static partial void ManagementFailed(ILogger logger, Exception exception, string action, string target);
}
