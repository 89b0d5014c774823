using System.Globalization;
using ModelKit.Monitoring.Alerts;
using ModelKit.Monitoring.Drift;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Profiles;
using ModelKit.Monitoring.Sketches;
using ModelKit.Registry;

namespace ModelKit.Monitoring.Internal;

/// <summary>The monitoring state of one model version; used only by the monitor's processing loop.</summary>
internal sealed class MonitoredVersion
{
    /// <summary>Rows buffered before they are inserted into the window's sketches, column by column.</summary>
    private const int PendingRows = 64;

    private readonly MonitoringOptions _options;
    private readonly FeatureKeys[] _keys;
    private readonly double[] _pending;
    private readonly double[] _column = new double[PendingRows];
    private int _pendingRows;
    private FeatureAccumulator[] _window = [];
    private Dictionary<long, long>?[] _referenceCategories = [];
    private KllSketch _latency;
    private ReferenceProfileBuilder? _baseline;
    private KllSketch.SortedView?[] _referenceViews = [];
    private long _windowRows;
    private long _windowNonFinite;
    private double _confidenceSum;
    private long _confidenceCount;
    private long _labelled;
    private long _correct;
    private long[] _truePositives = [];
    private long[] _falsePositives = [];
    private long[] _falseNegatives = [];
    private double _absoluteError;
    private double _squaredError;

    public MonitoredVersion(ModelVersion version, MonitoringOptions options, IReadOnlyList<AlertRule> rules, DateTimeOffset now)
    {
        Version = version;
        _options = options;
        Extractor = new FeatureExtractor(version.Signature, options.Reducers);
        _latency = new KllSketch(options.WindowSketchK);
        _keys = [.. Extractor.Features.Select(f => new FeatureKeys(f.Name))];
        _pending = new double[PendingRows * Math.Max(1, Extractor.Features.Count)];
        WindowStart = now;
        AlertStates = [.. rules.Where(r => r.Model is null || r.Model == version.Name).Select(r => new AlertRuleState(r, version.Name, version.Version))];
    }

    public ModelVersion Version { get; }

    public FeatureExtractor Extractor { get; }

    public ReferenceProfile? Profile { get; private set; }

    public bool ProfileLoaded { get; set; }

    public IReadOnlyList<AlertRuleState> AlertStates { get; }

    public DateTimeOffset WindowStart { get; private set; }

    public long WindowRows => _windowRows;

    public long WindowIndex { get; private set; }

    public long ObservedRequests { get; set; }

    public Queue<WindowReport> History { get; } = new();

    public bool InBaseline => _baseline is not null;

    public void UseProfile(ReferenceProfile profile, DateTimeOffset now)
    {
        Profile = profile;
        _baseline = null;
        _referenceViews = [.. profile.Features.Select(f => f.Sketch is null ? null : KllSketch.FromState(f.Sketch).GetSortedView())];
        _referenceCategories = [.. profile.Features.Select(f => f.Kind == FeatureKind.Categorical ? ParseCategories(f.Categories) : null)];
        int classes = 0;
        foreach (FeatureProfile f in profile.Features)
        {
            if (f.Kind == FeatureKind.Categorical)
            {
                foreach (string key in f.Categories.Keys)
                {
                    classes = Math.Max(classes, (int)Math.Min(4096, long.Parse(key, CultureInfo.InvariantCulture) + 1));
                }
            }
        }

        _truePositives = new long[classes];
        _falsePositives = new long[classes];
        _falseNegatives = new long[classes];
        _pendingRows = 0;
        _window = [.. Extractor.Features.Select((f, i) => new FeatureAccumulator(f, _options.WindowSketchK, f.Kind == FeatureKind.Categorical ? null : profile.Features[i].BinEdges, trackMoments: false))];
        ResetWindow(now);
    }

    public void StartBaseline() => _baseline = new ReferenceProfileBuilder(Version, _options.Reducers);

    public ReferenceProfileBuilder? Baseline => _baseline;

