using System.ComponentModel.DataAnnotations;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Features;

namespace ModelKit.Monitoring;

/// <summary>Settings of <see cref="ModelMonitor"/>, validated when the host starts.</summary>
public sealed class MonitoringOptions
{
    /// <summary>Gets or sets the share of answered requests that are observed: 1 observes every request, 0.1 every tenth (deterministic, evenly spaced).</summary>
    /// <value>The default is 1.</value>
    [Range(0.0, 1.0)]
    public double SamplingRate { get; set; } = 1.0;

    /// <summary>Gets or sets how many observations may wait for the background processor; when it is full, further observations are dropped and counted (<c>modelkit.monitoring.observations</c> with outcome <c>dropped</c>), never blocking a request.</summary>
    /// <value>The default is 10,000.</value>
    [Range(1, 10_000_000)]
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Gets or sets the rows per tumbling window; a window closes (and drift is computed) when it holds this many rows.</summary>
    /// <value>The default is 200 (the window size the monitoring anchors use for Evidently).</value>
    [Range(1, 10_000_000)]
    public int WindowSize { get; set; } = 200;

    /// <summary>Gets or sets the longest a window stays open, by the host's <see cref="TimeProvider"/>; a window that has rows closes when it is this old, even when smaller than <see cref="WindowSize"/>. <see langword="null"/> closes windows by count only.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public TimeSpan? WindowDuration { get; set; }

    /// <summary>Gets or sets the smallest window that is tested for drift; smaller windows (closed by time) are reported without drift values.</summary>
    /// <value>The default is 30.</value>
    [Range(1, 10_000_000)]
    public int MinWindowSize { get; set; } = 30;

    /// <summary>Gets or sets the rows of a version's first requests that become its reference profile when none is stored (the baseline window).</summary>
    /// <value>The default is 1,000.</value>
    [Range(10, 10_000_000)]
    public int BaselineSize { get; set; } = 1000;

    /// <summary>
    /// Gets or sets the false-alarm level of drift detection: the probability that any feature of a stream without drift
    /// is ever declared drifted, over all its windows (with <see cref="DriftCorrection.AlphaSpending"/>), or in one
    /// window (with <see cref="DriftCorrection.Bonferroni"/>).
    /// </summary>
    /// <value>The default is 0.05.</value>
    [Range(1e-12, 0.5)]
    public double Alpha { get; set; } = 0.05;

    /// <summary>Gets or sets the multiple-testing correction applied to the per-feature p-values.</summary>
    /// <value>The default is <see cref="DriftCorrection.AlphaSpending"/>.</value>
    public DriftCorrection Correction { get; set; } = DriftCorrection.AlphaSpending;

    /// <summary>Gets or sets the share of drifted features at which the whole data set counts as drifted (Evidently's <c>drift_share</c>, whose default is also 0.5).</summary>
    /// <value>The default is 0.5.</value>
    [Range(1e-9, 1.0)]
    public double DriftShare { get; set; } = 0.5;

    /// <summary>Gets or sets the reducers for inputs of rank 3 or more (images).</summary>
    /// <value>The default is <see cref="TensorReducers.Default"/>: mean, standard deviation and L2 norm.</value>
    public TensorReducers Reducers { get; set; } = TensorReducers.Default;

    /// <summary>Gets or sets the accuracy parameter of the per-window quantile sketches (windows up to about this size are summarised exactly).</summary>
    /// <value>The default is 200.</value>
    [Range(8, 65_535)]
    public int WindowSketchK { get; set; } = 200;

    /// <summary>Gets or sets how many predictions wait for their label; the oldest are forgotten first.</summary>
    /// <value>The default is 100,000.</value>
    [Range(0, 10_000_000)]
    public int MaxPendingLabels { get; set; } = 100_000;

    /// <summary>Gets or sets how many closed window reports are kept per model version for <see cref="ModelMonitor.GetState"/>.</summary>
    /// <value>The default is 100.</value>
    [Range(1, 100_000)]
    public int ReportHistory { get; set; } = 100;

    /// <summary>Gets the capture settings.</summary>
    public CaptureOptions Capture { get; } = new();

    /// <summary>Gets the alert rules, evaluated when each window closes.</summary>
    public IList<AlertRule> Rules { get; } = [];

    /// <summary>Gets or sets the base address of a Prometheus Alertmanager (for example <c>http://127.0.0.1:9093/</c>); alerts are posted to its <c>/api/v2/alerts</c>. <see langword="null"/> for none.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? AlertmanagerUrl { get; set; }

    /// <summary>Gets or sets how often firing alerts are posted to Alertmanager again (Prometheus' <c>--rules.alert.resend-delay</c>, default 1 minute); each post says the alert ends four intervals later unless posted again.</summary>
    /// <value>The default is 1 minute.</value>
    public TimeSpan AlertmanagerResendInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Gets or sets an address that receives every alert notification as JSON (<c>POST</c>). <see langword="null"/> for none.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public Uri? WebhookUrl { get; set; }

    /// <summary>Gets or sets the time limit of one sink call.</summary>
    /// <value>The default is 10 seconds.</value>
    public TimeSpan SinkTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Multiple-testing corrections for drift tests.</summary>
public enum DriftCorrection
{
    /// <summary>No correction: each feature is tested at <see cref="MonitoringOptions.Alpha"/> in each window (many false alarms over a long stream).</summary>
    None = 0,

    /// <summary>Bonferroni over the features of one window: each test at α/m, so a window without drift raises a false alarm with probability at most α.</summary>
    Bonferroni = 1,

    /// <summary>
    /// Bonferroni over features and alpha spending over windows: window w (1, 2, …) tests each of its m features at
    /// α/(m·w·(w+1)). Since Σ 1/(w(w+1)) = 1, the union bound keeps the probability of any false alarm over the whole,
    /// unbounded stream at most α (the family-wise error rate; see e.g. Foster and Stine, "α-investing", 2008, for the
    /// spending idea). A strong shift still gives p-values far below the level: the level after 50 windows is α/(2,550·m).
    /// </summary>
    AlphaSpending = 2,
}

/// <summary>Settings of the prediction capture (JSON Lines files).</summary>
public sealed class CaptureOptions
{
    /// <summary>Gets or sets whether sampled requests are captured to files. Off by default: raw inputs may be personal data.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Enabled { get; set; }

    /// <summary>Gets or sets whether only the feature values are stored, never the raw inputs and outputs.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool SummariesOnly { get; set; }

    /// <summary>Gets or sets the folder of the capture files; <see langword="null"/> for <c>{DataDirectory}/monitoring/capture</c>.</summary>
    /// <value>The default is <see langword="null"/>.</value>
    public string? Directory { get; set; }

    /// <summary>Gets or sets the size in bytes at which a capture file is closed and a new one started.</summary>
    /// <value>The default is 64 MiB.</value>
    [Range(1024, long.MaxValue)]
    public long MaxFileBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Gets or sets the age at which a capture file is closed and a new one started.</summary>
    /// <value>The default is 1 hour.</value>
    public TimeSpan MaxFileAge { get; set; } = TimeSpan.FromHours(1);
}
