
namespace ModelKit.Registry.Tests.Servers;

/// <summary>
/// A real PostgreSQL server for the tests: <c>initdb</c> into a temporary directory (as the <c>postgres</c> user when
/// running as root, since initdb refuses root), started with <c>pg_ctl</c> on 127.0.0.1 and a free port, stopped and
/// deleted on dispose. Each test uses its own schema, so tests do not see each other's data.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string? _directory;
    private string? _bin;

    public int Port { get; private set; }

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Maximum Pool Size=50;Timeout=30;Command Timeout=60";

    public static string? FindBinDirectory()
    {
        const string Root = "/usr/lib/postgresql";
        if (!Directory.Exists(Root))
        {
            return null;
        }

        return Directory.GetDirectories(Root)
            .Select(d => Path.Combine(d, "bin"))
            .Where(d => File.Exists(Path.Combine(d, "initdb")) && File.Exists(Path.Combine(d, "pg_ctl")))
            .OrderByDescending(d => d, StringComparer.Ordinal)
            .FirstOrDefault();
    }

    /// <summary>A schema name no other test uses.</summary>
    public static string NewSchema() => "t_" + Guid.NewGuid().ToString("N")[..16];

    public async Task InitializeAsync()
    {
        _bin = FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL is not installed: apt-get install postgresql (eng/setup.sh does it).");
        _directory = Path.Combine(Path.GetTempPath(), "modelkit-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(_directory);
        bool root = Environment.UserName == "root";
        if (root)
        {
            TestServers.Run("chown", ["postgres:postgres", _directory]);
        }

        Port = TestServers.FreePort();
        string data = Path.Combine(_directory, "data");
        AsPostgres(root, Path.Combine(_bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
        AsPostgres(root, Path.Combine(_bin, "pg_ctl"),
        [
            "-D", data, "-l", Path.Combine(_directory, "server.log"), "-w", "-t", "60",
            "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {_directory} -c max_connections=300 -c fsync=off -c synchronous_commit=off",
            "start",
        ]);
        await TestServers.WaitForPortAsync(Port, null, "PostgreSQL", TimeSpan.FromSeconds(60));
    }

    public Task DisposeAsync()
    {
        if (_directory is not null && _bin is not null)
        {
            try
            {
                AsPostgres(Environment.UserName == "root", Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_directory, "data"), "-m", "immediate", "-w", "stop"]);
            }
            catch (InvalidOperationException)
            {
            }

            TestServers.DeleteDirectory(_directory);
        }

        return Task.CompletedTask;
    }

    private static void AsPostgres(bool root, string program, string[] arguments)
    {
        if (root)
        {
            TestServers.Run("runuser", ["-u", "postgres", "--", program, .. arguments]);
        }
        else
        {
            TestServers.Run(program, arguments);
        }
    }
}

[CollectionDefinition("postgres")]
public sealed class PostgresServerGroup : ICollectionFixture<PostgresServer>;