    public void Add(ReadOnlySpan<double> rows, long nonFinite, TimeSpan duration)
    {
        int width = Extractor.Features.Count;
        int count = width == 0 ? 0 : rows.Length / width;
        int confidence = Extractor.ConfidenceFeatureIndex;
        _windowNonFinite += nonFinite;
        _latency.Add(duration.TotalSeconds);
        for (int r = 0; r < count; r++)
        {
            ReadOnlySpan<double> row = rows.Slice(r * width, width);
            row.CopyTo(_pending.AsSpan(_pendingRows * width, width));
            if (++_pendingRows == PendingRows)
            {
                FlushPending();
            }

            if (confidence >= 0 && Profile?.Calibration is ConfidenceCalibration calibration && double.IsFinite(row[confidence]))
            {
                _confidenceSum += calibration.Calibrate(row[confidence]);
                _confidenceCount++;
            }
            else if (confidence >= 0 && double.IsFinite(row[confidence]))
            {
                _confidenceSum += row[confidence];
                _confidenceCount++;
            }
        }

        _windowRows += count;
    }

    /// <summary>Inserts the buffered rows into the window's summaries, one feature (column) at a time.</summary>
    private void FlushPending()
    {
        int width = _window.Length;
        int rows = _pendingRows;
        _pendingRows = 0;
        if (rows == 0 || width == 0)
        {
            return;
        }

        Span<double> column = _column.AsSpan(0, rows);
        for (int f = 0; f < width; f++)
        {
            for (int r = 0; r < rows; r++)
            {
                column[r] = _pending[(r * width) + f];
            }

            _window[f].AddRange(column);
        }
    }

    public void AddLabel(double predicted, double label)
    {
        _labelled++;
        if (Extractor.ClassifierOutput is not null)
        {
            int p = (int)predicted;
            int l = (int)label;
            if (p == l)
            {
                _correct++;
                Bump(_truePositives, p);
            }
            else
            {
                Bump(_falsePositives, p);
                Bump(_falseNegatives, l);
            }
        }
        else
        {
            double e = predicted - label;
            _absoluteError += Math.Abs(e);
            _squaredError += e * e;
        }
    }

    public WindowReport CloseWindow(DateTimeOffset now, long dropped)
    {
        FlushPending();
        WindowIndex++;
        int m = _window.Length;
        double level = _options.Correction switch
        {
            DriftCorrection.None => _options.Alpha,
            DriftCorrection.Bonferroni => _options.Alpha / Math.Max(1, m),
            _ => _options.Alpha / (Math.Max(1, m) * (double)WindowIndex * (WindowIndex + 1)),
        };
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        var features = new List<FeatureDrift>(m);
        int drifted = 0;
        bool tested = _windowRows >= _options.MinWindowSize && Profile is not null;
        for (int f = 0; tested && f < m; f++)
        {
            FeatureDrift drift = Evaluate(f, level);
            features.Add(drift);
            drifted += drift.Drifted ? 1 : 0;
            FeatureKeys keys = _keys[f];
            values[keys.Psi] = drift.Psi;
            values[keys.JensenShannon] = drift.JensenShannon;
            values[keys.Drifted] = drift.Drifted ? 1 : 0;
            if (drift.Kind == FeatureKind.Numeric)
            {
                values[keys.KsStatistic] = drift.KsStatistic;
                values[keys.KsPValue] = drift.KsPValue;
                values[keys.Wasserstein] = drift.Wasserstein;
            }
            else
            {
                values[keys.ChiSquared] = drift.ChiSquared;
                values[keys.ChiSquaredPValue] = drift.ChiSquaredPValue;
            }
        }

        double share = features.Count == 0 ? double.NaN : (double)drifted / features.Count;
        bool datasetDrift = features.Count > 0 && share >= _options.DriftShare;
        if (features.Count > 0)
        {
            values["drift.share"] = share;
            values["drift.detected"] = datasetDrift ? 1 : 0;
        }

        WindowPerformance performance = Performance();
        Put(values, "performance.accuracy", performance.Accuracy);
        Put(values, "performance.estimated_accuracy", performance.EstimatedAccuracy);
        Put(values, "performance.accuracy_drop", performance.ReferenceAccuracy - performance.Accuracy);
        Put(values, "performance.estimated_accuracy_drop", performance.ReferenceAccuracy - performance.EstimatedAccuracy);
        Put(values, "performance.f1", performance.MacroF1);
        Put(values, "performance.mae", performance.MeanAbsoluteError);
        Put(values, "performance.rmse", performance.RootMeanSquaredError);
        var latency = LatencyQuantiles();
        Put(values, "latency.p50", latency.Item1);
        Put(values, "latency.p95", latency.Item2);
        Put(values, "latency.p99", latency.Item3);
        values["input.nonfinite_per_row"] = _windowRows == 0 ? 0 : (double)_windowNonFinite / _windowRows;
        values["monitoring.dropped"] = dropped;

        var report = new WindowReport
        {
            ModelName = Version.Name,
            ModelVersion = Version.Version,
            WindowIndex = WindowIndex,
            Start = WindowStart,
            End = now,
            RowCount = _windowRows,
            ObservedRequests = ObservedRequests,
            Features = features,
            TestLevel = level,
            DriftShare = share,
            DatasetDrift = datasetDrift,
            Performance = performance,
            Latency = latency,
            NonFiniteInputs = _windowNonFinite,
            Dropped = dropped,
            Values = values,
        };
        History.Enqueue(report);
        while (History.Count > _options.ReportHistory)
        {
            History.Dequeue();
        }

        ResetWindow(now);
        return report;
    }

