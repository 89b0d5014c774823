using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace ModelKit.Monitoring.Tests.Alerts;

/// <summary>A real Prometheus Alertmanager (Debian's prometheus-alertmanager 0.25, installed by eng/setup.sh) on 127.0.0.1 and a free port.</summary>
public sealed class AlertmanagerFixture : IAsyncLifetime
{
    private const string Binary = "/usr/bin/prometheus-alertmanager";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"modelkit-alertmanager-{Guid.NewGuid():N}");
    private Process? _process;

    public Uri BaseUrl { get; private set; } = null!;

    public HttpClient Http { get; } = new();

    public async Task InitializeAsync()
    {
        if (!File.Exists(Binary))
        {
            throw new InvalidOperationException($"{Binary} is missing; run 'bash eng/setup.sh' (it installs Debian's prometheus-alertmanager).");
        }

        Directory.CreateDirectory(_directory);
        string config = Path.Combine(_directory, "alertmanager.yml");
        await File.WriteAllTextAsync(config, "route:\n  receiver: blackhole\n  group_wait: 1h\nreceivers:\n  - name: blackhole\n");
        int port = FreePort();
        BaseUrl = new Uri($"http://127.0.0.1:{port}/");
        var start = new ProcessStartInfo(Binary)
        {
            ArgumentList =
            {
                $"--config.file={config}",
                $"--storage.path={Path.Combine(_directory, "data")}",
                $"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start)!;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        for (int i = 0; i < 300; i++)
        {
            try
            {
                using HttpResponseMessage ready = await Http.GetAsync(new Uri(BaseUrl, "-/ready"));
                if (ready.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"Alertmanager exited with code {_process.ExitCode} at start.");
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("Alertmanager did not become ready within 30 s.");
    }

    public async Task DisposeAsync()
    {
        if (_process is not null && !_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        Http.Dispose();
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
