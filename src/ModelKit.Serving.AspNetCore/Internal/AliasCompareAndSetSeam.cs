using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>One recorded move of an alias; <see cref="NewVersion"/> is <see langword="null"/> when the alias was removed.</summary>
internal sealed record AliasHistoryEntry(string Alias, int? OldVersion, int? NewVersion, DateTimeOffset ChangedAt, string? ChangedBy, string? Reason);

/// <summary>The outcome of a compare-and-set of an alias.</summary>
internal readonly record struct AliasSetOutcome(bool Conflict, int? CurrentVersion);

/// <summary>
/// The one place where the endpoints and the <c>modelkit</c> command move an alias with an expected current version and
/// read an alias's history, over the registry's atomic <see cref="IModelRegistry.CompareAndSetAliasAsync"/> (of several
/// writers expecting the same version, in any number of processes, exactly one wins) and its append-only ledger
/// (<see cref="IModelRegistry.GetAliasHistoryAsync"/>).
/// </summary>
internal static class AliasCompareAndSetSeam
{
    public static async Task<AliasSetOutcome> SetAliasAsync(IModelRegistry registry, string name, string alias, int version, int? expectedVersion, CancellationToken cancellationToken)
    {
        IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(name, cancellationToken).ConfigureAwait(false);
        int? current = aliases.TryGetValue(alias, out int v) ? v : null;
        if (expectedVersion is null)
        {
            // No expectation: an unconditional move, still recorded in the ledger.
            await registry.SetAliasAsync(name, alias, version, cancellationToken).ConfigureAwait(false);
            return new AliasSetOutcome(false, current);
        }

        try
        {
            await registry.CompareAndSetAliasAsync(name, alias, expectedVersion, version, null, cancellationToken).ConfigureAwait(false);
            return new AliasSetOutcome(false, expectedVersion);
        }
        catch (AliasConflictException ex)
        {
            return new AliasSetOutcome(true, ex.ActualVersion);
        }
    }

    public static async Task<IReadOnlyList<AliasHistoryEntry>?> GetHistoryAsync(IModelRegistry registry, string name, string alias, CancellationToken cancellationToken)
    {
        IReadOnlyList<AliasChange> changes;
        try
        {
            changes = await registry.GetAliasHistoryAsync(name, alias, cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException)
        {
            return null;
        }

        var entries = new List<AliasHistoryEntry>(changes.Count);
        foreach (AliasChange c in changes)
        {
            entries.Add(new AliasHistoryEntry(c.Alias, c.OldVersion, c.NewVersion, c.ChangedAt, c.ChangedBy, c.Reason));
        }

        return entries;
    }
}
