namespace ModelKit.Training.Tests.Distributed;

public sealed class DistributedSettingsTests
{
    [Fact]
    public void FromEnvironment_WithoutWorldSize_IsNull() =>
        Assert.Null(DistributedSettings.FromEnvironment(new Dictionary<string, string?> { ["RANK"] = "0" }));

    [Fact]
    public void FromEnvironment_TorchrunVariables_UseTheAgentStoreUnderTheAttemptPrefix()
    {
        DistributedSettings settings = DistributedSettings.FromEnvironment(new Dictionary<string, string?>
        {
            ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = "29500", ["RANK"] = "1", ["WORLD_SIZE"] = "2",
            ["LOCAL_RANK"] = "1", ["LOCAL_WORLD_SIZE"] = "2", ["TORCHELASTIC_USE_AGENT_STORE"] = "True", ["TORCHELASTIC_RESTART_COUNT"] = "3",
        })!;

        Assert.Equal(("127.0.0.1", 29500, 1, 2, 1, 2), (settings.MasterAddress, settings.MasterPort, settings.Rank, settings.WorldSize, settings.LocalRank, settings.LocalWorldSize));
        Assert.True(settings.UseAgentStore);
        Assert.False(settings.HostsStore);
        Assert.Equal("/worker/attempt_3", settings.StorePrefix);
    }

    [Fact]
    public void FromEnvironment_WithoutAgentStore_RankZeroHostsTheStore()
    {
        DistributedSettings settings = DistributedSettings.FromEnvironment(new Dictionary<string, string?>
        {
            ["MASTER_ADDR"] = "10.0.0.5", ["MASTER_PORT"] = "23456", ["RANK"] = "0", ["WORLD_SIZE"] = "4",
        })!;

        Assert.True(settings.HostsStore);
        Assert.Equal(string.Empty, settings.StorePrefix);
        Assert.Equal((0, 4), (settings.LocalRank, settings.LocalWorldSize));
    }

    [Theory]
    [InlineData("2", "2", "29500", "RANK is 2 but WORLD_SIZE is 2; RANK must be in [0, 2).")]
    [InlineData("0", "two", "29500", "WORLD_SIZE is 'two'; it must be an integer in [1, 1048576].")]
    [InlineData("0", "2", "70000", "MASTER_PORT is '70000'; it must be an integer in [1, 65535].")]
    [InlineData(null, "2", "29500", "WORLD_SIZE is set but RANK is not; the launcher must set RANK for every rank.")]
    public void FromEnvironment_InconsistentVariables_ThrowNamingThem(string? rank, string world, string port, string expected)
    {
        var environment = new Dictionary<string, string?> { ["MASTER_ADDR"] = "127.0.0.1", ["MASTER_PORT"] = port, ["RANK"] = rank, ["WORLD_SIZE"] = world };

        var ex = Assert.Throws<ArgumentException>(() => DistributedSettings.FromEnvironment(environment));

        Assert.StartsWith(expected, ex.Message, StringComparison.Ordinal);
    }
}
