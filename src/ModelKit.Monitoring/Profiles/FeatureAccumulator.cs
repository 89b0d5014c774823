using System.Globalization;
using ModelKit.Monitoring.Features;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Profiles;

/// <summary>The bounded-memory summaries of one feature over a reference or a window. Not thread-safe.</summary>
internal sealed class FeatureAccumulator
{
    public FeatureAccumulator(FeatureDefinition definition, int sketchK, double[]? binEdges)
    {
        Definition = definition;
        if (definition.Kind == FeatureKind.Numeric)
        {
            Sketch = new KllSketch(sketchK);
            Moments = new RunningMoments();
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
        Moments!.Add(value);
        Histogram?.Add(value);
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
