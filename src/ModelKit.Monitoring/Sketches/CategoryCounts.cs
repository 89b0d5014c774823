using System.Runtime.InteropServices;

namespace ModelKit.Monitoring.Sketches;

/// <summary>
/// Exact counts per category (for example the predicted class), mergeable. Memory grows with the number of distinct
/// categories, which is bounded for a classifier (its class count); categories beyond <see cref="MaxCategories"/> are
/// counted together under <see cref="OtherCategory"/>. Not thread-safe.
/// </summary>
public sealed class CategoryCounts
{
    /// <summary>The category that collects values once <see cref="MaxCategories"/> distinct ones were seen: <c>-1</c>.</summary>
    public const long OtherCategory = -1;

    private readonly Dictionary<long, long> _counts = [];

    /// <summary>Creates an empty set of counts.</summary>
    /// <param name="maxCategories">The most distinct categories kept; 1 to 100,000.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxCategories"/> is outside 1 to 100,000.</exception>
    public CategoryCounts(int maxCategories = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCategories, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxCategories, 100_000);
        MaxCategories = maxCategories;
    }

    /// <summary>Gets the most distinct categories kept.</summary>
    public int MaxCategories { get; }

    /// <summary>Gets the total count.</summary>
    public long Count { get; private set; }

    /// <summary>Gets the counts per category.</summary>
    public IReadOnlyDictionary<long, long> Counts => _counts;

    /// <summary>Counts one occurrence of <paramref name="category"/>.</summary>
    /// <param name="category">The category.</param>
    /// <param name="count">How many occurrences; 0 or more.</param>
    public void Add(long category, long count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (_counts.Count >= MaxCategories && !_counts.ContainsKey(category))
        {
            category = OtherCategory;
        }

        // One hash lookup per value while the category count is below the limit.
        CollectionsMarshal.GetValueRefOrAddDefault(_counts, category, out _) += count;
        Count += count;
    }

    /// <summary>Empties the counts for reuse (a new window).</summary>
    internal void Reset()
    {
        _counts.Clear();
        Count = 0;
    }

    /// <summary>Adds the counts of <paramref name="other"/>.</summary>
    /// <param name="other">Other counts.</param>
    /// <exception cref="ArgumentNullException"><paramref name="other"/> is <see langword="null"/>.</exception>
    public void Merge(CategoryCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        foreach ((long category, long count) in other._counts)
        {
            Add(category, count);
        }
    }
}
