using System.Runtime.InteropServices;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Features;

/// <summary>Whether a monitored feature is a number or a category.</summary>
public enum FeatureKind
{
    /// <summary>A real value: summarised by a KLL sketch, moments and a fixed-edge histogram; drift by Kolmogorov–Smirnov.</summary>
    Numeric = 0,

    /// <summary>A category (for example the predicted class): summarised by counts; drift by chi-squared.</summary>
    Categorical = 1,
}

/// <summary>How a tensor of rank 3 or more (an image) is reduced to monitored numbers.</summary>
[Flags]
public enum TensorReducers
{
    /// <summary>No reduction.</summary>
    None = 0,

    /// <summary>The mean of the finite elements, per channel.</summary>
    Mean = 1,

    /// <summary>The population standard deviation of the finite elements, per channel.</summary>
    StandardDeviation = 2,

    /// <summary>The L2 norm of the finite elements of the whole sample.</summary>
    L2Norm = 4,

    /// <summary>The share of elements in each quarter of [0, 1] (an intensity histogram for images scaled to [0, 1]), four features.</summary>
    IntensityHistogram = 8,

    /// <summary>
    /// The mean absolute difference of neighbouring elements along the last axis (total variation per element, the
    /// usual roughness or noise statistic of an image), over the whole sample; needs a fixed last dimension.
    /// </summary>
    Roughness = 16,

    /// <summary>Mean, standard deviation, L2 norm and roughness.</summary>
    Default = Mean | StandardDeviation | L2Norm | Roughness,
}

/// <summary>A monitored feature.</summary>
/// <param name="Name">The name, for example <c>input.mean</c>, <c>features[3]</c>, <c>logits.class</c>.</param>
/// <param name="Kind">Numeric or categorical.</param>
/// <param name="Group"><c>input</c> or <c>output</c>.</param>
public sealed record FeatureDefinition(string Name, FeatureKind Kind, string Group);

/// <summary>
/// Turns one answered request into rows of feature values. Rank-2 inputs <c>[N, F]</c> give one feature per column;
/// inputs of rank 3 or more (<c>[N, C, H, W]</c> or <c>[N, H, W]</c>) give the configured <see cref="TensorReducers"/>
/// per channel; rank-2 outputs <c>[N, K]</c> with K &gt; 1 are a classifier's scores (logits or probabilities) and give
/// the predicted class (categorical) and the top-1 confidence (softmax of logits, or the probability itself); outputs
/// with one value per row are a regression's value. Dimension 0 is the batch: a request of N rows gives N rows.
/// Numeric element types are read as doubles; string and boolean tensors are not monitored.
/// Thread-safe after construction.
/// </summary>
public sealed class FeatureExtractor
{
    private readonly List<Plan> _plans = [];

