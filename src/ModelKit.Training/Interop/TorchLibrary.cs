using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace ModelKit.Training.Interop;

/// <summary>
/// Loads <c>libmodelkit_torch.so</c> explicitly (never from a static constructor) and resolves the
/// <c>modelkit_torch</c> imports of this assembly to it; turns shim statuses into <see cref="NativeEngineException"/>.
/// </summary>
internal static class TorchLibrary
{
    /// <summary>The library name used by every <c>LibraryImport</c> in this assembly.</summary>
    public const string Name = "modelkit_torch";

    /// <summary>The shim's file: in runtimes/linux-x64/native/ of the ModelKit.Training.Native.linux-x64 package (eng/setup.sh builds it).</summary>
    public const string FileName = "libmodelkit_torch.so";

    /// <summary>The engine name carried by <see cref="NativeEngineException.Engine"/>.</summary>
    public const string Engine = "libtorch";

    private static readonly Lock s_lock = new();
    private static bool s_resolverSet;
    private static nint s_handle;
    private static string? s_loadedFrom;

    /// <summary>Gets the path the library was loaded from, or <see langword="null"/> before it is loaded.</summary>
    public static string? LoadedFrom => Volatile.Read(ref s_loadedFrom);

    /// <summary>
    /// Loads the shim once per process: from <paramref name="configuredPath"/> when given, otherwise where .NET's native
    /// library probing looks (<see cref="DefaultCandidates"/>) and then the system loader's search path.
    /// </summary>
    /// <param name="configuredPath">An explicit path, or <see langword="null"/> for the default search.</param>
    /// <exception cref="NativeEngineException">The library cannot be loaded, or another copy is already loaded.</exception>
    /// <remarks>
    /// The process environment is never changed here: <c>setenv</c> while other threads run is unsafe in glibc. Thread counts
    /// are set through libtorch's API (<c>mk_runtime_set_num_threads</c>); OpenMP's wait policy must be in the environment the
    /// process starts with (see <see cref="TorchTrainingOptions.ThreadCount"/>).
    /// </remarks>
    public static void EnsureLoaded(string? configuredPath)
    {
        lock (s_lock)
        {
            if (!s_resolverSet)
            {
                NativeLibrary.SetDllImportResolver(typeof(TorchLibrary).Assembly, Resolve);
                s_resolverSet = true;
            }

            string? fullConfigured = configuredPath is null ? null : Path.GetFullPath(configuredPath);
            if (s_handle != 0)
            {
                if (fullConfigured is not null && !string.Equals(fullConfigured, s_loadedFrom, StringComparison.Ordinal))
                {
                    throw File.Exists(fullConfigured)
                        ? new NativeEngineException(Engine, "LoadLibrary", 0,
                            $"The libtorch shim is already loaded from '{s_loadedFrom}', so '{fullConfigured}' (TorchTrainingOptions.LibraryPath) cannot be used: " +
                            "a process loads one copy. Use the same LibraryPath everywhere, or leave it unset.")
                        : DescribeLoadFailure([fullConfigured], [$"'{fullConfigured}': file not found"]);
                }

                return;
            }

            IReadOnlyList<string> candidates = fullConfigured is not null ? [fullConfigured] : DefaultCandidates();
            var failures = new List<string>(candidates.Count);
            foreach (string candidate in candidates)
            {
                if (TryLoad(candidate, out nint handle, out string? failure))
                {
                    s_loadedFrom = candidate;
                    s_handle = handle;
                    return;
                }

                failures.Add(failure);
            }

            throw DescribeLoadFailure(candidates, failures);
        }
    }

    /// <summary>
    /// Throws <see cref="NativeEngineException"/> when <paramref name="status"/> is not 0, with the shim's
    /// thread-local message. Must be called on the thread that made the failing call, right after it.
    /// </summary>
    /// <param name="status">The shim's status code.</param>
    /// <param name="operation">The shim export that returned it, for example <c>mk_network_train_step_ex</c>.</param>
    /// <exception cref="NativeEngineException"><paramref name="status"/> is not 0.</exception>
    public static void ThrowIfFailed(int status, string operation)
    {
        if (status != 0)
        {
            throw CreateException(status, operation);
        }
    }

    private static NativeEngineException CreateException(int status, string operation)
    {
        string message = Marshal.PtrToStringUTF8(MkRuntime.LastError()) ?? string.Empty;
        if (message.Length == 0)
        {
            message = "(the shim gave no message)";
        }

        return new NativeEngineException(Engine, operation, status, $"libtorch {operation} failed ({StatusName(status)}, status {status}): {message}");
    }

    private static string StatusName(int status) => status switch
    {
        1 => "invalid argument",
        2 => "libtorch error",
        3 => "C++ exception",
        4 => "unknown C++ exception",
        5 => "buffer too small",
        6 => "index out of range",
        _ => "unknown status",
    };

