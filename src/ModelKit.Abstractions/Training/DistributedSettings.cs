using System.Collections;
using System.Globalization;

namespace ModelKit.Training;

/// <summary>
/// Where a data-parallel training process stands in its group, in PyTorch's terms (the environment variables that
/// <c>torchrun</c>, Kubeflow's PyTorchJob and ModelKit's own launcher set): the rendezvous store at
/// <see cref="MasterAddress"/>:<see cref="MasterPort"/>, this process's <see cref="Rank"/> among <see cref="WorldSize"/> ranks.
/// </summary>
/// <remarks>
/// Rendezvous (as PyTorch's <c>env://</c> init method): under torchrun (<see cref="UseAgentStore"/>) every rank connects to
/// the elastic agent's TCPStore as a client, with keys under <c>/worker/attempt_{TORCHELASTIC_RESTART_COUNT}</c>;
/// otherwise rank 0 hosts the TCPStore and the other ranks connect to it.
/// </remarks>
/// <param name="MasterAddress">The host of the rendezvous store (<c>MASTER_ADDR</c>), for example <c>127.0.0.1</c>.</param>
/// <param name="MasterPort">Its TCP port (<c>MASTER_PORT</c>), 1 to 65535.</param>
/// <param name="Rank">This process's rank (<c>RANK</c>), 0 to <paramref name="WorldSize"/> − 1.</param>
/// <param name="WorldSize">The number of processes (<c>WORLD_SIZE</c>), 1 or greater.</param>
public sealed record DistributedSettings(string MasterAddress, int MasterPort, int Rank, int WorldSize)
{
    /// <summary>Gets this process's rank on its machine (<c>LOCAL_RANK</c>).</summary>
    /// <value>The default is <see cref="Rank"/>.</value>
    public int LocalRank { get; init; } = Rank;

    /// <summary>Gets the number of ranks on this machine (<c>LOCAL_WORLD_SIZE</c>).</summary>
    /// <value>The default is <see cref="WorldSize"/>.</value>
    public int LocalWorldSize { get; init; } = WorldSize;

    /// <summary>Gets whether to join the launcher's store as a client (<c>TORCHELASTIC_USE_AGENT_STORE=True</c>) instead of rank 0 hosting one.</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool UseAgentStore { get; init; }

    /// <summary>Gets the elastic restart count (<c>TORCHELASTIC_RESTART_COUNT</c>), which names the store prefix under torchrun.</summary>
    /// <value>The default is 0.</value>
    public int RestartCount { get; init; }

    /// <summary>Gets the time every collective (and the rendezvous) may take before every rank fails with an error naming it.</summary>
    /// <value>The default is 300 seconds.</value>
    public TimeSpan CollectiveTimeout { get; init; } = TimeSpan.FromSeconds(300);

    /// <summary>Gets the size of the gradient buckets that are all-reduced together, in bytes (PyTorch DDP's <c>bucket_cap_mb</c>); 1024 or greater.</summary>
    /// <value>The default is 25 MiB.</value>
    public long BucketCapBytes { get; init; } = 25L * 1024 * 1024;

    /// <summary>Gets the store key prefix: <c>/worker/attempt_{RestartCount}</c> under torchrun's agent store, otherwise empty.</summary>
    public string StorePrefix => UseAgentStore ? "/worker/attempt_" + RestartCount.ToString(CultureInfo.InvariantCulture) : string.Empty;

    /// <summary>Gets whether this process hosts the TCPStore (rank 0 without an agent store).</summary>
    public bool HostsStore => !UseAgentStore && Rank == 0;

