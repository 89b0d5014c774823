using System.ComponentModel;
using System.Runtime.InteropServices;

namespace DistributedTraining;

/// <summary>
/// The CPU affinity of the calling thread on Linux (glibc's <c>sched_getaffinity</c> / <c>sched_setaffinity</c> with
/// pid 0, which name the calling thread), for the local launcher's per-rank core binding: a process started from a
/// thread inherits that thread's mask, so every thread of the rank (the .NET runtime's, libtorch's OpenMP team, Gloo's)
/// stays on the rank's CPUs.
/// </summary>
internal static partial class CpuAffinity
{
    // glibc's cpu_set_t: 1,024 CPUs.
    private const int MaskWords = 16;

    /// <summary>The CPU ids the calling thread may run on, ascending; <see langword="null"/> off Linux or when the call fails.</summary>
    public static int[]? CurrentThread()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var mask = new ulong[MaskWords];
        if (SchedGetAffinity(0, MaskWords * sizeof(ulong), mask) != 0)
        {
            return null;
        }

        var cpus = new List<int>();
        for (int cpu = 0; cpu < MaskWords * 64; cpu++)
        {
            if ((mask[cpu / 64] & (1UL << (cpu % 64))) != 0)
            {
                cpus.Add(cpu);
            }
        }

        return [.. cpus];
    }

    /// <summary>Restricts the calling thread to <paramref name="cpus"/> (ids below 1,024).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A CPU id is negative or 1,024 or more.</exception>
    /// <exception cref="Win32Exception">The kernel refused the mask (for example a CPU outside the process's cgroup).</exception>
    public static void SetCurrentThread(IReadOnlyList<int> cpus)
    {
        var mask = new ulong[MaskWords];
        foreach (int cpu in cpus)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(cpu);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(cpu, MaskWords * 64);
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }

        if (SchedSetAffinity(0, MaskWords * sizeof(ulong), mask) != 0)
        {
            throw new Win32Exception(Marshal.GetLastPInvokeError(), $"sched_setaffinity to CPUs {string.Join(",", cpus)} failed");
        }
    }

    /// <summary>The process's <c>Cpus_allowed_list</c> from <c>/proc/self/status</c> (for example <c>0-1</c>), or <see langword="null"/>.</summary>
    public static string? AllowedList()
    {
        try
        {
            return File.ReadLines("/proc/self/status")
                .FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))?["Cpus_allowed_list:".Length..].Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nuint size, [Out] ulong[] mask);

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, ulong[] mask);
}
