using System.ComponentModel.DataAnnotations;

namespace ModelKit.Serving;

/// <summary>
/// Settings of <see cref="OnnxRuntimeSessionPool"/>: the budget of loaded models, change detection for hot reload,
/// warm-up, and batching defaults, each overridable per model in <see cref="Models"/>. Validated at host start by
/// <c>AddOnnxRuntimeServing()</c>; no I/O happens while options are built.
/// </summary>
public sealed class InferenceSessionPoolOptions
{
    /// <summary>Gets or sets the most model versions loaded at once; beyond it, the least recently used model is unloaded.</summary>
    /// <value>The default is 16.</value>
    [Range(1, 100_000)]
    public int MaxLoadedModels { get; set; } = 16;

    /// <summary>Gets or sets the most artifact bytes loaded at once (sum of the loaded versions' sizes); 0 means no byte limit.</summary>
    /// <value>The default is 0.</value>
    [Range(0, long.MaxValue)]
    public long MaxLoadedBytes { get; set; }

    /// <summary>
    /// Gets or sets how often the registry is polled for alias moves of served references (and new latest versions of
    /// <c>name</c> references); <see cref="TimeSpan.Zero"/> turns polling off (reload explicitly with
    /// <see cref="IInferenceSessionPool.ReloadAsync"/>).
    /// </summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan ReloadPollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets whether the pool also follows the registry's change notifications
    /// (<see cref="ModelKit.Registry.IModelRegistry.WatchAsync"/>: SQLite's data version, PostgreSQL's LISTEN/NOTIFY), so that
    /// an alias move reaches every replica within the registry's notification latency instead of the next poll. Polling at
    /// <see cref="ReloadPollInterval"/> stays on as a safety net. A registry without notifications is simply polled.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool UseRegistryNotifications { get; set; } = true;

    /// <summary>
    /// Gets or sets whether a newly loaded generation runs one request built from its signature (zeros, dynamic dimensions
    /// 1) before it serves. When the warm-up of a hot-reload candidate fails, the old generation keeps serving; on a
    /// first load (nothing else serves the reference) the failure is logged and the model serves anyway.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool WarmUp { get; set; } = true;

    /// <summary>Gets or sets the batching defaults of every model.</summary>
    /// <value>The default is a new <see cref="BatchingOptions"/> (enabled, 64 rows, 2 ms, 1024 queued).</value>
    public BatchingOptions Batching { get; set; } = new();

    /// <summary>Gets per-model settings, keyed by model name (for example <c>fashion-mnist</c>); unset members fall back to the defaults.</summary>
    /// <value>The default is empty.</value>
    public IDictionary<string, ModelServingOptions> Models { get; } = new Dictionary<string, ModelServingOptions>(StringComparer.Ordinal);
}

/// <summary>Settings of one model in <see cref="InferenceSessionPoolOptions.Models"/>; a <see langword="null"/> member means "use the default".</summary>
public sealed class ModelServingOptions
{
    /// <summary>Gets or sets the ONNX Runtime settings (execution provider, threads, graph optimization, memory arena) of this model.</summary>
    /// <value>The default is <see langword="null"/>: the registered <see cref="OnnxRuntimeOptions"/>.</value>
    public OnnxRuntimeOptions? Runtime { get; set; }

    /// <summary>Gets or sets the batching settings of this model.</summary>
    /// <value>The default is <see langword="null"/>: <see cref="InferenceSessionPoolOptions.Batching"/>.</value>
    public BatchingOptions? Batching { get; set; }

    /// <summary>Gets or sets whether new generations of this model are warmed up.</summary>
    /// <value>The default is <see langword="null"/>: <see cref="InferenceSessionPoolOptions.WarmUp"/>.</value>
    public bool? WarmUp { get; set; }
}