    /// <summary>Creates the extractor for a model signature.</summary>
    /// <param name="signature">The model's signature.</param>
    /// <param name="reducers">Reducers for tensors of rank 3 or more.</param>
    /// <exception cref="ArgumentNullException"><paramref name="signature"/> is <see langword="null"/>.</exception>
    public FeatureExtractor(ModelSignature signature, TensorReducers reducers = TensorReducers.Default)
    {
        ArgumentNullException.ThrowIfNull(signature);
        var features = new List<FeatureDefinition>();
        foreach (TensorSpec spec in signature.Inputs)
        {
            if (!IsNumeric(spec.ElementType))
            {
                continue;
            }

            int rank = spec.Shape.Count;
            if (rank <= 1)
            {
                _plans.Add(new Plan(spec.Name, true, PlanKind.Columns, features.Count, 1, 1, reducers));
                features.Add(new FeatureDefinition(spec.Name, FeatureKind.Numeric, "input"));
            }
            else if (rank == 2)
            {
                long columns = spec.Shape[1];
                if (columns <= 0 || columns > 4096)
                {
                    continue;
                }

                _plans.Add(new Plan(spec.Name, true, PlanKind.Columns, features.Count, (int)columns, 1, reducers));
                for (int j = 0; j < columns; j++)
                {
                    features.Add(new FeatureDefinition($"{spec.Name}[{j}]", FeatureKind.Numeric, "input"));
                }
            }
            else
            {
                int channels = rank >= 4 && spec.Shape[1] > 0 && spec.Shape[1] <= 64 ? (int)spec.Shape[1] : 1;
                int first = features.Count;
                for (int c = 0; c < channels; c++)
                {
                    string prefix = channels == 1 ? spec.Name : $"{spec.Name}.c{c}";
                    if (reducers.HasFlag(TensorReducers.Mean))
                    {
                        features.Add(new FeatureDefinition($"{prefix}.mean", FeatureKind.Numeric, "input"));
                    }

                    if (reducers.HasFlag(TensorReducers.StandardDeviation))
                    {
                        features.Add(new FeatureDefinition($"{prefix}.std", FeatureKind.Numeric, "input"));
                    }
                }

                if (reducers.HasFlag(TensorReducers.L2Norm))
                {
                    features.Add(new FeatureDefinition($"{spec.Name}.l2", FeatureKind.Numeric, "input"));
                }

                if (reducers.HasFlag(TensorReducers.IntensityHistogram))
                {
                    for (int q = 0; q < 4; q++)
                    {
                        features.Add(new FeatureDefinition($"{spec.Name}.hist{q}", FeatureKind.Numeric, "input"));
                    }
                }

                long lastDimension = spec.Shape[^1];
                TensorReducers planReducers = reducers;
                if (reducers.HasFlag(TensorReducers.Roughness) && lastDimension > 1)
                {
                    features.Add(new FeatureDefinition($"{spec.Name}.roughness", FeatureKind.Numeric, "input"));
                }
                else
                {
                    planReducers &= ~TensorReducers.Roughness;
                }

                _plans.Add(new Plan(spec.Name, true, PlanKind.Reduce, first, features.Count - first, channels, planReducers, (int)Math.Max(1, lastDimension)));
            }
        }

        foreach (TensorSpec spec in signature.Outputs)
        {
            if (!IsNumeric(spec.ElementType))
            {
                continue;
            }

            long width = spec.Shape.Count == 2 ? spec.Shape[1] : 1;
            if (spec.Shape.Count <= 2 && width > 1)
            {
                _plans.Add(new Plan(spec.Name, false, PlanKind.Classifier, features.Count, 2, (int)width, reducers));
                features.Add(new FeatureDefinition($"{spec.Name}.class", FeatureKind.Categorical, "output"));
                features.Add(new FeatureDefinition($"{spec.Name}.confidence", FeatureKind.Numeric, "output"));
                ClassifierOutput ??= spec.Name;
            }
            else if (spec.Shape.Count <= 2)
            {
                _plans.Add(new Plan(spec.Name, false, PlanKind.Columns, features.Count, 1, 1, reducers));
                features.Add(new FeatureDefinition($"{spec.Name}.value", FeatureKind.Numeric, "output"));
                RegressionOutput ??= spec.Name;
            }
        }

        Features = features;
    }

    /// <summary>Gets the features, in the order of the values <see cref="Extract"/> writes.</summary>
    public IReadOnlyList<FeatureDefinition> Features { get; }

    /// <summary>Gets the name of the first classifier output, or <see langword="null"/>.</summary>
    public string? ClassifierOutput { get; }

    /// <summary>Gets the name of the first regression output, or <see langword="null"/>.</summary>
    public string? RegressionOutput { get; }

    /// <summary>Gets the index of the predicted-class feature, or −1.</summary>
    public int ClassFeatureIndex => ClassifierOutput is null ? -1 : IndexOf($"{ClassifierOutput}.class");

    /// <summary>Gets the index of the top-1 confidence feature, or −1.</summary>
    public int ConfidenceFeatureIndex => ClassifierOutput is null ? -1 : IndexOf($"{ClassifierOutput}.confidence");

    /// <summary>Gets the index of the regression value feature, or −1.</summary>
    public int RegressionFeatureIndex => RegressionOutput is null ? -1 : IndexOf($"{RegressionOutput}.value");