    /// <summary>
    /// Reads PyTorch's variables: <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>, <c>RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c>,
    /// <c>LOCAL_WORLD_SIZE</c>, <c>TORCHELASTIC_USE_AGENT_STORE</c>, <c>TORCHELASTIC_RESTART_COUNT</c>.
    /// </summary>
    /// <param name="environment">The variables; <see langword="null"/> reads the process environment.</param>
    /// <returns>The settings, or <see langword="null"/> when <c>WORLD_SIZE</c> is not set (a single process).</returns>
    /// <exception cref="ArgumentException">A variable is missing, not a number, or inconsistent (for example <c>RANK</c> ≥ <c>WORLD_SIZE</c>); the message names it, its value and what is expected.</exception>
    public static DistributedSettings? FromEnvironment(IReadOnlyDictionary<string, string?>? environment = null)
    {
        environment ??= ReadProcessEnvironment();
        string? worldText = Get(environment, "WORLD_SIZE");
        if (worldText is null)
        {
            return null;
        }

        int world = Parse(environment, "WORLD_SIZE", 1, 1 << 20);
        int rank = Parse(environment, "RANK", 0, int.MaxValue);
        if (rank >= world)
        {
            throw new ArgumentException(Invariant($"RANK is {rank} but WORLD_SIZE is {world}; RANK must be in [0, {world}). Check the launcher's settings."), nameof(environment));
        }

        string address = Get(environment, "MASTER_ADDR") ?? throw new ArgumentException("WORLD_SIZE is set but MASTER_ADDR is not; set it to the host of rank 0 (for example 127.0.0.1).", nameof(environment));
        int port = Parse(environment, "MASTER_PORT", 1, 65535);
        int localWorld = Get(environment, "LOCAL_WORLD_SIZE") is null ? world : Parse(environment, "LOCAL_WORLD_SIZE", 1, world);
        int localRank = Get(environment, "LOCAL_RANK") is null ? rank % localWorld : Parse(environment, "LOCAL_RANK", 0, int.MaxValue);
        if (localRank >= localWorld)
        {
            throw new ArgumentException(Invariant($"LOCAL_RANK is {localRank} but LOCAL_WORLD_SIZE is {localWorld}; LOCAL_RANK must be in [0, {localWorld})."), nameof(environment));
        }

        string? agent = Get(environment, "TORCHELASTIC_USE_AGENT_STORE");
        bool useAgent = agent is not null && (agent.Equals("True", StringComparison.OrdinalIgnoreCase) || agent == "1");
        int restart = Get(environment, "TORCHELASTIC_RESTART_COUNT") is null ? 0 : Parse(environment, "TORCHELASTIC_RESTART_COUNT", 0, int.MaxValue);
        return new DistributedSettings(address, port, rank, world)
        {
            LocalRank = localRank,
            LocalWorldSize = localWorld,
            UseAgentStore = useAgent,
            RestartCount = restart,
        };
    }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range or inconsistent; the message quotes it.</exception>
    public void Validate()
    {
        string? problem =
            string.IsNullOrWhiteSpace(MasterAddress) ? "MasterAddress is empty" :
            MasterPort is < 1 or > 65535 ? Invariant($"MasterPort is {MasterPort}; it must be in [1, 65535]") :
            WorldSize < 1 ? Invariant($"WorldSize is {WorldSize}; it must be 1 or greater") :
            Rank < 0 || Rank >= WorldSize ? Invariant($"Rank is {Rank} but WorldSize is {WorldSize}; Rank must be in [0, {WorldSize})") :
            LocalWorldSize < 1 || LocalRank < 0 || LocalRank >= LocalWorldSize ? Invariant($"LocalRank is {LocalRank} and LocalWorldSize {LocalWorldSize}; LocalRank must be in [0, LocalWorldSize)") :
            CollectiveTimeout < TimeSpan.FromSeconds(0.1) || CollectiveTimeout > TimeSpan.FromDays(1) ? Invariant($"CollectiveTimeout is {CollectiveTimeout.TotalSeconds} s; it must be between 0.1 s and 1 day") :
            BucketCapBytes < 1024 ? Invariant($"BucketCapBytes is {BucketCapBytes}; it must be 1024 or greater") :
            null;
        if (problem is not null)
        {
            throw new ArgumentException($"DistributedSettings.{problem}.", "settings");
        }
    }

    private static Dictionary<string, string?> ReadProcessEnvironment()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            result[(string)entry.Key] = entry.Value as string;
        }

        return result;
    }

    private static string? Get(IReadOnlyDictionary<string, string?> environment, string name) =>
        environment.TryGetValue(name, out string? value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    private static int Parse(IReadOnlyDictionary<string, string?> environment, string name, int min, int max)
    {
        string? text = Get(environment, name);
        if (text is null)
        {
            throw new ArgumentException($"WORLD_SIZE is set but {name} is not; the launcher must set {name} for every rank.", nameof(environment));
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
        {
            throw new ArgumentException(Invariant($"{name} is '{text}'; it must be an integer in [{min}, {max}]."), nameof(environment));
        }

        return value;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
