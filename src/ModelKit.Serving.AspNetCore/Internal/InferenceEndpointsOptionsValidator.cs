using System.Globalization;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>Cross-field checks of <see cref="InferenceEndpointsOptions"/>; messages quote the values.</summary>
internal sealed class InferenceEndpointsOptionsValidator : IValidateOptions<InferenceEndpointsOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceEndpointsOptions options)
    {
        var failures = new List<string>();
        if (!ModelName.IsValid(options.DefaultAlias))
        {
            failures.Add($"InferenceEndpointsOptions.DefaultAlias '{options.DefaultAlias}' is not a valid alias: use [a-z0-9][a-z0-9._-]*, for example 'production'.");
        }

        if (options.DefaultAliasCacheDuration < TimeSpan.Zero)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"InferenceEndpointsOptions.DefaultAliasCacheDuration is {options.DefaultAliasCacheDuration}; use zero or a positive duration."));
        }

        if (options.DefaultRequestTimeout is TimeSpan timeout && timeout <= TimeSpan.Zero)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"InferenceEndpointsOptions.DefaultRequestTimeout is {timeout}; use a positive duration or null for none."));
        }

        if (options.RetryAfter < TimeSpan.Zero)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"InferenceEndpointsOptions.RetryAfter is {options.RetryAfter}; use zero or a positive duration."));
        }

        foreach (string model in options.Models)
        {
            if (!ModelReference.TryParse(model, out _))
            {
                failures.Add($"InferenceEndpointsOptions.Models holds '{model}', which is not a model reference: use 'name', 'name/3' or 'name@alias'.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