    /// <summary>Returns the index of feature <paramref name="name"/>, or −1.</summary>
    /// <param name="name">The feature name.</param>
    /// <returns>The index or −1.</returns>
    public int IndexOf(string name)
    {
        for (int i = 0; i < Features.Count; i++)
        {
            if (Features[i].Name == name)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Computes the feature rows of one request. A tensor the signature names but the request lacks, or whose row count
    /// differs from the first input's, leaves its features NaN (counted as non-finite, never added to a sketch).
    /// </summary>
    /// <param name="inputs">The request's inputs.</param>
    /// <param name="outputs">The request's outputs.</param>
    /// <param name="nonFiniteElements">Receives the number of NaN or infinite elements in the inputs.</param>
    /// <returns>Rows × <see cref="Features"/>.Count values, row-major; the caller owns the array.</returns>
    public double[] Extract(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> outputs, out long nonFiniteElements)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(outputs);
        nonFiniteElements = 0;
        int rows = RowCount(inputs);
        int width = Features.Count;
        var values = new double[rows * width];
        values.AsSpan().Fill(double.NaN);
        foreach (Plan plan in _plans)
        {
            Tensor? tensor = Find(plan.IsInput ? inputs : outputs, plan.Tensor);
            if (tensor is null)
            {
                continue;
            }

            int length = (int)Math.Min(int.MaxValue, tensor.ElementCount);
            double[] rented = System.Buffers.ArrayPool<double>.Shared.Rent(Math.Max(1, length));
            try
            {
                if (!ToDoubles(tensor, rented) || rows == 0 || length % rows != 0)
                {
                    continue;
                }

                ExtractRows(plan, rented.AsSpan(0, length), rows, width, values, ref nonFiniteElements);
            }
            finally
            {
                System.Buffers.ArrayPool<double>.Shared.Return(rented);
            }
        }

        return values;
    }

    private static void ExtractRows(Plan plan, ReadOnlySpan<double> data, int rows, int width, double[] values, ref long nonFiniteElements)
    {
            int perRow = data.Length / rows;
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<double> row = data.Slice(r * perRow, perRow);
                Span<double> target = values.AsSpan((r * width) + plan.First, plan.Count);
                if (plan.IsInput)
                {
                    foreach (double v in row)
                    {
                        if (!double.IsFinite(v))
                        {
                            nonFiniteElements++;
                        }
                    }
                }

                switch (plan.Kind)
                {
                    case PlanKind.Columns:
                        if (row.Length == plan.Count)
                        {
                            row.CopyTo(target);
                        }

                        break;
                    case PlanKind.Classifier:
                        Classify(row, target);
                        break;
                    default:
                        Reduce(row, plan, target);
                        break;
                }
            }
    }

    private static void Classify(ReadOnlySpan<double> scores, Span<double> target)
    {
        int best = -1;
        double max = double.NegativeInfinity;
        bool probabilities = true;
        double sum = 0;
        for (int k = 0; k < scores.Length; k++)
        {
            double s = scores[k];
            if (!double.IsFinite(s))
            {
                return;
            }

            if (s > max)
            {
                max = s;
                best = k;
            }

            probabilities &= s >= 0 && s <= 1;
            sum += s;
        }

        if (best < 0)
        {
            return;
        }

        target[0] = best;
        if (probabilities && Math.Abs(sum - 1) < 1e-3)
        {
            target[1] = max;
            return;
        }

        double denominator = 0;
        foreach (double s in scores)
        {
            denominator += Math.Exp(s - max);
        }

        target[1] = 1 / denominator;
    }

    private static void Reduce(ReadOnlySpan<double> sample, Plan plan, Span<double> target)
    {
        int channels = plan.Channels;
        int perChannel = sample.Length / channels;
        int t = 0;
        double squares = 0;
        long finite = 0;
        Span<long> quarters = stackalloc long[4];
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<double> channel = sample.Slice(c * perChannel, perChannel);
            // Two passes (sum, then squared deviations from the mean): as stable as Welford's update without its
            // division per element, which dominated the reduction of an image on the monitor's background loop.
            double sum = 0;
            long n = 0;
            foreach (double v in channel)
            {
                if (!double.IsFinite(v))
                {
                    continue;
                }

                n++;
                sum += v;
                squares += v * v;
                quarters[v < 0.25 ? 0 : v < 0.5 ? 1 : v < 0.75 ? 2 : 3]++;
            }

            double mean = n == 0 ? 0 : sum / n;
            double m2 = 0;
            foreach (double v in channel)
            {
                if (double.IsFinite(v))
                {
                    double delta = v - mean;
                    m2 += delta * delta;
                }
            }

            finite += n;
            if (plan.Reducers.HasFlag(TensorReducers.Mean))
            {
                target[t++] = n == 0 ? double.NaN : mean;
            }

            if (plan.Reducers.HasFlag(TensorReducers.StandardDeviation))
            {
                target[t++] = n == 0 ? double.NaN : Math.Sqrt(m2 / n);
            }
        }