    private static void Put(Dictionary<string, double> values, string key, double value)
    {
        if (!double.IsNaN(value))
        {
            values[key] = value;
        }
    }

    private static void Bump(long[] counts, int index)
    {
        if (index >= 0 && index < counts.Length)
        {
            counts[index]++;
        }
    }

    private WindowPerformance Performance()
    {
        double reference = Profile?.Accuracy ?? double.NaN;
        double estimated = _confidenceCount == 0 ? double.NaN : _confidenceSum / _confidenceCount;
        if (_labelled == 0)
        {
            return new WindowPerformance { EstimatedAccuracy = estimated, ReferenceAccuracy = reference };
        }

        if (Extractor.ClassifierOutput is null)
        {
            return new WindowPerformance
            {
                LabelledCount = _labelled,
                MeanAbsoluteError = _absoluteError / _labelled,
                RootMeanSquaredError = Math.Sqrt(_squaredError / _labelled),
                ReferenceAccuracy = reference,
            };
        }

        double f1 = 0;
        int classes = 0;
        for (int c = 0; c < _truePositives.Length; c++)
        {
            long support = _truePositives[c] + _falseNegatives[c];
            long predicted = _truePositives[c] + _falsePositives[c];
            if (support + predicted == 0)
            {
                continue;
            }

            classes++;
            f1 += 2.0 * _truePositives[c] / (support + predicted);
        }

        return new WindowPerformance
        {
            LabelledCount = _labelled,
            Accuracy = (double)_correct / _labelled,
            MacroF1 = classes == 0 ? double.NaN : f1 / classes,
            EstimatedAccuracy = estimated,
            ReferenceAccuracy = reference,
        };
    }