    /// <summary>
    /// The places .NET's native library probing looks, in its order: the directories the host lists in
    /// <c>NATIVE_DLL_SEARCH_DIRECTORIES</c> (from the app's deps.json: the app folder, and <c>runtimes/linux-x64/native/</c>
    /// of a framework-dependent app that references the ModelKit.Training.Native.linux-x64 package), the app folder, and
    /// finally the bare file name for the system loader (<c>LD_LIBRARY_PATH</c>, ld.so.cache).
    /// </summary>
    /// <returns>Full paths of existing files first, then the bare file name.</returns>
    internal static IReadOnlyList<string> DefaultCandidates()
    {
        var directories = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirectories)
        {
            directories.AddRange(searchDirectories.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        directories.Add(AppContext.BaseDirectory);
        directories.Add(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"));
        var candidates = new List<string>();
        foreach (string directory in directories)
        {
            string path = Path.GetFullPath(Path.Combine(directory, FileName));
            if (File.Exists(path) && !candidates.Contains(path, StringComparer.Ordinal))
            {
                candidates.Add(path);
            }
        }

        candidates.Add(FileName);
        return candidates;
    }

    /// <summary>Loads one candidate; never throws for a library that is missing or cannot be loaded.</summary>
    /// <param name="candidate">A full path, or a bare file name for the system loader.</param>
    /// <param name="handle">The library handle, or 0.</param>
    /// <param name="failure">The loader's message (it names a missing dependency such as <c>libtorch.so.1.13</c>), or <see langword="null"/>.</param>
    /// <returns><see langword="true"/> when the library loaded.</returns>
    internal static bool TryLoad(string candidate, out nint handle, [NotNullWhen(false)] out string? failure)
    {
        try
        {
            handle = NativeLibrary.Load(candidate);
            failure = null;
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
        {
            handle = 0;
            failure = $"'{candidate}': {ex.Message}";
            return false;
        }
    }

    /// <summary>
    /// The error for a shim that did not load. When the shim was found but a libtorch library it needs was not
    /// (libtorch, libtorch_cpu, libc10, libgloo, libopenblas), the message says that libtorch is a system dependency
    /// and names the Debian packages to install; otherwise it says where the shim comes from.
    /// </summary>
    /// <param name="candidates">The paths or names tried.</param>
    /// <param name="failures">The loader's message for each.</param>
    /// <returns>The exception to throw (operation <c>LoadLibrary</c>).</returns>
    internal static NativeEngineException DescribeLoadFailure(IReadOnlyList<string> candidates, IReadOnlyList<string> failures)
    {
        string tried = string.Join(", ", candidates.Select(c => $"'{c}'"));
        string loader = string.Join(" | ", failures);
        var missingDependencies = failures
            .SelectMany(f => s_missingDependency.Matches(f))
            .Select(m => m.Groups["lib"].Value)
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (missingDependencies.Count > 0)
        {
            return new NativeEngineException(Engine, "LoadLibrary", 0,
                $"libtorch is not installed: the libtorch shim {FileName} was found but needs {string.Join(", ", missingDependencies)}, which the system loader cannot find. " +
                $"libtorch 1.13 is a system dependency of ModelKit.Training (serving, the registry and compression never need it); on Debian 12 install it with " +
                $"'sudo apt-get install {RuntimePackages}' (or the development packages '{DevelopmentPackages}'). Tried {tried}. Loader messages: {loader}");
        }

        return new NativeEngineException(Engine, "LoadLibrary", 0,
            $"Could not load the libtorch shim {FileName}; tried {tried}. It ships in the ModelKit.Training.Native.linux-x64 package " +
            $"(runtimes/linux-x64/native/, a dependency of ModelKit.Training, linux-x64 only); in a source checkout 'bash eng/setup.sh' builds it into " +
            $"artifacts/native/lib and test and sample builds copy it next to their output. Or set TorchTrainingOptions.LibraryPath to its location. " +
            $"libtorch itself comes from Debian: 'sudo apt-get install {RuntimePackages}'. Loader messages: {loader}");
    }

    /// <summary>Debian 12 packages with the libraries the shim links against (runtime only).</summary>
    internal const string RuntimePackages = "libtorch1.13 libgloo0 libopenblas0-pthread";

    /// <summary>Debian 12 development packages that bring the same libraries (what eng/setup.sh installs).</summary>
    internal const string DevelopmentPackages = "libtorch-dev libgloo-dev libopenblas0-pthread";

    private static readonly Regex s_missingDependency = new(
        @"(?<lib>lib(?:torch|c10|gloo|openblas|shm)[^\s:/]*): cannot open shared object file",
        RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (!string.Equals(libraryName, Name, StringComparison.Ordinal))
        {
            return 0;
        }

        nint handle = Volatile.Read(ref s_handle);
        if (handle != 0)
        {
            return handle;
        }

        // Reached only if an import runs before EnsureLoaded (the public API always loads first).
        try
        {
            EnsureLoaded(null);
        }
        catch (NativeEngineException)
        {
            return 0;
        }

        return Volatile.Read(ref s_handle);
    }
}
