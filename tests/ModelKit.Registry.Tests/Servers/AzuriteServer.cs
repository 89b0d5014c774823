using System.Diagnostics;
using System.Globalization;

namespace ModelKit.Registry.Tests.Servers;

/// <summary>azurite 3.37.0 (npm, Microsoft's Azure Storage emulator), blob service only, on 127.0.0.1 and a free port.</summary>
public sealed class AzuriteServer : IAsyncLifetime
{
    /// <summary>The emulator's well-known development account and key.</summary>
    public const string AccountName = "devstoreaccount1";

    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private Process? _process;
    private string? _directory;

    public static string ScriptPath => Path.Combine(TestServers.NodeModules, "azurite", "dist", "src", "blob", "main.js");

    public int Port { get; private set; }

    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};BlobEndpoint=http://127.0.0.1:{Port}/{AccountName};";

    public async Task InitializeAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "modelkit-azurite-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_directory);
        Port = TestServers.FreePort();
        _process = TestServers.StartServer("node",
        [
            ScriptPath, "--blobHost", "127.0.0.1", "--blobPort", Port.ToString(CultureInfo.InvariantCulture), "--location", _directory,
            "--silent", "--skipApiVersionCheck", "--loose", "--disableProductStyleUrl",
        ]);
        await TestServers.WaitForPortAsync(Port, _process, "azurite", TimeSpan.FromSeconds(60));
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

[CollectionDefinition("azure")]
public sealed class AzuriteServerGroup : ICollectionFixture<AzuriteServer>;
