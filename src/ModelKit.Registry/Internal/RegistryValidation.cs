using System.Globalization;

namespace ModelKit.Registry.Internal;

/// <summary>Validation of the untrusted parts of registry calls: keys, values, alias change info and search queries.</summary>
internal static class RegistryValidation
{
    public const int MaxKeyLength = 128;
    public const int MaxTagValueLength = 4096;
    public const int MaxEntries = 256;

    /// <summary>Keys: 1 to 128 characters from <c>[A-Za-z0-9_.:/-]</c>, starting with a letter or digit.</summary>
    public static bool IsValidKey(string? key)
    {
        if (string.IsNullOrEmpty(key) || key.Length > MaxKeyLength || !char.IsAsciiLetterOrDigit(key[0]))
        {
            return false;
        }

        foreach (char c in key)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or ':' or '/' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    public static void ThrowIfBadKey(string? key, string what, string model, string paramName)
    {
        if (!IsValidKey(key))
        {
            string shown = key is null ? "null" : $"'{(key.Length > 64 ? key[..64] + "…" : key)}'";
            throw new ArgumentException(
                $"{what} name {shown} of model '{model}' is invalid: expected 1 to {MaxKeyLength} characters from [A-Za-z0-9_.:/-], " +
                "starting with a letter or digit, for example 'test_accuracy'. Rename it.", paramName);
        }
    }

    public static void ValidateTags(IReadOnlyDictionary<string, string> tags, string model, string paramName, string what = "Tag")
    {
        ArgumentNullException.ThrowIfNull(tags, paramName);
        ThrowIfTooMany(tags.Count, what, model, paramName);
        foreach (KeyValuePair<string, string> tag in tags)
        {
            ThrowIfBadKey(tag.Key, what, model, paramName);
            if (tag.Value is null)
            {
                throw new ArgumentException($"{what} '{tag.Key}' of model '{model}' has a null value; use an empty string or remove it.", paramName);
            }

            if (tag.Value.Length > MaxTagValueLength)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                    $"{what} '{tag.Key}' of model '{model}' has a value of {tag.Value.Length} characters; at most {MaxTagValueLength} are accepted. Shorten it."), paramName);
            }
        }
    }

    public static void ValidateMetrics(IReadOnlyDictionary<string, double> metrics, string model, string paramName)
    {
        ArgumentNullException.ThrowIfNull(metrics, paramName);
        ThrowIfTooMany(metrics.Count, "Metric", model, paramName);
        foreach (KeyValuePair<string, double> metric in metrics)
        {
            ThrowIfBadKey(metric.Key, "Metric", model, paramName);
            if (!double.IsFinite(metric.Value))
            {
                throw new ArgumentException(
                    $"Metric '{metric.Key}' of model '{model}' has the value {metric.Value.ToString(CultureInfo.InvariantCulture)}; " +
                    "metrics must be finite numbers. Remove the metric or record a finite value.", paramName);
            }
        }
    }

    public static void ValidateInfo(AliasChangeInfo info, string paramName)
    {
        if (info.ChangedBy is { Length: > AliasChangeInfo.MaxChangedByLength } by)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"AliasChangeInfo.ChangedBy has {by.Length} characters; at most {AliasChangeInfo.MaxChangedByLength} are accepted."), paramName);
        }

        if (info.Reason is { Length: > AliasChangeInfo.MaxReasonLength } reason)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"AliasChangeInfo.Reason has {reason.Length} characters; at most {AliasChangeInfo.MaxReasonLength} are accepted."), paramName);
        }
    }

    public static void ValidateQuery(ModelSearchQuery query)
    {
        const string Param = "query";
        ArgumentNullException.ThrowIfNull(query);
        if (!string.IsNullOrEmpty(query.NamePrefix) && (query.NamePrefix.Length > ModelName.MaxLength || !ModelName.IsValid(query.NamePrefix)))
        {
            throw new ArgumentException(
                $"Search name prefix '{query.NamePrefix}' cannot match any model name: names match [a-z0-9][a-z0-9._-]{{0,127}}.", Param);
        }

        if (query.Take is < 1 or > ModelSearchQuery.MaxTake)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"ModelSearchQuery.Take is {query.Take}; it must be between 1 and {ModelSearchQuery.MaxTake}."), Param);
        }

        if (query.Skip < 0)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"ModelSearchQuery.Skip is {query.Skip}; it must be 0 or more."), Param);
        }

        ValidateTags(query.Tags, "(search)", Param);
        ArgumentNullException.ThrowIfNull(query.Metrics, "query.Metrics");
        foreach (MetricFilter filter in query.Metrics)
        {
            ArgumentNullException.ThrowIfNull(filter, "query.Metrics");
            ThrowIfBadKey(filter.Key, "Metric", "(search)", Param);
            if (!double.IsFinite(filter.Threshold))
            {
                throw new ArgumentException($"The threshold of metric filter '{filter.Key}' is {filter.Threshold.ToString(CultureInfo.InvariantCulture)}; use a finite number.", Param);
            }
        }

        if (query.OrderBy is ModelSearchOrder.MetricAscending or ModelSearchOrder.MetricDescending)
        {
            if (query.OrderByMetric is null)
            {
                throw new ArgumentException($"ModelSearchQuery.OrderBy is {query.OrderBy} but OrderByMetric is not set; name the metric to order by.", Param);
            }

            ThrowIfBadKey(query.OrderByMetric, "Metric", "(search)", Param);
        }
        else if (!Enum.IsDefined(query.OrderBy))
        {
            throw new ArgumentException($"ModelSearchQuery.OrderBy {(int)query.OrderBy} is not a ModelSearchOrder value.", Param);
        }
    }

    private static void ThrowIfTooMany(int count, string what, string model, string paramName)
    {
        if (count > MaxEntries)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"Model '{model}' has {count} {what.ToLowerInvariant()} entries; at most {MaxEntries} are accepted."), paramName);
        }
    }
}
