using ModelKit.Training.Distributed;

namespace ModelKit.Training.Tests.Distributed;

public sealed class DistributedSamplerTests
{
    [Fact]
    public void Indices_WithoutShuffle_PadLikePyTorch()
    {
        // torch.utils.data.DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False): 4 per rank, padded with 0 and 1.
        Assert.Equal([0, 3, 6, 9], new DistributedSampler(10, 3, 0, shuffle: false).Indices(0));
        Assert.Equal([1, 4, 7, 0], new DistributedSampler(10, 3, 1, shuffle: false).Indices(0));
        Assert.Equal([2, 5, 8, 1], new DistributedSampler(10, 3, 2, shuffle: false).Indices(0));
    }

    [Fact]
    public void Indices_WithDropLast_CutToEqualShards()
    {
        // drop_last=True: num_samples = ceil((10 - 3) / 3) = 3, total 9, index 9 dropped.
        Assert.Equal([0, 3, 6], new DistributedSampler(10, 3, 0, shuffle: false, dropLast: true).Indices(0));
        Assert.Equal([2, 5, 8], new DistributedSampler(10, 3, 2, shuffle: false, dropLast: true).Indices(0));
    }

    [Theory]
    [InlineData(100, 2)]
    [InlineData(97, 4)]
    [InlineData(5, 5)]
    public void Indices_Shuffled_ShardsAreDisjointAndComplete(int size, int world)
    {
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = new List<int>();
            for (int rank = 0; rank < world; rank++)
            {
                seen.AddRange(new DistributedSampler(size, world, rank, shuffle: true, seed: 11).Indices(epoch));
            }

            int padding = seen.Count - size;
            Assert.Equal((size + world - 1) / world * world, seen.Count);
            Assert.Equal(Enumerable.Range(0, size), seen.Distinct().Order());
            Assert.Equal(size, seen.Distinct().Count());
            Assert.InRange(padding, 0, world - 1);
        }
    }

    [Fact]
    public void Indices_AreReshuffledEveryEpoch_AndEqualOnEveryRankForTheSameSeed()
    {
        var sampler = new DistributedSampler(1000, 2, 1, shuffle: true, seed: 3);

        Assert.NotEqual(sampler.Indices(0), sampler.Indices(1));
        Assert.Equal(sampler.Indices(4), new DistributedSampler(1000, 2, 1, shuffle: true, seed: 3).Indices(4));
        Assert.NotEqual(sampler.Indices(0), new DistributedSampler(1000, 2, 1, shuffle: true, seed: 4).Indices(0));
    }

    [Fact]
    public void Constructor_RankOutsideWorld_Throws()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new DistributedSampler(10, 2, 2));

        Assert.Contains("Rank 2 is outside [0, 2) for world size 2.", ex.Message, StringComparison.Ordinal);
    }
}
