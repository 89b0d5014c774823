using System.Globalization;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Profiles;

/// <summary>The bounded-memory summaries of one feature over a reference or a window. Not thread-safe.</summary>
internal sealed class FeatureAccumulator
{
    /// <param name="definition">The feature.</param>
    /// <param name="sketchK">The KLL sketch's k.</param>
    /// <param name="binEdges">The reference's bin edges, or <see langword="null"/> for no histogram.</param>
    /// <param name="trackMoments">Whether to keep mean and variance (a profile needs them; a window's drift does not).</param>
    public FeatureAccumulator(FeatureDefinition definition, int sketchK, double[]? binEdges, bool trackMoments = true)
    {
        Definition = definition;
        if (definition.Kind == FeatureKind.Numeric)
        {
            Sketch = new KllSketch(sketchK);
            Moments = trackMoments ? new RunningMoments() : null;
            Histogram = binEdges is null ? null : new FixedEdgeHistogram(binEdges);
        }
        else
        {
            Categories = new CategoryCounts();
        }
    }

    public FeatureDefinition Definition { get; }

    public KllSketch? Sketch { get; }

    public RunningMoments? Moments { get; }

    public FixedEdgeHistogram? Histogram { get; }

    public CategoryCounts? Categories { get; }

    public long NonFiniteCount { get; private set; }

    public long Count => Sketch?.Count ?? Categories!.Count;

    public void Add(double value)
    {
        if (!double.IsFinite(value))
        {
            NonFiniteCount++;
            return;
        }

        if (Categories is not null)
        {
            Categories.Add((long)value);
            return;
        }

        Sketch!.Add(value);
        Moments?.Add(value);
        Histogram?.Add(value);
    }

    /// <summary>Adds values in bulk: the same summaries as <see cref="Add"/> per value.</summary>
    /// <param name="values">The values.</param>
    public void AddRange(ReadOnlySpan<double> values)
    {
        if (Categories is not null || Moments is not null)
        {
            foreach (double value in values)
            {
                Add(value);
            }

            return;
        }

        long before = Sketch!.NonFiniteCount;
        Sketch.AddRange(values);
        NonFiniteCount += Sketch.NonFiniteCount - before;
        Histogram?.AddRange(values);
    }

    /// <summary>Empties the summaries for reuse (a new window with the same reference).</summary>
    /// <exception cref="InvalidOperationException">The accumulator keeps moments (a profile's, which is never reused).</exception>
    public void Reset()
    {
        if (Moments is not null)
        {
            throw new InvalidOperationException("Only window accumulators (created without moments) are reused.");
        }

        NonFiniteCount = 0;
        Sketch?.Reset();
        Histogram?.Reset();
        Categories?.Reset();
    }

    public FeatureProfile ToProfile(int binCount)
    {
        var profile = new FeatureProfile { Name = Definition.Name, Kind = Definition.Kind, Count = Count, NonFiniteCount = NonFiniteCount };
        if (Categories is not null)
        {
            foreach ((long category, long count) in Categories.Counts)
            {
                profile.Categories[category.ToString(CultureInfo.InvariantCulture)] = count;
            }

            return profile;
        }

        profile.Mean = Moments!.Count == 0 ? 0 : Moments.Mean;
        profile.StandardDeviation = Moments.Count == 0 ? 0 : Moments.StandardDeviation;
        profile.Sketch = Sketch!.ToState();
        var edges = new List<double>();
        for (int i = 1; i < binCount && Sketch.Count > 0; i++)
        {
            double q = Sketch.Quantile((double)i / binCount);
            if (edges.Count == 0 || q > edges[^1])
            {
                edges.Add(q);
            }
        }

        profile.BinEdges = [.. edges];
        var histogram = new FixedEdgeHistogram(edges);
        SortedViewBinning.Fill(Sketch.GetSortedView(), histogram, profile);
        return profile;
    }
}

/// <summary>Bins a reference sketch's retained values (with their weights) into its own edges.</summary>
internal static class SortedViewBinning
{
    public static void Fill(KllSketch.SortedView view, FixedEdgeHistogram histogram, FeatureProfile profile)
    {
        var counts = new long[histogram.Edges.Count + 1];
        long previous = 0;
        for (int i = 0; i < view.Values.Length; i++)
        {
            long weight = view.CumulativeWeights[i] - previous;
            previous = view.CumulativeWeights[i];
            counts[histogram.BinOf(view.Values[i])] += weight;
        }

        profile.BinCounts = counts;
    }
}
