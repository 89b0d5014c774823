using System.Globalization;
using Microsoft.Extensions.Options;
using ModelKit.Monitoring.Alerts;

namespace ModelKit.Monitoring.Internal;

/// <summary>Cross-field and rule validation of <see cref="MonitoringOptions"/>; messages quote the values.</summary>
internal sealed class MonitoringOptionsValidator : IValidateOptions<MonitoringOptions>
{
    private static readonly System.Buffers.SearchValues<char> s_nameChars = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");

    public ValidateOptionsResult Validate(string? name, MonitoringOptions options)
    {
        var failures = new List<string>();
        if (options.WindowDuration is TimeSpan d && d <= TimeSpan.Zero)
        {
            failures.Add($"MonitoringOptions.WindowDuration is {d}; give a positive duration, or null to close windows by count only.");
        }

        if (options.MinWindowSize > options.WindowSize)
        {
            failures.Add($"MonitoringOptions.MinWindowSize ({options.MinWindowSize}) is larger than WindowSize ({options.WindowSize}); no window would ever be tested. Lower MinWindowSize.");
        }

        if (options.Capture.MaxFileAge <= TimeSpan.Zero)
        {
            failures.Add($"MonitoringOptions.Capture.MaxFileAge is {options.Capture.MaxFileAge}; give a positive duration.");
        }

        if (options.SinkTimeout <= TimeSpan.Zero)
        {
            failures.Add($"MonitoringOptions.SinkTimeout is {options.SinkTimeout}; give a positive duration.");
        }

        foreach (Uri? url in new[] { options.AlertmanagerUrl, options.WebhookUrl })
        {
            if (url is not null && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
            {
                failures.Add($"Sink URL '{url}' is not an absolute http or https URL.");
            }
        }

        var names = new HashSet<(string, string?)>();
        for (int i = 0; i < options.Rules.Count; i++)
        {
            AlertRule rule = options.Rules[i];
            string at = string.Create(CultureInfo.InvariantCulture, $"MonitoringOptions.Rules[{i}] ('{rule.Name}')");
            if (string.IsNullOrEmpty(rule.Name) || rule.Name.AsSpan().ContainsAnyExcept(s_nameChars))
            {
                failures.Add($"{at}: the name must be letters, digits, '_' or ':' (it becomes the alertname label).");
            }

            if (!names.Add((rule.Name, rule.Model)))
            {
                failures.Add($"{at}: another rule has the same name for the same model; names identify alerts.");
            }

            if (!RuleMetrics.IsValid(rule.Metric))
            {
                failures.Add($"{at}: unknown metric '{rule.Metric}'. Use one of {string.Join(", ", RuleMetrics.Fixed)}, or drift.{{feature}}.{{{string.Join("|", RuleMetrics.FeatureMetrics)}}}.");
            }

            if (!double.IsFinite(rule.Threshold))
            {
                failures.Add($"{at}: threshold {rule.Threshold} is not a finite number.");
            }

            if (rule.For < TimeSpan.Zero)
            {
                failures.Add($"{at}: For is {rule.For}; give zero or a positive duration.");
            }

            if (rule.RepeatInterval <= TimeSpan.Zero)
            {
                failures.Add($"{at}: RepeatInterval is {rule.RepeatInterval}; give a positive duration.");
            }

            if (string.IsNullOrWhiteSpace(rule.Severity))
            {
                failures.Add($"{at}: Severity is empty; use for example 'warning' or 'critical'.");
            }

            if (!Enum.IsDefined(rule.Comparison))
            {
                failures.Add($"{at}: Comparison {(int)rule.Comparison} is not one of {string.Join(", ", Enum.GetNames<AlertComparison>())}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
