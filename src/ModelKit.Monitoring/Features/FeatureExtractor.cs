using System.Numerics;
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
        double[] values = new double[RowCount(inputs) * Features.Count];
        ExtractInto(inputs, outputs, ref values, 0, out nonFiniteElements);
        return values;
    }

    /// <summary>
    /// The allocation-free form of <see cref="Extract"/> used by the monitor's processing loop: writes the rows at
    /// <paramref name="offset"/> of <paramref name="values"/>, replacing it with a larger copy when it is too small.
    /// </summary>
    /// <returns>The number of values written (rows × feature count).</returns>
    internal int ExtractInto(IReadOnlyList<NamedTensor> inputs, IReadOnlyList<NamedTensor> outputs, ref double[] values, int offset, out long nonFiniteElements)
    {
        nonFiniteElements = 0;
        int rows = RowCount(inputs);
        int width = Features.Count;
        int count = rows * width;
        if (values.Length < offset + count)
        {
            Array.Resize(ref values, Math.Max(offset + count, values.Length * 2));
        }

        Span<double> target = values.AsSpan(offset, count);
        target.Fill(double.NaN);
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

                ExtractRows(plan, rented.AsSpan(0, length), rows, width, target, ref nonFiniteElements);
            }
            finally
            {
                System.Buffers.ArrayPool<double>.Shared.Return(rented);
            }
        }

        return count;
    }

    private static void ExtractRows(Plan plan, ReadOnlySpan<double> data, int rows, int width, Span<double> values, ref long nonFiniteElements)
    {
        int perRow = data.Length / rows;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<double> row = data.Slice(r * perRow, perRow);
            Span<double> target = values.Slice((r * width) + plan.First, plan.Count);
            switch (plan.Kind)
            {
                case PlanKind.Columns:
                    if (plan.IsInput)
                    {
                        nonFiniteElements += CountNonFinite(row);
                    }

                    if (row.Length == plan.Count)
                    {
                        row.CopyTo(target);
                    }

                    break;
                case PlanKind.Classifier:
                    if (plan.IsInput)
                    {
                        nonFiniteElements += CountNonFinite(row);
                    }

                    Classify(row, target);
                    break;
                default:
                    // The vectorised reducer answers only when every element is finite (it checks that from its own
                    // sums); a sample with NaN or infinities takes the scalar path, which leaves them out and counts them.
                    if (!ReduceVectorized(row, plan.Channels, plan.Reducers, plan.LastDimension, target))
                    {
                        if (plan.IsInput)
                        {
                            nonFiniteElements += CountNonFinite(row);
                        }

                        Reduce(row, plan.Channels, plan.Reducers, plan.LastDimension, target);
                    }

                    break;
            }
        }
    }

    private static long CountNonFinite(ReadOnlySpan<double> values)
    {
        long count = 0;
        foreach (double v in values)
        {
            if (!double.IsFinite(v))
            {
                count++;
            }
        }

        return count;
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

    /// <summary>
    /// The scalar reducer: two passes per channel (sum, then squared deviations from the mean), leaving NaN and
    /// infinities out. Used for samples that hold non-finite elements, and measured against
    /// <see cref="ReduceVectorized"/> in <c>MonitoringBenchmarks</c>.
    /// </summary>
    internal static void Reduce(ReadOnlySpan<double> sample, int channels, TensorReducers reducers, int lastDimension, Span<double> target)
    {
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
            if (reducers.HasFlag(TensorReducers.Mean))
            {
                target[t++] = n == 0 ? double.NaN : mean;
            }

            if (reducers.HasFlag(TensorReducers.StandardDeviation))
            {
                target[t++] = n == 0 ? double.NaN : Math.Sqrt(m2 / n);
            }
        }

        if (reducers.HasFlag(TensorReducers.L2Norm))
        {
            target[t++] = finite == 0 ? double.NaN : Math.Sqrt(squares);
        }

        if (reducers.HasFlag(TensorReducers.IntensityHistogram))
        {
            for (int q = 0; q < 4; q++)
            {
                target[t++] = finite == 0 ? double.NaN : (double)quarters[q] / finite;
            }
        }

        if (reducers.HasFlag(TensorReducers.Roughness))
        {
            int width = lastDimension;
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

    /// <summary>
    /// The same reductions as <see cref="Reduce"/> with <see cref="Vector{T}"/> arithmetic: one pass per channel for
    /// the sum, the sum of squares and the intensity-histogram counts, a second for the squared deviations from the
    /// mean (kept for its stability with large offsets), and one over the rows for the roughness. Answers only when
    /// every element is finite, which the sums show (a NaN or infinity makes the sum of squares non-finite; so does a
    /// square that overflows, which the scalar path then handles).
    /// </summary>
    /// <returns><see langword="false"/> when an element (or a square or difference of elements) is not finite, or
    /// vector hardware is missing; <paramref name="target"/> must then be filled by <see cref="Reduce"/>.</returns>
    internal static bool ReduceVectorized(ReadOnlySpan<double> sample, int channels, TensorReducers reducers, int lastDimension, Span<double> target)
    {
        int perChannel = sample.Length / channels;
        if (!Vector.IsHardwareAccelerated || perChannel == 0)
        {
            return false;
        }

        bool histogram = (reducers & TensorReducers.IntensityHistogram) != 0;
        int t = 0;
        double squares = 0;
        long below1 = 0;
        long below2 = 0;
        long below3 = 0;
        for (int c = 0; c < channels; c++)
        {
            ReadOnlySpan<double> channel = sample.Slice(c * perChannel, perChannel);
            (double sum, double sumOfSquares) = SumAndSumOfSquares(channel);
            if (!double.IsFinite(sum) || !double.IsFinite(sumOfSquares))
            {
                return false;
            }

            squares += sumOfSquares;
            if (histogram)
            {
                CountBelowQuarters(channel, ref below1, ref below2, ref below3);
            }

            double mean = sum / perChannel;
            if ((reducers & TensorReducers.Mean) != 0)
            {
                target[t++] = mean;
            }

            if ((reducers & TensorReducers.StandardDeviation) != 0)
            {
                target[t++] = Math.Sqrt(SumOfSquaredDeviations(channel, mean) / perChannel);
            }
        }

        if ((reducers & TensorReducers.L2Norm) != 0)
        {
            target[t++] = Math.Sqrt(squares);
        }

        if (histogram)
        {
            double n = (double)perChannel * channels;
            target[t++] = below1 / n;
            target[t++] = (below2 - below1) / n;
            target[t++] = (below3 - below2) / n;
            target[t++] = (n - below3) / n;
        }

        if ((reducers & TensorReducers.Roughness) != 0)
        {
            int width = lastDimension;
            double total = 0;
            long pairs = 0;
            for (int start = 0; start + width <= sample.Length; start += width)
            {
                ReadOnlySpan<double> line = sample.Slice(start, width);
                total += SumOfAbsoluteDifferences(line[1..], line[..^1]);
                pairs += width - 1;
            }

            if (!double.IsFinite(total))
            {
                return false;
            }

            target[t++] = pairs == 0 ? double.NaN : total / pairs;
        }

        return true;
    }

    private static (double Sum, double SumOfSquares) SumAndSumOfSquares(ReadOnlySpan<double> values)
    {
        ReadOnlySpan<Vector<double>> vectors = MemoryMarshal.Cast<double, Vector<double>>(values);
        Vector<double> sum = Vector<double>.Zero;
        Vector<double> squares = Vector<double>.Zero;
        foreach (Vector<double> v in vectors)
        {
            sum += v;
            squares += v * v;
        }

        double s = Vector.Sum(sum);
        double q = Vector.Sum(squares);
        for (int i = vectors.Length * Vector<double>.Count; i < values.Length; i++)
        {
            double v = values[i];
            s += v;
            q += v * v;
        }

        return (s, q);
    }

    private static double SumOfSquaredDeviations(ReadOnlySpan<double> values, double mean)
    {
        ReadOnlySpan<Vector<double>> vectors = MemoryMarshal.Cast<double, Vector<double>>(values);
        var m = new Vector<double>(mean);
        Vector<double> sum = Vector<double>.Zero;
        foreach (Vector<double> v in vectors)
        {
            Vector<double> d = v - m;
            sum += d * d;
        }

        double s = Vector.Sum(sum);
        for (int i = vectors.Length * Vector<double>.Count; i < values.Length; i++)
        {
            double d = values[i] - mean;
            s += d * d;
        }

        return s;
    }

    private static void CountBelowQuarters(ReadOnlySpan<double> values, ref long below1, ref long below2, ref long below3)
    {
        ReadOnlySpan<Vector<double>> vectors = MemoryMarshal.Cast<double, Vector<double>>(values);
        var q1 = new Vector<double>(0.25);
        var q2 = new Vector<double>(0.5);
        var q3 = new Vector<double>(0.75);
        Vector<long> c1 = Vector<long>.Zero;
        Vector<long> c2 = Vector<long>.Zero;
        Vector<long> c3 = Vector<long>.Zero;
        foreach (Vector<double> v in vectors)
        {
            // A true comparison lane is all ones (−1 as a long): subtracting it counts one.
            c1 -= Vector.LessThan(v, q1);
            c2 -= Vector.LessThan(v, q2);
            c3 -= Vector.LessThan(v, q3);
        }

        below1 += Vector.Sum(c1);
        below2 += Vector.Sum(c2);
        below3 += Vector.Sum(c3);
        for (int i = vectors.Length * Vector<double>.Count; i < values.Length; i++)
        {
            double v = values[i];
            below1 += v < 0.25 ? 1 : 0;
            below2 += v < 0.5 ? 1 : 0;
            below3 += v < 0.75 ? 1 : 0;
        }
    }

    private static double SumOfAbsoluteDifferences(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        ReadOnlySpan<Vector<double>> va = MemoryMarshal.Cast<double, Vector<double>>(a);
        ReadOnlySpan<Vector<double>> vb = MemoryMarshal.Cast<double, Vector<double>>(b);
        Vector<double> sum = Vector<double>.Zero;
        for (int i = 0; i < va.Length; i++)
        {
            sum += Vector.Abs(va[i] - vb[i]);
        }

        double s = Vector.Sum(sum);
        for (int i = va.Length * Vector<double>.Count; i < a.Length; i++)
        {
            s += Math.Abs(a[i] - b[i]);
        }

        return s;
    }

    /// <summary>Converts <paramref name="source"/> to doubles, eight or sixteen elements per instruction.</summary>
    private static void Widen(ReadOnlySpan<float> source, Span<double> target)
    {
        ReadOnlySpan<Vector<float>> vectors = MemoryMarshal.Cast<float, Vector<float>>(source);
        Span<Vector<double>> wide = MemoryMarshal.Cast<double, Vector<double>>(target);
        for (int i = 0; i < vectors.Length; i++)
        {
            Vector.Widen(vectors[i], out wide[2 * i], out wide[(2 * i) + 1]);
        }

        for (int i = vectors.Length * Vector<float>.Count; i < source.Length; i++)
        {
            target[i] = source[i];
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
                Widen(f.Span, target);
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
