using System.Globalization;

namespace ModelKit.Packaging.Tests;

/// <summary>
/// Packs ModelKit once per test run, with a version of its own (so NuGet's global package cache never serves a
/// package from an earlier run), into a temporary folder outside the repository, and prepares a consumer folder
/// there: a nuget.config that adds the packed folder as a source (the machine's own sources stay) and a private
/// template hive for <c>dotnet new</c> (the machine's template list is not touched).
/// </summary>
public sealed class PackagesFixture : IAsyncLifetime
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(15);

    /// <summary>Gets the repository root (the folder holding ModelKit.sln).</summary>
    public string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>Gets the version the packages were packed with, e.g. <c>0.1.0-ci.20261202103000.4242</c>.</summary>
    public string Version { get; } = string.Create(CultureInfo.InvariantCulture, $"0.1.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}");

    /// <summary>Gets the temporary root (removed at the end).</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "modelkit-consumer-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>Gets the folder holding the .nupkg files.</summary>
    public string PackagesDirectory => Path.Combine(Root, "packages");

    /// <summary>Gets the consumer folder (with its nuget.config): create consumer projects under it.</summary>
    public string ConsumerDirectory => Path.Combine(Root, "consumer");

    /// <summary>Gets the template hive passed to <c>dotnet new --debug:custom-hive</c>.</summary>
    public string TemplateHive => Path.Combine(Root, "template-hive");

    /// <summary>Gets the dotnet host that runs these tests.</summary>
    public static string Dotnet { get; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Gets how long packing took.</summary>
    public TimeSpan PackTime { get; private set; }

    /// <summary>Gets the pack step's output.</summary>
    public string PackOutput { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Assert.False(Root.StartsWith(RepositoryRoot, StringComparison.Ordinal), $"The temporary folder '{Root}' must be outside the repository '{RepositoryRoot}'.");
        Directory.CreateDirectory(PackagesDirectory);
        Directory.CreateDirectory(ConsumerDirectory);
        Directory.CreateDirectory(TemplateHive);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        (int exitCode, string output) = await ConsumerProcess.RunAsync(
            "bash", [Path.Combine(RepositoryRoot, "eng", "pack.sh"), "--version", Version, "--output", PackagesDirectory], RepositoryRoot, PackTimeout,
            new Dictionary<string, string> { ["MODELKIT_SKIP_SETUP"] = "1" }); // the test command ran the set-up already
        PackOutput = output;
        Assert.True(exitCode == 0, $"eng/pack.sh --version {Version} --output {PackagesDirectory} exited with {exitCode}:\n{output}");
        PackTime = clock.Elapsed;

        await File.WriteAllTextAsync(Path.Combine(ConsumerDirectory, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <!-- The packages under test; ModelKit's dependencies come from the machine's own sources. -->
                <add key="modelkit-under-test" value="{PackagesDirectory}" />
              </packageSources>
            </configuration>
            """);
    }

    public Task DisposeAsync()
    {
        // This run's packages in the global cache are never used again (the version is unique): remove them.
        string globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        if (Directory.Exists(globalPackages))
        {
            foreach (string package in Directory.EnumerateDirectories(globalPackages, "modelkit.*"))
            {
                TryDelete(Path.Combine(package, Version.ToLowerInvariant()));
            }
        }

        TryDelete(Root);
        return Task.CompletedTask;
    }

    /// <summary>Runs <c>dotnet</c> with <paramref name="arguments"/> in <paramref name="workingDirectory"/> and fails the test when it exits non-zero.</summary>
    public static async Task<string> DotnetAsync(string workingDirectory, TimeSpan timeout, params string[] arguments)
    {
        (int exitCode, string output) = await ConsumerProcess.RunAsync(Dotnet, arguments, workingDirectory, timeout);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} (in {workingDirectory}) exited with {exitCode}:\n{output}");
        return output;
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // Best effort: a temporary folder left behind is harmless.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"ModelKit.sln was not found above '{AppContext.BaseDirectory}'.");
    }
}

[CollectionDefinition(Name)]
public sealed class PackedModelKitDefinition : ICollectionFixture<PackagesFixture>
{
    public const string Name = "packed ModelKit";
}
