using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using ModelKit;
using ModelKit.Onnx;
using ModelKit.Registry;
using ModelKit.Registry.Files;

// Usage: register --store sqlite|postgres --data DIR [--pg CONNECTION --schema NAME] --name MODEL --first WIDTH --count N
//                 [--fault none|fail-after-put|hang-at-upload|hang-after-put]
// Registers N versions of MODEL, version i with the ONNX model Relu(WIDTH + i) (distinct bytes per width), and prints
// "REGISTERED <version> <digest> <width>" per success, "FAILED <width> <message>" per failure. Hanging faults print
// "HANGING <point>" and wait forever (the test kills the process with SIGKILL).
var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 1; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

string fault = options.GetValueOrDefault("fault", "none");
string dataDirectory = options["data"];
var services = new ServiceCollection();
services.AddModelKit(o => o.DataDirectory = dataDirectory)
    .AddModelRegistry(r =>
    {
        if (options["store"] == "postgres")
        {
            r.UsePostgreSql(options["pg"], o => o.Schema = options["schema"]);
        }

        r.Services.Replace(ServiceDescriptor.Singleton<IArtifactStore>(new FaultyStore(new FileArtifactStore(Path.Combine(dataDirectory, "blobs")), fault)));
    })
    .AddOnnx();
await using ServiceProvider provider = services.BuildServiceProvider();
IModelRegistry registry = provider.GetRequiredService<IModelRegistry>();
string name = options["name"];
int first = int.Parse(options["first"], CultureInfo.InvariantCulture);
int count = int.Parse(options["count"], CultureInfo.InvariantCulture);
int failures = 0;
for (int i = 0; i < count; i++)
{
    int width = first + i;
    byte[] bytes = new OnnxGraphBuilder()
        .AddInput("x", TensorElementType.Float, -1, width)
        .AddOutput("y", TensorElementType.Float, -1, width)
        .AddNode("Relu", ["x"], ["y"])
        .ToBytes();
    Stream content = fault == "hang-at-upload" ? new HangingStream(bytes) : new MemoryStream(bytes);
    try
    {
        ModelVersion version = await registry.RegisterAsync(new ModelRegistration(name), content);
        Console.WriteLine($"REGISTERED {version.Version} {version.Digest} {width}");
    }
    catch (Exception ex) when (ex is ModelKitException or IOException)
    {
        failures++;
        Console.WriteLine($"FAILED {width} {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
    }
}

return fault == "none" && failures > 0 ? 1 : 0;

/// <summary>Hands out the first half of the bytes, then announces itself and blocks forever: a process killed during an upload.</summary>
internal sealed class HangingStream(byte[] bytes) : MemoryStream(bytes)
{
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Position >= Length / 2)
        {
            Console.WriteLine("HANGING upload");
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        int half = (int)(Length / 2 - Position);
        return await base.ReadAsync(buffer[..Math.Min(buffer.Length, half)], cancellationToken);
    }
}

/// <summary>The real file store, with a failure or a hang injected right after the artifact is stored and before the version is committed.</summary>
internal sealed class FaultyStore(IArtifactStore inner, string fault) : IArtifactStore
{
    public string Description => inner.Description;

    public string StagingDirectory => inner.StagingDirectory;

    public async Task<bool> PutAsync(StagedArtifact staged, CancellationToken cancellationToken = default)
    {
        bool created = await inner.PutAsync(staged, cancellationToken);
        if (fault == "fail-after-put")
        {
            throw new IOException($"Injected failure after storing {staged.Digest} and before recording the version.");
        }

        if (fault == "hang-after-put")
        {
            Console.WriteLine("HANGING after-put " + staged.Digest);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        return created;
    }

    public Task<Stream> OpenReadAsync(string digest, long sizeBytes, CancellationToken cancellationToken = default) => inner.OpenReadAsync(digest, sizeBytes, cancellationToken);

    public Task<bool> ExistsAsync(string digest, CancellationToken cancellationToken = default) => inner.ExistsAsync(digest, cancellationToken);

    public Task<bool> DeleteAsync(string digest, CancellationToken cancellationToken = default) => inner.DeleteAsync(digest, cancellationToken);

    public IAsyncEnumerable<StoredArtifact> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);
}
