using Microsoft.Extensions.Logging;

namespace ModelKit.Compression.Internal;

internal static partial class CompressionLog
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Compression step {Kind} rewrote {Transformed} nodes and left {Notes} as they were in {Seconds:F3} s")]
    public static partial void StepApplied(ILogger logger, string kind, int transformed, int notes, double seconds);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Compression gate for {Name}/{Parent}: candidate {Candidate} registered; {Decision}")]
    public static partial void GateDecided(ILogger logger, string name, int parent, int candidate, string decision);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Compression gate for {Name}: alias {Alias} moved from version {Expected} to {Actual} while the gate ran; it was not moved to {Candidate}")]
    public static partial void AliasMovedConcurrently(ILogger logger, string name, string alias, int? expected, int? actual, int candidate);
}
