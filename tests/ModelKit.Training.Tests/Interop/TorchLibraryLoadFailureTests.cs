using System.Diagnostics;
using ModelKit.Training.Interop;

namespace ModelKit.Training.Tests.Interop;

/// <summary>
/// What a consumer sees when libtorch is not installed: a real shared library that needs a libtorch library the system
/// loader cannot find (built here with g++), loaded through the real loader; the error must name the Debian packages.
/// </summary>
public sealed class TorchLibraryLoadFailureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mk-torchload-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ShimWhoseLibtorchIsMissing_NamesTheAptPackages()
    {
        // A stand-in dependency whose soname no system has, linked into a stand-in shim, then removed.
        string dependency = Path.Combine(_dir, "libtorch_cpu.so.0.0-modelkit-test");
        string shim = Path.Combine(_dir, TorchLibrary.FileName);
        File.WriteAllText(Path.Combine(_dir, "dep.c"), "int mk_test_dep(void) { return 1; }\n");
        File.WriteAllText(Path.Combine(_dir, "shim.c"), "int mk_test_dep(void);\nint mk_test_shim(void) { return mk_test_dep(); }\n");
        Compile($"-shared -fPIC -o {dependency} -Wl,-soname,libtorch_cpu.so.0.0-modelkit-test dep.c");
        Compile($"-shared -fPIC -o {shim} shim.c {dependency}");
        File.Delete(dependency);

        Assert.False(TorchLibrary.TryLoad(shim, out nint handle, out string? failure));
        Assert.Equal(0, handle);
        NativeEngineException ex = TorchLibrary.DescribeLoadFailure([shim], [failure]);

        Assert.Equal("LoadLibrary", ex.Operation);
        Assert.Contains("libtorch is not installed", ex.Message, StringComparison.Ordinal);
        Assert.Contains("libtorch_cpu.so.0.0-modelkit-test", ex.Message, StringComparison.Ordinal);
        Assert.Contains("sudo apt-get install libtorch1.13 libgloo0 libopenblas0-pthread", ex.Message, StringComparison.Ordinal);
        Assert.Contains("libtorch-dev libgloo-dev", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ShimNotFound_SaysWhichPackageShipsIt()
    {
        string shim = Path.Combine(_dir, TorchLibrary.FileName);

        Assert.False(TorchLibrary.TryLoad(shim, out _, out string? failure));
        NativeEngineException ex = TorchLibrary.DescribeLoadFailure([shim], [failure]);

        Assert.DoesNotContain("libtorch is not installed", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ModelKit.Training.Native.linux-x64", ex.Message, StringComparison.Ordinal);
        Assert.Contains(shim, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DefaultCandidates_EndWithTheBareNameForTheSystemLoader()
    {
        IReadOnlyList<string> candidates = TorchLibrary.DefaultCandidates();

        Assert.Equal(TorchLibrary.FileName, candidates[^1]);
        Assert.All(candidates.Take(candidates.Count - 1), c => Assert.True(Path.IsPathFullyQualified(c) && File.Exists(c), c));
        // Tests in this repository get the shim copied next to them, which the probing finds.
        Assert.Contains(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, TorchLibrary.FileName)), candidates);
    }

    private void Compile(string arguments)
    {
        var start = new ProcessStartInfo("cc", arguments) { WorkingDirectory = _dir, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"cc {arguments} failed: {stderr}");
    }
}
