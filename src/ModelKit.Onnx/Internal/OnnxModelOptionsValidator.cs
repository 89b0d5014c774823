using Microsoft.Extensions.Options;
using static System.FormattableString;

namespace ModelKit.Onnx.Internal;

/// <summary>Validates <see cref="OnnxModelOptions"/>; each message quotes the rejected value.</summary>
internal sealed class OnnxModelOptionsValidator : IValidateOptions<OnnxModelOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> failures = Check(options);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="ArgumentException"/> when options passed directly to an <see cref="OnnxModel"/> method are invalid.</summary>
    public static void ThrowIfInvalid(OnnxModelOptions options, string paramName)
    {
        ArgumentNullException.ThrowIfNull(options, paramName);
        List<string> failures = Check(options);
        if (failures.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", failures), paramName);
        }
    }

    private static List<string> Check(OnnxModelOptions options)
    {
        var failures = new List<string>();
        if (options.MaxModelBytes is < 1 or > OnnxModelOptions.DefaultMaxModelBytes)
        {
            failures.Add(Invariant($"OnnxModelOptions.MaxModelBytes is {options.MaxModelBytes}; it must be from 1 to {OnnxModelOptions.DefaultMaxModelBytes} bytes (protobuf's limit on one message). Set it in that range."));
        }

        if (options.MaxSubgraphDepth is < 0 or > 32)
        {
            failures.Add(Invariant($"OnnxModelOptions.MaxSubgraphDepth is {options.MaxSubgraphDepth}; it must be from 0 to 32 (protobuf's parser stops at 100 nested messages, about 32 subgraph levels)."));
        }

        if (options.MaxNodes < 1)
        {
            failures.Add(Invariant($"OnnxModelOptions.MaxNodes is {options.MaxNodes}; it must be 1 or greater."));
        }

        if (options.MaxTensors < 1)
        {
            failures.Add(Invariant($"OnnxModelOptions.MaxTensors is {options.MaxTensors}; it must be 1 or greater."));
        }

        if (options.MaxTensorBytes < 1)
        {
            failures.Add(Invariant($"OnnxModelOptions.MaxTensorBytes is {options.MaxTensorBytes}; it must be 1 or greater."));
        }

        if (options.MaxTotalTensorBytes < options.MaxTensorBytes)
        {
            failures.Add(Invariant($"OnnxModelOptions.MaxTotalTensorBytes is {options.MaxTotalTensorBytes}, less than MaxTensorBytes ({options.MaxTensorBytes}); the total limit must be at least the limit for one tensor."));
        }

        return failures;
    }
}
