using System.Globalization;
using System.Reflection;
using ModelKit.Registry;

namespace ModelKit.Serving.AspNetCore.Internal;

/// <summary>One recorded move of an alias.</summary>
internal sealed record AliasHistoryEntry(string Alias, int? OldVersion, int NewVersion, DateTimeOffset ChangedAt);

/// <summary>The outcome of a compare-and-set of an alias.</summary>
internal readonly record struct AliasSetOutcome(bool Conflict, int? CurrentVersion);

/// <summary>
/// MERGE SEAM (to switch when the registry's alias compare-and-set and history reader land on IModelRegistry):
/// the only place the endpoints and the <c>modelkit</c> command set an alias with an expected current version and read
/// an alias's history. Today <see cref="SetAliasAsync"/> reads the alias with <see cref="IModelRegistry.GetAliasesAsync"/>
/// and then calls <see cref="IModelRegistry.SetAliasAsync(string, string, int, CancellationToken)"/> under a process-wide lock: atomic against callers in this
/// process, not against other processes. <see cref="GetHistoryAsync"/> calls the SQLite registry's internal
/// <c>GetAliasHistoryAsync(name, alias, ct)</c> by reflection and returns <see langword="null"/> for a registry without it.
/// Replace both bodies with the registry's own calls at merge.
/// </summary>
internal static class AliasCompareAndSetSeam
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static async Task<AliasSetOutcome> SetAliasAsync(IModelRegistry registry, string name, string alias, int version, int? expectedVersion, CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            IReadOnlyDictionary<string, int> aliases = await registry.GetAliasesAsync(name, cancellationToken).ConfigureAwait(false);
            int? current = aliases.TryGetValue(alias, out int v) ? v : null;
            if (expectedVersion is int expected && current != expected)
            {
                return new AliasSetOutcome(true, current);
            }

            await registry.SetAliasAsync(name, alias, version, cancellationToken).ConfigureAwait(false);
            return new AliasSetOutcome(false, current);
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task<IReadOnlyList<AliasHistoryEntry>?> GetHistoryAsync(IModelRegistry registry, string name, string alias, CancellationToken cancellationToken)
    {
        MethodInfo? method = registry.GetType().GetMethod(
            "GetAliasHistoryAsync",
            BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic,
            [typeof(string), typeof(string), typeof(CancellationToken)]);
        if (method is null)
        {
            return null;
        }

        Task task;
        try
        {
            task = (Task)method.Invoke(registry, [name, alias, cancellationToken])!;
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(ex.InnerException).Throw();
            throw;
        }

        await task.ConfigureAwait(false);
        object result = task.GetType().GetProperty("Result")!.GetValue(task)!;
        var entries = new List<AliasHistoryEntry>();
        foreach (object change in (System.Collections.IEnumerable)result)
        {
            Type t = change.GetType();
            entries.Add(new AliasHistoryEntry(
                (string)t.GetProperty("Alias")!.GetValue(change)!,
                (int?)t.GetProperty("OldVersion")!.GetValue(change),
                Convert.ToInt32(t.GetProperty("NewVersion")!.GetValue(change), CultureInfo.InvariantCulture),
                (DateTimeOffset)t.GetProperty("ChangedAt")!.GetValue(change)!));
        }

        return entries;
    }
}
