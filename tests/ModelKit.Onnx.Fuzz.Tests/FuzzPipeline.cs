using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ModelKit.Onnx.Protobuf;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Onnx.Fuzz.Tests;

/// <summary>One fuzz input: the model bytes, and the files to put next to it when it is loaded from a folder.</summary>
/// <param name="Description">What the generator did, for the report of a finding.</param>
/// <param name="Bytes">The serialized model (possibly corrupt).</param>
/// <param name="Files">Files to write into the model's folder (name relative to it → content); <see langword="null"/> to load from bytes.</param>
/// <param name="Kind">The generator's category (a corruption, a mutation kind), to count outcomes per kind.</param>
internal sealed record FuzzCase(string Description, byte[] Bytes, IReadOnlyDictionary<string, byte[]>? Files = null, string Kind = "")
{
    public override string ToString() => $"{Description} ({Bytes.Length} bytes{(Files is null ? string.Empty : ", from a folder")})";
}

/// <summary>Where a case ended.</summary>
internal enum FuzzOutcome
{
    RefusedByValidation,
    RefusedByOnnxRuntime,
    RanWithError,
    Ran,
    LoadedNotRun,
}

/// <summary>
/// The path an untrusted model takes through ModelKit: <see cref="OnnxModel.LoadProto(ReadOnlySpan{byte})"/> (or
/// <see cref="OnnxModel.LoadFile"/> for a model in a folder), registration in a SQLite registry, loading in ONNX
/// Runtime (<see cref="OnnxRuntimeSessionFactory.Create"/> / <see cref="OnnxRuntimeSessionFactory.CreateFromFile"/>) and
/// one run with zero inputs shaped from the signature. The property: every case ends in a <see cref="ModelKitException"/>
/// (or <see cref="FileNotFoundException"/> from the documented file API) whose message says something, or runs; no
/// other exception, no hang, and no byte of the canary files in any output or message.
/// </summary>
internal sealed class FuzzPipeline : IDisposable
{
    /// <summary>The canary: a file ONNX Runtime would read if a model could point it outside the model's folder.</summary>
    public static readonly byte[] CanaryMarker = "MKCANARY"u8.ToArray();

    private static readonly TimeSpan CaseTimeLimit = TimeSpan.FromSeconds(60);
    private const long MaxRunElements = 1 << 22;

    private readonly string _previousDirectory;
    private readonly ServiceProvider _services;
    private readonly IModelRegistry _registry;
    private readonly OnnxRuntimeSessionFactory _factory;
    private int _caseNumber;

    public FuzzPipeline()
    {
        Root = Directory.CreateTempSubdirectory("modelkit-fuzz-").FullName;
        byte[] canary = new byte[1024];
        for (int i = 0; i < canary.Length; i++)
        {
            canary[i] = CanaryMarker[i % CanaryMarker.Length];
        }

        // Canaries where a relative location would land: the working directory (ONNX Runtime resolves a model given
        // as bytes there), the parent of every model folder and the fuzz root.
        Directory.CreateDirectory(Path.Combine(Root, "work"));
        File.WriteAllBytes(Path.Combine(Root, "work", "appsettings.json"), canary);
        File.WriteAllBytes(Path.Combine(Root, "canary.bin"), canary);
        Directory.CreateDirectory(Path.Combine(Root, "models"));
        File.WriteAllBytes(Path.Combine(Root, "models", "canary.bin"), canary);
        CanaryPath = Path.Combine(Root, "canary.bin");
        _previousDirectory = Environment.CurrentDirectory;
        Environment.CurrentDirectory = Path.Combine(Root, "work");

        _services = new ServiceCollection()
            .AddModelKit(o => o.DataDirectory = Path.Combine(Root, "registry"))
            .AddModelRegistry()
            .AddOnnx()
            .Services.BuildServiceProvider();
        _registry = _services.GetRequiredService<IModelRegistry>();
        _factory = new OnnxRuntimeSessionFactory(Options.Create(new OnnxRuntimeOptions()));
    }

    /// <summary>Gets the fuzz run's temporary root (canaries, model folders, registry).</summary>
    public string Root { get; }

    /// <summary>Gets the absolute path of a canary file outside every model folder.</summary>
    public string CanaryPath { get; }

    public ConcurrentDictionary<FuzzOutcome, int> Outcomes { get; } = new();

    public ConcurrentDictionary<string, int> Refusals { get; } = new();

    public ConcurrentDictionary<string, string> Examples { get; } = new();

