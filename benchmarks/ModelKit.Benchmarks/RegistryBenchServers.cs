using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModelKit.Benchmarks;

/// <summary>
/// Real servers for the registry benchmarks, started like the tests start them: PostgreSQL 15 (initdb into a temporary
/// directory as the postgres user, pg_ctl on 127.0.0.1 with its defaults: fsync on) and s3rver 3.7.1 from
/// artifacts/servers (eng/setup.sh installs both).
/// </summary>
internal sealed class RegistryBenchServers : IDisposable
{
    public const string S3Key = "S3RVER";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "modelkit-bench-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly string _pgBin;
    private Process? _s3rver;

    public RegistryBenchServers()
    {
        Directory.CreateDirectory(_root);
        _pgBin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).First(d => File.Exists(Path.Combine(d, "initdb")));
        Run("chown", "postgres:postgres", _root);
        PgPort = FreePort();
        string data = Path.Combine(_root, "pg");
        Run("runuser", "-u", "postgres", "--", Path.Combine(_pgBin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C");
        Run("runuser", "-u", "postgres", "--", Path.Combine(_pgBin, "pg_ctl"), "-D", data, "-l", Path.Combine(_root, "pg.log"), "-w",
            "-o", $"-c listen_addresses=127.0.0.1 -p {PgPort} -k {_root}", "start");
        S3Port = FreePort();
        string repo = FindRepositoryRoot();
        string s3dir = Path.Combine(_root, "s3");
        Directory.CreateDirectory(s3dir);
        var start = new ProcessStartInfo("node") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { Path.Combine(repo, "artifacts/servers/node_modules/s3rver/bin/s3rver.js"), "-d", s3dir, "-a", "127.0.0.1", "-p", S3Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silent", "--configure-bucket", "bench" })
        {
            start.ArgumentList.Add(a);
        }

        _s3rver = Process.Start(start)!;
        _s3rver.BeginOutputReadLine();
        _s3rver.BeginErrorReadLine();
        for (int i = 0; i < 300; i++)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, S3Port);
                break;
            }
            catch (SocketException)
            {
                Thread.Sleep(100);
            }
        }
    }

    public int PgPort { get; }

    public int S3Port { get; }

    public string PgConnectionString => $"Host=127.0.0.1;Port={PgPort};Username=postgres;Database=postgres";

    public string S3Url => $"http://127.0.0.1:{S3Port}";

    public void Dispose()
    {
        try
        {
            Run("runuser", "-u", "postgres", "--", Path.Combine(_pgBin, "pg_ctl"), "-D", Path.Combine(_root, "pg"), "-m", "immediate", "stop");
        }
        catch (InvalidOperationException)
        {
        }

        if (_s3rver is { HasExited: false })
        {
            _s3rver.Kill(entireProcessTree: true);
            _s3rver.WaitForExit();
        }

        _s3rver?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Path.GetTempPath() };
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process p = Process.Start(start)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed: {output}");
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

        throw new InvalidOperationException("ModelKit.sln not found above " + AppContext.BaseDirectory);
    }
}