    private FeatureDrift Evaluate(int index, double level)
    {
        FeatureAccumulator current = _window[index];
        FeatureProfile reference = Profile!.Features[index];
        if (current.Definition.Kind == FeatureKind.Categorical)
        {
            Dictionary<long, long> referenceCounts = _referenceCategories[index]!;
            (double chi2, _, double p) = DriftStatistics.ChiSquared(referenceCounts, current.Categories!.Counts);
            var keys = new SortedSet<long>(referenceCounts.Keys);
            keys.UnionWith(current.Categories.Counts.Keys);
            long[] r = [.. keys.Select(k => referenceCounts.GetValueOrDefault(k))];
            long[] c = [.. keys.Select(k => current.Categories.Counts.GetValueOrDefault(k))];
            return new FeatureDrift
            {
                Feature = current.Definition.Name,
                Group = current.Definition.Group,
                Kind = FeatureKind.Categorical,
                Count = current.Count,
                ChiSquared = chi2,
                ChiSquaredPValue = p,
                Psi = DriftStatistics.PopulationStabilityIndex(r, c),
                JensenShannon = DriftStatistics.JensenShannonDistance(r, c),
                Drifted = p < level,
            };
        }

        KllSketch.SortedView? referenceView = _referenceViews[index];
        if (referenceView is null || current.Count == 0)
        {
            return new FeatureDrift { Feature = current.Definition.Name, Group = current.Definition.Group, Kind = FeatureKind.Numeric, Count = current.Count };
        }

        KllSketch.SortedView view = current.Sketch!.GetSortedView();
        (double d, double pValue) = DriftStatistics.KolmogorovSmirnov(referenceView, view);
        long[] counts = [.. current.Histogram!.Counts];
        return new FeatureDrift
        {
            Feature = current.Definition.Name,
            Group = current.Definition.Group,
            Kind = FeatureKind.Numeric,
            Count = current.Count,
            KsStatistic = d,
            KsPValue = pValue,
            Wasserstein = DriftStatistics.NormalizedWasserstein(referenceView, view, reference.StandardDeviation),
            Psi = DriftStatistics.PopulationStabilityIndex(reference.BinCounts, counts),
            JensenShannon = DriftStatistics.JensenShannonDistance(reference.BinCounts, counts),
            Drifted = pValue < level,
        };
    }

    private void ResetWindow(DateTimeOffset now)
    {
        WindowStart = now;
        _windowRows = 0;
        _windowNonFinite = 0;
        _confidenceSum = 0;
        _confidenceCount = 0;
        _labelled = 0;
        _correct = 0;
        Array.Clear(_truePositives);
        Array.Clear(_falsePositives);
        Array.Clear(_falseNegatives);
        _absoluteError = 0;
        _squaredError = 0;
        _pendingRows = 0;
        _latency.Reset();
        foreach (FeatureAccumulator accumulator in _window)
        {
            accumulator.Reset();
        }
    }

    private (double P50, double P95, double P99) LatencyQuantiles()
    {
        if (_latency.Count == 0)
        {
            return (double.NaN, double.NaN, double.NaN);
        }

        // One sorted view for the three quantiles (KllSketch.Quantile sorts once per call).
        KllSketch.SortedView view = _latency.GetSortedView();
        return (At(0.5), At(0.95), At(0.99));

        double At(double quantile)
        {
            double target = quantile * view.Count;
            for (int i = 0; i < view.Values.Length; i++)
            {
                if (view.CumulativeWeights[i] >= target)
                {
                    return view.Values[i];
                }
            }

            return _latency.Max;
        }
    }

    private static Dictionary<long, long> ParseCategories(Dictionary<string, long> categories)
    {
        var counts = new Dictionary<long, long>(categories.Count);
        foreach ((string key, long count) in categories)
        {
            counts[long.Parse(key, CultureInfo.InvariantCulture)] = count;
        }

        return counts;
    }

    /// <summary>The names of one feature's values in <see cref="WindowReport.Values"/>, formatted once.</summary>
    private sealed class FeatureKeys(string feature)
    {
        public string Psi { get; } = $"drift.{feature}.psi";

        public string JensenShannon { get; } = $"drift.{feature}.js_distance";

        public string Drifted { get; } = $"drift.{feature}.drifted";

        public string KsStatistic { get; } = $"drift.{feature}.ks_statistic";

        public string KsPValue { get; } = $"drift.{feature}.ks_p_value";

        public string Wasserstein { get; } = $"drift.{feature}.wasserstein";

        public string ChiSquared { get; } = $"drift.{feature}.chi2";

        public string ChiSquaredPValue { get; } = $"drift.{feature}.chi2_p_value";
    }
}