    public ConcurrentDictionary<(string Kind, FuzzOutcome Outcome), int> ByKind { get; } = new();

    public List<string> Findings { get; } = [];

    public int Cases => _caseNumber;

    /// <summary>Runs one case through the pipeline under a time limit; a violation of the property is recorded as a finding (and returned).</summary>
    public string? Run(FuzzCase fuzzCase)
    {
        int number = Interlocked.Increment(ref _caseNumber);
        var task = Task.Run(() => RunCore(fuzzCase, number));
        string? finding;
        if (!task.Wait(CaseTimeLimit))
        {
            finding = $"hang: case {number} did not finish within {CaseTimeLimit.TotalSeconds} s: {fuzzCase}";
        }
        else
        {
            finding = task.Result;
        }

        if (finding is not null)
        {
            lock (Findings)
            {
                Findings.Add(finding);
            }
        }

        return finding;
    }

    private string? RunCore(FuzzCase fuzzCase, int number)
    {
        string stage = "validate";
        try
        {
            string? path = null;
            ModelProto model;
            if (fuzzCase.Files is null)
            {
                model = OnnxModel.LoadProto(fuzzCase.Bytes);
            }
            else
            {
                string folder = Path.Combine(Root, "models", number.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Directory.CreateDirectory(folder);
                foreach ((string name, byte[] content) in fuzzCase.Files)
                {
                    string file = Path.Combine(folder, name);
                    Directory.CreateDirectory(Path.GetDirectoryName(file)!);
                    if (content.Length == 0)
                    {
                        File.CreateSymbolicLink(file, CanaryPath); // an empty entry stands for "a link out of the folder"
                    }
                    else
                    {
                        File.WriteAllBytes(file, content);
                    }
                }

                path = Path.Combine(folder, "model.onnx");
                File.WriteAllBytes(path, fuzzCase.Bytes);
                model = OnnxModel.LoadProtoFile(path);
            }

            if (fuzzCase.Files is null && fuzzCase.Bytes.Length <= (4 << 20))
            {
                stage = "register";
                using var content = new MemoryStream(fuzzCase.Bytes, writable: false);
                _registry.RegisterAsync(new ModelRegistration("fuzz"), content).GetAwaiter().GetResult();
            }

            stage = "load in ONNX Runtime";
            using IInferenceSession session = path is null ? _factory.Create(fuzzCase.Bytes) : _factory.CreateFromFile(path);
            _ = model;
            stage = "run";
            FuzzOutcome outcome = RunOnce(session, out string? canaryOutput);
            if (canaryOutput is not null)
            {
                return $"canary read: case {number}, output '{canaryOutput}' holds canary bytes: {fuzzCase}";
            }

            Count(outcome, fuzzCase.Kind);
            return null;
        }
        catch (ModelKitException ex)
        {
            if (ContainsCanary(Encoding.UTF8.GetBytes(ex.ToString())))
            {
                return $"canary read: case {number}, the {ex.GetType().Name} at stage '{stage}' quotes canary bytes: {fuzzCase}";
            }

            if (ex.Message.Length < 20)
            {
                return $"unclear error: case {number}, {ex.GetType().Name} at stage '{stage}' with message '{ex.Message}': {fuzzCase}";
            }

            Count(stage switch
            {
                "validate" or "register" => FuzzOutcome.RefusedByValidation,
                "load in ONNX Runtime" => FuzzOutcome.RefusedByOnnxRuntime,
                _ => FuzzOutcome.RanWithError,
            }, fuzzCase.Kind);
            string group = stage + ": " + Classify(ex.Message);
            Refusals.AddOrUpdate(group, 1, (_, n) => n + 1);
            Examples.TryAdd(group, ex.Message.Length > 400 ? ex.Message[..400] + "…" : ex.Message);
            return null;
        }
        catch (Exception ex)
        {
            return $"wrong exception: case {number}, {ex.GetType().FullName} at stage '{stage}': {ex.Message} | {fuzzCase}\n{ex.StackTrace}";
        }
    }

    private FuzzOutcome RunOnce(IInferenceSession session, out string? canaryOutput)
    {
        canaryOutput = null;
        var inputs = new List<NamedTensor>();
        foreach (TensorSpec spec in session.Signature.Inputs)
        {
            long[] shape = spec.HasUnknownRank ? [1] : new long[spec.Shape.Count];
            for (int i = 0; !spec.HasUnknownRank && i < shape.Length; i++)
            {
                shape[i] = spec.Shape[i] >= 0 ? spec.Shape[i] : i == 0 ? 1 : 64;
            }

            long count;
            try
            {
                count = Tensor.GetElementCount(shape);
            }
            catch (ArgumentException)
            {
                return FuzzOutcome.LoadedNotRun;
            }

            if (count > MaxRunElements || CreateZeros(spec.ElementType, (int)count, shape) is not { } tensor)
            {
                return FuzzOutcome.LoadedNotRun;
            }

            inputs.Add(new NamedTensor(spec.Name, tensor));
        }

        IReadOnlyList<NamedTensor> outputs = session.Run(inputs);
        foreach (NamedTensor output in outputs)
        {
            if (ContainsCanary(output.Value.Bytes))
            {
                canaryOutput = output.Name;
            }
        }

        return FuzzOutcome.Ran;
    }

    private static Tensor? CreateZeros(TensorElementType type, int count, long[] shape) => type switch
    {
        TensorElementType.Float => Tensor.Create<float>(new float[count], shape),
        TensorElementType.Double => Tensor.Create<double>(new double[count], shape),
        TensorElementType.Int64 => Tensor.Create<long>(new long[count], shape),
        TensorElementType.Int32 => Tensor.Create<int>(new int[count], shape),
        TensorElementType.Int16 => Tensor.Create<short>(new short[count], shape),
        TensorElementType.Int8 => Tensor.Create<sbyte>(new sbyte[count], shape),
        TensorElementType.UInt8 => Tensor.Create<byte>(new byte[count], shape),
        TensorElementType.UInt16 => Tensor.Create<ushort>(new ushort[count], shape),
        TensorElementType.UInt32 => Tensor.Create<uint>(new uint[count], shape),
        TensorElementType.UInt64 => Tensor.Create<ulong>(new ulong[count], shape),
        TensorElementType.Bool => Tensor.Create<bool>(new bool[count], shape),
        TensorElementType.Float16 => Tensor.Create<Half>(new Half[count], shape),
        _ => null,
    };

    public static bool ContainsCanary(ReadOnlySpan<byte> bytes) => bytes.IndexOf(CanaryMarker) >= 0;

    private void Count(FuzzOutcome outcome, string kind)
    {
        Outcomes.AddOrUpdate(outcome, 1, (_, n) => n + 1);
        if (kind.Length > 0)
        {
            ByKind.AddOrUpdate((kind, outcome), 1, (_, n) => n + 1);
        }
    }

    // What a message says, without the quoted values, numbers and the element's path, to group refusals in the report.
    private static string Classify(string message)
    {
        int path = message.IndexOf("(ModelProto", StringComparison.Ordinal);
        if (path >= 0 && message.IndexOf(") ", path, StringComparison.Ordinal) is int close and > 0)
        {
            message = message[..Math.Min(path, 40)] + "…" + message[(close + 1)..];
        }

        var text = new StringBuilder();
        bool quoted = false;
        foreach (char c in message.AsSpan(0, Math.Min(message.Length, 150)))
        {
            if (c == '\'')
            {
                quoted = !quoted;
                text.Append(quoted ? "'…" : "'");
            }
            else if (!quoted && !char.IsDigit(c))
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    public string Summary(string title)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{title}: {Cases} cases, {Findings.Count} findings");
        foreach ((FuzzOutcome outcome, int n) in Outcomes.OrderBy(p => p.Key))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {outcome}: {n}");
        }

        foreach (IGrouping<string, KeyValuePair<(string Kind, FuzzOutcome Outcome), int>> kind in ByKind.GroupBy(p => p.Key.Kind).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  [{kind.Key}] {string.Join(", ", kind.OrderBy(p => p.Key.Outcome).Select(p => $"{p.Key.Outcome} {p.Value}"))}");
        }

        foreach ((string reason, int n) in Refusals.OrderByDescending(p => p.Value).Take(25))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"    {n,5} × {reason}");
            text.AppendLine(CultureInfo.InvariantCulture, $"            e.g. {Examples.GetValueOrDefault(reason)}");
        }

        foreach (string finding in Findings.Take(20))
        {
            text.AppendLine("  FINDING " + finding);
        }

        return text.ToString();
    }

    public void Dispose()
    {
        Environment.CurrentDirectory = _previousDirectory;
        _factory.Dispose();
        _services.Dispose();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A session of a hung case may still hold a file; the temporary folder is left behind.
        }
    }
}
