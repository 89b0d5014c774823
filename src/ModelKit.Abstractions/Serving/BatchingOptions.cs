using System.ComponentModel.DataAnnotations;

namespace ModelKit.Serving;

/// <summary>
/// Dynamic batching of one model: concurrent requests with the same non-batch shape are merged along dimension 0. A batch
/// leaves when it holds <see cref="MaxBatchSize"/> rows, when its oldest request has waited <see cref="MaxQueueDelay"/>,
/// or at once when no batch of the model is running, so a lone caller pays no added delay.
/// </summary>
public sealed class BatchingOptions
{
    /// <summary>Gets or sets whether requests are batched. Models whose inputs or outputs have no dynamic dimension 0 run unbatched either way.</summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Gets or sets the most rows (sum of the requests' dimension 0) in one batch. A single larger request runs alone.</summary>
    /// <value>The default is 64.</value>
    [Range(1, 1_000_000)]
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>Gets or sets how long the oldest queued request may wait for more requests while another batch of the model runs.</summary>
    /// <value>The default is 2 milliseconds.</value>
    public TimeSpan MaxQueueDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Gets or sets batch sizes the model runs best at. When a batch leaves before it is full and before its oldest request
    /// waited <see cref="MaxQueueDelay"/>, it is cut to the largest preferred size it reaches (never below one request).
    /// </summary>
    /// <value>The default is empty: no preference.</value>
    public IList<int> PreferredBatchSizes { get; set; } = [];

    /// <summary>Gets or sets the most requests queued for the model; one more fails at once with <see cref="InferenceQueueFullException"/>.</summary>
    /// <value>The default is 1024.</value>
    [Range(1, 10_000_000)]
    public int MaxQueueLength { get; set; } = 1024;

    /// <summary>Gets or sets how many batches of the model may run at the same time.</summary>
    /// <value>The default is 1: one batch at a time, each using the session's intra-op threads.</value>
    [Range(1, 1024)]
    public int MaxConcurrentBatches { get; set; } = 1;

    /// <summary>Returns a copy, so per-model settings can start from the defaults.</summary>
    /// <returns>A new instance with the same values (and its own list of preferred sizes).</returns>
    public BatchingOptions Clone() => new()
    {
        Enabled = Enabled,
        MaxBatchSize = MaxBatchSize,
        MaxQueueDelay = MaxQueueDelay,
        PreferredBatchSizes = [.. PreferredBatchSizes],
        MaxQueueLength = MaxQueueLength,
        MaxConcurrentBatches = MaxConcurrentBatches,
    };
}
