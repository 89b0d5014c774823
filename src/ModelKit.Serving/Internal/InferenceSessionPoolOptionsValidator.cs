using System.Globalization;
using Microsoft.Extensions.Options;
using ModelKit.Registry;

namespace ModelKit.Serving.Internal;

/// <summary>Validates <see cref="InferenceSessionPoolOptions"/>, quoting the offending values. Does no I/O.</summary>
internal sealed class InferenceSessionPoolOptionsValidator : IValidateOptions<InferenceSessionPoolOptions>
{
    public ValidateOptionsResult Validate(string? name, InferenceSessionPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string>? failures = null;
        if (options.MaxLoadedModels < 1)
        {
            Add(ref failures, Format($"InferenceSessionPoolOptions.MaxLoadedModels is {options.MaxLoadedModels}; it must be 1 or greater."));
        }

        if (options.MaxLoadedBytes < 0)
        {
            Add(ref failures, Format($"InferenceSessionPoolOptions.MaxLoadedBytes is {options.MaxLoadedBytes}; it must be 0 (no limit) or a positive number of bytes."));
        }

        if (options.ReloadPollInterval < TimeSpan.Zero)
        {
            Add(ref failures, Format($"InferenceSessionPoolOptions.ReloadPollInterval is {options.ReloadPollInterval}; it must be zero (polling off) or positive."));
        }

        if (options.Batching is null)
        {
            Add(ref failures, "InferenceSessionPoolOptions.Batching is null; leave the default or set a BatchingOptions.");
        }
        else
        {
            CollectBatching(options.Batching, "InferenceSessionPoolOptions.Batching", ref failures);
        }

        foreach ((string model, ModelServingOptions perModel) in options.Models)
        {
            string path = $"InferenceSessionPoolOptions.Models[\"{model}\"]";
            if (!ModelName.IsValid(model))
            {
                Add(ref failures, $"{path}: '{model}' is not a model name; names match [a-z0-9][a-z0-9._-]{{0,127}}.");
            }

            if (perModel is null)
            {
                Add(ref failures, $"{path} is null; remove the entry or set a ModelServingOptions.");
                continue;
            }

            if (perModel.Runtime is not null)
            {
                OnnxRuntimeOptionsValidator.Collect(perModel.Runtime, path + ".Runtime", ref failures);
            }

            if (perModel.Batching is not null)
            {
                CollectBatching(perModel.Batching, path + ".Batching", ref failures);
            }
        }

        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static void CollectBatching(BatchingOptions batching, string path, ref List<string>? failures)
    {
        if (batching.MaxBatchSize < 1)
        {
            Add(ref failures, Format($"{path}.MaxBatchSize is {batching.MaxBatchSize}; it must be 1 or greater."));
        }

        if (batching.MaxQueueDelay < TimeSpan.Zero || batching.MaxQueueDelay > TimeSpan.FromMinutes(1))
        {
            Add(ref failures, Format($"{path}.MaxQueueDelay is {batching.MaxQueueDelay}; it must be between 0 and 1 minute (a few milliseconds is typical)."));
        }

        if (batching.MaxQueueLength < 1)
        {
            Add(ref failures, Format($"{path}.MaxQueueLength is {batching.MaxQueueLength}; it must be 1 or greater."));
        }

        if (batching.MaxConcurrentBatches < 1)
        {
            Add(ref failures, Format($"{path}.MaxConcurrentBatches is {batching.MaxConcurrentBatches}; it must be 1 or greater."));
        }

        if (batching.PreferredBatchSizes is null)
        {
            Add(ref failures, $"{path}.PreferredBatchSizes is null; use an empty list for no preference.");
        }
        else
        {
            foreach (int size in batching.PreferredBatchSizes)
            {
                if (size < 1 || size > batching.MaxBatchSize)
                {
                    Add(ref failures, Format($"{path}.PreferredBatchSizes contains {size}; each preferred size must be between 1 and MaxBatchSize ({batching.MaxBatchSize})."));
                }
            }
        }
    }

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Add(ref List<string>? failures, string failure) => (failures ??= []).Add(failure);
}
