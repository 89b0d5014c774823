using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace ModelKit.Compression;

/// <summary>How the compression gate measures latency. Validated at host start by <c>AddCompression()</c>.</summary>
public sealed class CompressionGateOptions
{
    /// <summary>Gets or sets the number of timed runs per model and batch size; the p50 (median) of them is reported.</summary>
    /// <value>The default is 200.</value>
    [Range(5, 100_000)]
    public int LatencyIterations { get; set; } = 200;

    /// <summary>Gets or sets the number of untimed runs per model and batch size before timing starts.</summary>
    /// <value>The default is 20.</value>
    [Range(0, 10_000)]
    public int WarmupIterations { get; set; } = 20;
}

/// <summary>Validates <see cref="CompressionGateOptions"/>; messages quote the values.</summary>
internal sealed class CompressionGateOptionsValidator : IValidateOptions<CompressionGateOptions>
{
    public ValidateOptionsResult Validate(string? name, CompressionGateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (options.LatencyIterations is < 5 or > 100_000)
        {
            failures.Add(FormattableString.Invariant($"LatencyIterations is {options.LatencyIterations}; it must be from 5 to 100,000."));
        }

        if (options.WarmupIterations is < 0 or > 10_000)
        {
            failures.Add(FormattableString.Invariant($"WarmupIterations is {options.WarmupIterations}; it must be from 0 to 10,000."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
