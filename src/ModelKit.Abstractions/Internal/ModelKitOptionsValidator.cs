using Microsoft.Extensions.Options;

namespace ModelKit.Internal;

internal sealed class ModelKitOptionsValidator : IValidateOptions<ModelKitOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelKitOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.DataDirectory))
        {
            return ValidateOptionsResult.Fail(
                $"ModelKitOptions.DataDirectory must not be empty (it is '{options.DataDirectory}'); set it to a writable directory such as './modelkit-data'.");
        }

        if (options.DataDirectory.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0)
        {
            return ValidateOptionsResult.Fail(
                $"ModelKitOptions.DataDirectory '{options.DataDirectory}' contains a character that is not allowed in a path; choose another directory.");
        }

        return ValidateOptionsResult.Success;
    }
}
