using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>The C library functions the loader needs.</summary>
internal static partial class LibC
{
    /// <summary>POSIX <c>setenv</c>: changes the native process environment (which native libraries read).</summary>
    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int SetEnv(string name, string value, int overwrite);
}
