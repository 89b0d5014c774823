using System.Diagnostics;

namespace ModelKit.Registry.Tests.Servers;

/// <summary>s3rver 3.7.1 (npm, an S3-compatible server) on 127.0.0.1 and a free port, with its data in a temporary directory.</summary>
public sealed class S3rverServer : IAsyncLifetime
{
    private Process? _process;
    private string? _directory;

    public static string ScriptPath => Path.Combine(TestServers.NodeModules, "s3rver", "bin", "s3rver.js");

    public int Port { get; private set; }

    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    /// <summary>s3rver's fixed credentials.</summary>
    public const string AccessKey = "S3RVER";

    public const string SecretKey = "S3RVER";

    public async Task InitializeAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "modelkit-s3rver-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_directory);
        Port = TestServers.FreePort();
        _process = TestServers.StartServer("node", [ScriptPath, "-d", _directory, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent"]);
        await TestServers.WaitForPortAsync(Port, _process, "s3rver", TimeSpan.FromSeconds(60));
    }

    public Task DisposeAsync()
    {
        TestServers.Stop(_process);
        if (_directory is not null)
        {
            TestServers.DeleteDirectory(_directory);
        }

        return Task.CompletedTask;
    }
}

[CollectionDefinition("s3")]
public sealed class S3rverServerGroup : ICollectionFixture<S3rverServer>;
