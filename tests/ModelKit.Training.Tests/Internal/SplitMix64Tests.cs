using ModelKit.Training.Internal;

namespace ModelKit.Training.Tests.Internal;

public sealed class SplitMix64Tests
{
    [Fact]
    public void Next_SeedZero_MatchesReferenceSequence()
    {
        // Reference values of SplitMix64 from seed 0 (Vigna's splitmix64.c).
        var random = new SplitMix64(0);

        Assert.Equal(0xE220A8397B1DCDAFUL, random.Next());
        Assert.Equal(0x6E789E6AA1B965F4UL, random.Next());
        Assert.Equal(0x06C45D188009454FUL, random.Next());
    }

    [Fact]
    public void Shuffle_IsAPermutation_AndDeterministicPerSeed()
    {
        int[] a = [.. Enumerable.Range(0, 100)];
        int[] b = [.. Enumerable.Range(0, 100)];
        int[] c = [.. Enumerable.Range(0, 100)];
        var ra = new SplitMix64(42);
        var rb = new SplitMix64(42);
        var rc = new SplitMix64(43);

        ra.Shuffle(a);
        rb.Shuffle(b);
        rc.Shuffle(c);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(Enumerable.Range(0, 100), a.Order());
        Assert.NotEqual(Enumerable.Range(0, 100), a);
    }

    [Fact]
    public void NextInt_StaysInBound()
    {
        var random = new SplitMix64(1);
        for (int i = 0; i < 1000; i++)
        {
            Assert.InRange(random.NextInt(7), 0, 6);
        }
    }
}
