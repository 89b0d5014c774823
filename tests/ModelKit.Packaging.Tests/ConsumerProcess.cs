using System.Diagnostics;
using System.Text;

namespace ModelKit.Packaging.Tests;

/// <summary>Runs the dotnet CLI and consumer apps as child processes, with the environment of a machine outside this repository.</summary>
internal static class ConsumerProcess
{
    /// <summary>Runs <paramref name="fileName"/> to completion and returns its exit code and combined output.</summary>
    /// <exception cref="TimeoutException">The process ran longer than <paramref name="timeout"/> (it is killed).</exception>
    public static async Task<(int ExitCode, string Output)> RunAsync(
        string fileName, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string>? environment = null)
    {
        using Process process = Start(fileName, arguments, workingDirectory, environment, out StringBuilder output);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{fileName} {string.Join(' ', arguments)}' in '{workingDirectory}' ran longer than {timeout.TotalSeconds:F0} s. Output so far:\n{Snapshot(output)}");
        }

        process.WaitForExit(); // drains the output events
        return (process.ExitCode, Snapshot(output));
    }

    /// <summary>Starts <paramref name="fileName"/>; the caller owns (and kills) the process.</summary>
    public static Process Start(
        string fileName, IEnumerable<string> arguments, string workingDirectory, IReadOnlyDictionary<string, string>? environment, out StringBuilder output)
    {
        var info = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // The test host runs inside `dotnet test`: MSBuild's variables from that build must not steer the consumer's.
        foreach (string key in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase) || k is "DOTNET_HOST_PATH" or "VSTEST_HOST_DEBUG").ToList())
        {
            info.Environment.Remove(key);
        }

        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var log = new StringBuilder();
        output = log;
        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Append(log, e.Data);
        process.ErrorDataReceived += (_, e) => Append(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static void Append(StringBuilder log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.AppendLine(line);
            }
        }
    }
}
