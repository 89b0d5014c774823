using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Tests.Interop;

/// <summary>
/// The trainer never changes the environment of the running process (glibc's setenv is unsafe while other threads run):
/// thread counts go through libtorch's API.
/// </summary>
public sealed partial class ProcessEnvironmentTests
{
    [Fact]
    public void TrainingAssembly_DeclaresNoNativeImportThatChangesTheEnvironment()
    {
        string[] forbidden = ["setenv", "putenv", "unsetenv", "clearenv"];
        Assembly assembly = typeof(Trainer).Assembly;

        var imports = assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Import: m.GetCustomAttribute<DllImportAttribute>()))
            .Where(x => x.Import is not null)
            .ToList();

        Assert.NotEmpty(imports); // the shim's imports are found, so the check can see an offending one
        Assert.DoesNotContain(imports, x => forbidden.Contains(x.Import!.EntryPoint ?? x.Method.Name, StringComparer.Ordinal));
    }

    [Fact]
    public void CreatingNetworks_LeavesTheNativeEnvironmentUnchanged_AndSetsThreadsThroughLibtorch()
    {
        string? before = Marshal.PtrToStringUTF8(GetEnv("OMP_WAIT_POLICY"));
        string? threadsBefore = Marshal.PtrToStringUTF8(GetEnv("OMP_NUM_THREADS"));
        using var trainer = new Trainer(Options.Create(new TorchTrainingOptions { ThreadCount = 2 }));

        using SequentialNetwork network = trainer.CreateNetwork(TestTorch.SmallMlp(), TestTorch.Input4, 1);

        Assert.Equal(before, Marshal.PtrToStringUTF8(GetEnv("OMP_WAIT_POLICY")));
        Assert.Equal(threadsBefore, Marshal.PtrToStringUTF8(GetEnv("OMP_NUM_THREADS")));
        Assert.Equal(0, MkRuntime.GetNumThreads(out int threads));
        Assert.Equal(2, threads);
    }

    [LibraryImport("libc.so.6", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint GetEnv(string name);
}
