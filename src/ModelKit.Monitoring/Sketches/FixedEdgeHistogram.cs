namespace ModelKit.Monitoring.Sketches;

/// <summary>
/// Counts of values in bins with fixed edges (taken from the reference profile, so that a window and its reference
/// are binned alike). With edges <c>e[0] &lt; … &lt; e[n-1]</c> there are <c>n + 1</c> bins: (−∞, e[0]], (e[0], e[1]],
/// …, (e[n-1], +∞). Exact, mergeable, memory fixed by the edge count. Non-finite values are counted apart.
/// Not thread-safe.
/// </summary>
public sealed class FixedEdgeHistogram
{
    private readonly double[] _edges;
    private readonly long[] _counts;

    /// <summary>Creates an empty histogram.</summary>
    /// <param name="edges">Interior bin edges, strictly ascending and finite; may be empty (one bin).</param>
    /// <exception cref="ArgumentNullException"><paramref name="edges"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An edge is not finite, or the edges are not strictly ascending.</exception>
    public FixedEdgeHistogram(IReadOnlyList<double> edges)
    {
        ArgumentNullException.ThrowIfNull(edges);
        for (int i = 0; i < edges.Count; i++)
        {
            if (!double.IsFinite(edges[i]) || (i > 0 && edges[i] <= edges[i - 1]))
            {
                throw new ArgumentException($"Histogram edge {i} is {edges[i]}; edges must be finite and strictly ascending.", nameof(edges));
            }
        }

        _edges = [.. edges];
        _counts = new long[_edges.Length + 1];
    }

    /// <summary>Gets the interior edges.</summary>
    public IReadOnlyList<double> Edges => _edges;

    /// <summary>Gets the count per bin (length <c>Edges.Count + 1</c>).</summary>
    public IReadOnlyList<long> Counts => _counts;

    /// <summary>Gets the number of finite values counted.</summary>
    public long Count { get; private set; }

    /// <summary>Gets the number of non-finite values offered and left out.</summary>
    public long NonFiniteCount { get; private set; }

    /// <summary>Counts one value.</summary>
    /// <param name="value">The value; NaN and ±∞ are only counted in <see cref="NonFiniteCount"/>.</param>
    public void Add(double value)
    {
        if (!double.IsFinite(value))
        {
            NonFiniteCount++;
            return;
        }

        _counts[BinOf(value)]++;
        Count++;
    }

    /// <summary>Counts values in bulk (the same counts as <see cref="Add"/> per value).</summary>
    /// <param name="values">The values; NaN and ±∞ are only counted in <see cref="NonFiniteCount"/>.</param>
    internal void AddRange(ReadOnlySpan<double> values)
    {
        long counted = 0;
        foreach (double value in values)
        {
            if (!double.IsFinite(value))
            {
                NonFiniteCount++;
                continue;
            }

            _counts[BinOf(value)]++;
            counted++;
        }

        Count += counted;
    }

    /// <summary>Empties the histogram for reuse (a new window with the same edges).</summary>
    internal void Reset()
    {
        Array.Clear(_counts);
        Count = 0;
        NonFiniteCount = 0;
    }

    /// <summary>Returns the bin index of <paramref name="value"/>.</summary>
    /// <param name="value">A finite value.</param>
    /// <returns>0 to <c>Edges.Count</c>.</returns>
    public int BinOf(double value)
    {
        // The first edge ≥ value closes the bin (bins are right-closed).
        int lo = 0;
        int hi = _edges.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_edges[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    /// <summary>Adds the counts of <paramref name="other"/> to this histogram.</summary>
    /// <param name="other">A histogram with the same edges.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The edges differ.</exception>
    public void Merge(FixedEdgeHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!_edges.AsSpan().SequenceEqual(other._edges))
        {
            throw new ArgumentException($"Cannot merge histograms with different edges ({other._edges.Length} vs {_edges.Length} edges); bin both with the reference's edges.", nameof(other));
        }

        for (int i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        NonFiniteCount += other.NonFiniteCount;
    }
}
