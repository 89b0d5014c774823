using System.Globalization;
using Microsoft.Extensions.Options;

namespace ModelKit.Training.Internal;

/// <summary>Validates <see cref="TorchTrainingOptions"/>; messages quote the values. Performs no I/O.</summary>
internal sealed class TorchTrainingOptionsValidator : IValidateOptions<TorchTrainingOptions>
{
    public ValidateOptionsResult Validate(string? name, TorchTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string? failure = GetFailure(options);
        return failure is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failure);
    }

    /// <summary>Returns why <paramref name="options"/> are invalid, or <see langword="null"/> when they are valid.</summary>
    public static string? GetFailure(TorchTrainingOptions options)
    {
        if (options.ThreadCount is < 0 or > TorchTrainingOptions.MaxThreadCount)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"TorchTrainingOptions.ThreadCount is {options.ThreadCount}; it must be between 0 (use every processor) and {TorchTrainingOptions.MaxThreadCount}.");
        }

        if (options.LibraryPath is not null && (options.LibraryPath.Length == 0 || string.IsNullOrWhiteSpace(options.LibraryPath)))
        {
            return $"TorchTrainingOptions.LibraryPath is '{options.LibraryPath}'; set it to the path of libmodelkit_torch.so, or leave it null to load it from the application directory.";
        }

        return null;
    }
}
