using System.Globalization;
using ModelKit.Training.Internal;

namespace ModelKit.Training.Distributed;

/// <summary>
/// Splits a data set's indices over the ranks of a data-parallel run with the semantics of PyTorch's
/// <c>torch.utils.data.DistributedSampler</c>: every epoch the indices are permuted from <c>seed + epoch</c> (the same
/// permutation on every rank), then either padded by repeating indices from the start (so that every rank gets the same
/// number) or cut to a multiple of the world size (<c>drop_last</c>); rank <c>r</c> takes positions <c>r, r + W, r + 2W, …</c>.
/// The shards of one epoch are disjoint (apart from the padding) and together complete.
/// </summary>
/// <remarks>The permutation is a Fisher–Yates shuffle driven by SplitMix64 seeded with <c>seed + epoch</c> (not torch's <c>randperm</c> stream). Thread-safe (immutable).</remarks>
public sealed class DistributedSampler
{
    /// <summary>Initializes a sampler.</summary>
    /// <param name="datasetSize">The number of samples, 1 or greater.</param>
    /// <param name="worldSize">The number of ranks, 1 or greater.</param>
    /// <param name="rank">This rank, 0 to <paramref name="worldSize"/> − 1.</param>
    /// <param name="shuffle">Whether to permute the indices every epoch.</param>
    /// <param name="seed">The seed shared by every rank.</param>
    /// <param name="dropLast">Whether to drop the tail instead of padding.</param>
    /// <exception cref="ArgumentOutOfRangeException">A count or the rank is out of range, or <paramref name="dropLast"/> leaves no sample per rank.</exception>
    public DistributedSampler(int datasetSize, int worldSize, int rank, bool shuffle = true, long seed = 0, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(datasetSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(worldSize, 1);
        if (rank < 0 || rank >= worldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, string.Create(CultureInfo.InvariantCulture, $"Rank {rank} is outside [0, {worldSize}) for world size {worldSize}."));
        }

        DatasetSize = datasetSize;
        WorldSize = worldSize;
        Rank = rank;
        Shuffle = shuffle;
        Seed = seed;
        DropLast = dropLast;
        SamplesPerRank = dropLast && datasetSize % worldSize != 0 ? (datasetSize - worldSize + worldSize - 1) / worldSize : (datasetSize + worldSize - 1) / worldSize;
        if (SamplesPerRank < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(datasetSize), datasetSize, string.Create(CultureInfo.InvariantCulture, $"{datasetSize} samples leave none per rank over {worldSize} ranks with drop-last; use fewer ranks or padding."));
        }
    }

    /// <summary>Gets the data set size.</summary>
    public int DatasetSize { get; }

    /// <summary>Gets the number of ranks.</summary>
    public int WorldSize { get; }

    /// <summary>Gets this rank.</summary>
    public int Rank { get; }

    /// <summary>Gets whether indices are permuted every epoch.</summary>
    public bool Shuffle { get; }

    /// <summary>Gets the seed.</summary>
    public long Seed { get; }

    /// <summary>Gets whether the tail is dropped instead of padded.</summary>
    public bool DropLast { get; }

    /// <summary>Gets the number of indices each rank gets per epoch (PyTorch's <c>num_samples</c>).</summary>
    public int SamplesPerRank { get; }

    /// <summary>Returns this rank's indices for <paramref name="epoch"/>.</summary>
    /// <param name="epoch">The epoch (0-based, as PyTorch's <c>set_epoch</c>).</param>
    /// <returns>A new array of <see cref="SamplesPerRank"/> indices.</returns>
    public int[] Indices(int epoch)
    {
        int[] all = new int[DatasetSize];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = i;
        }

        if (Shuffle)
        {
            new SplitMix64(unchecked(Seed + epoch)).Shuffle(all);
        }

        int[] mine = new int[SamplesPerRank];
        for (int k = 0; k < SamplesPerRank; k++)
        {
            int position = Rank + (k * WorldSize);
            mine[k] = all[position % DatasetSize]; // padding repeats from the start (position < total always)
        }

        return mine;
    }
}