        if (plan.Reducers.HasFlag(TensorReducers.L2Norm))
        {
            target[t++] = finite == 0 ? double.NaN : Math.Sqrt(squares);
        }

        if (plan.Reducers.HasFlag(TensorReducers.IntensityHistogram))
        {
            for (int q = 0; q < 4; q++)
            {
                target[t++] = finite == 0 ? double.NaN : (double)quarters[q] / finite;
            }
        }

        if (plan.Reducers.HasFlag(TensorReducers.Roughness))
        {
            int width = plan.LastDimension;
            double total = 0;
            long pairs = 0;
            for (int start = 0; start + width <= sample.Length; start += width)
            {
                for (int i = start + 1; i < start + width; i++)
                {
                    double d = sample[i] - sample[i - 1];
                    if (double.IsFinite(d))
                    {
                        total += Math.Abs(d);
                        pairs++;
                    }
                }
            }

            target[t++] = pairs == 0 ? double.NaN : total / pairs;
        }
    }

    private static int RowCount(IReadOnlyList<NamedTensor> inputs)
    {
        foreach (NamedTensor input in inputs)
        {
            if (input.Value is not StringTensor)
            {
                return input.Value.Shape.Length == 0 ? 1 : (int)Math.Min(int.MaxValue, input.Value.Shape[0]);
            }
        }

        return inputs.Count == 0 ? 0 : 1;
    }

    private static Tensor? Find(IReadOnlyList<NamedTensor> tensors, string name)
    {
        foreach (NamedTensor t in tensors)
        {
            if (t.Name == name)
            {
                return t.Value;
            }
        }

        return null;
    }

    private static bool ToDoubles(Tensor tensor, double[] target)
    {
        switch (tensor)
        {
            case Tensor<float> f:
                Convert(f.Span, target);
                return true;
            case Tensor<double> d:
                d.Span.CopyTo(target);
                return true;
            case Tensor<long> l:
                Convert(l.Span, target);
                return true;
            case Tensor<int> i:
                Convert(i.Span, target);
                return true;
            case Tensor<short> s:
                Convert(s.Span, target);
                return true;
            case Tensor<byte> b:
                Convert(b.Span, target);
                return true;
            case Tensor<sbyte> sb:
                Convert(sb.Span, target);
                return true;
            case Tensor<ushort> us:
                Convert(us.Span, target);
                return true;
            case Tensor<uint> ui:
                Convert(ui.Span, target);
                return true;
            case Tensor<ulong> ul:
                Convert(ul.Span, target);
                return true;
            case Tensor<Half> h:
                for (int k = 0; k < h.Span.Length; k++)
                {
                    target[k] = (double)h.Span[k];
                }

                return true;
            default:
                return false;
        }
    }

    private static void Convert<T>(ReadOnlySpan<T> span, double[] target)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        for (int i = 0; i < span.Length; i++)
        {
            target[i] = double.CreateTruncating(span[i]);
        }
    }

    private static bool IsNumeric(TensorElementType type) =>
        type is not (TensorElementType.String or TensorElementType.Bool or TensorElementType.BFloat16);

    private enum PlanKind
    {
        Columns,
        Reduce,
        Classifier,
    }

    [StructLayout(LayoutKind.Auto)]
    private readonly record struct Plan(string Tensor, bool IsInput, PlanKind Kind, int First, int Count, int Channels, TensorReducers Reducers, int LastDimension = 1);
}
