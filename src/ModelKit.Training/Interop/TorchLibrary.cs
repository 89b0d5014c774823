using System.Reflection;
using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>
/// Loads <c>libmodelkit_torch.so</c> explicitly (never from a static constructor) and resolves the
/// <c>modelkit_torch</c> imports of this assembly to it; turns shim statuses into <see cref="NativeEngineException"/>.
/// </summary>
internal static class TorchLibrary
{
    /// <summary>The library name used by every <c>LibraryImport</c> in this assembly.</summary>
    public const string Name = "modelkit_torch";

    /// <summary>The file that eng/setup.sh builds into artifacts/native/lib.</summary>
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
    /// Loads the shim once per process: from <paramref name="configuredPath"/> when given, otherwise from
    /// <see cref="AppContext.BaseDirectory"/> and then the loader's search path.
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
                        : MissingLibrary([fullConfigured], [$"'{fullConfigured}': file not found"]);
                }

                return;
            }

            string[] candidates = fullConfigured is not null
                ? [fullConfigured]
                : [Path.Combine(AppContext.BaseDirectory, FileName), FileName];
            var failures = new List<string>(candidates.Length);
            foreach (string candidate in candidates)
            {
                try
                {
                    nint handle = NativeLibrary.Load(candidate);
                    s_loadedFrom = candidate;
                    s_handle = handle;
                    return;
                }
                catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
                {
                    failures.Add($"'{candidate}': {ex.Message}");
                }
            }

            throw MissingLibrary(candidates, failures);
        }
    }

    /// <summary>
    /// Throws <see cref="NativeEngineException"/> when <paramref name="status"/> is not 0, with the shim's
    /// thread-local message. Must be called on the thread that made the failing call, right after it.
    /// </summary>
    /// <param name="status">The shim's status code.</param>
    /// <param name="operation">The shim export that returned it, for example <c>mk_network_train_step</c>.</param>
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

    private static NativeEngineException MissingLibrary(IReadOnlyList<string> candidates, IReadOnlyList<string> failures) =>
        new(Engine, "LoadLibrary", 0,
            $"Could not load the libtorch shim {FileName}; tried {string.Join(", ", candidates.Select(c => $"'{c}'"))}. " +
            $"Run 'bash eng/setup.sh' to build it into artifacts/native/lib (test and sample builds copy it next to their output), " +
            $"or set TorchTrainingOptions.LibraryPath to its location. Loader messages: {string.Join(" | ", failures)}");

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
