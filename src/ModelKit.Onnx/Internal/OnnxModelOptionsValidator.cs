using System.Globalization;
using Microsoft.Extensions.Options;

namespace ModelKit.Onnx.Internal;

/// <summary>Validates <see cref="OnnxModelOptions"/>; the message quotes the rejected value.</summary>
internal sealed class OnnxModelOptionsValidator : IValidateOptions<OnnxModelOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.MaxModelBytes is >= 1 and <= OnnxModelOptions.DefaultMaxModelBytes
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"OnnxModelOptions.MaxModelBytes is {options.MaxModelBytes}; it must be from 1 to {OnnxModelOptions.DefaultMaxModelBytes} bytes (protobuf's limit on one message). Set it in that range."));
    }
}
