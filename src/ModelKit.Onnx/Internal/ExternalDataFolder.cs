using System.Globalization;
using ModelKit.Onnx.Protobuf;
using static System.FormattableString;

namespace ModelKit.Onnx.Internal;

/// <summary>
/// The folder a model's external tensor data must come from, and the rules a <c>TensorProto</c>'s
/// <c>external_data</c> entries must follow (onnx/docs/ExternalData.md): a relative, normalised <c>location</c> that
/// stays inside the folder after symbolic links are resolved, an <c>offset</c> and <c>length</c> inside a regular
/// file, and exactly the bytes the tensor's type and dimensions need.
/// </summary>
internal sealed class ExternalDataFolder
{
    // ONNX Runtime treats this location as "the offset is a memory address of this process" (onnxruntime
    // core/framework/tensorprotoutils: kTensorProtoMemoryAddressTag); a model file must never carry it.
    internal const string OrtMemoryAddressTag = "*/_ORT_MEM_ADDR_/*";
    private const int MaxSymbolicLinks = 40; // Linux's MAXSYMLINKS

    private readonly long _maxFileBytes;

    private ExternalDataFolder(string folder, long maxFileBytes)
    {
        Folder = folder;
        _maxFileBytes = maxFileBytes;
    }

    /// <summary>Gets the folder's real path (symbolic links resolved).</summary>
    public string Folder { get; }

    public static ExternalDataFolder Open(string directory, long maxFileBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string real = RealPath(Path.GetFullPath(directory));
        if (!Directory.Exists(real))
        {
            throw new DirectoryNotFoundException($"The model folder '{directory}' does not exist (resolved to '{real}'). Pass the folder that holds the .onnx file and its external data files.");
        }

        return new ExternalDataFolder(real, maxFileBytes);
    }

    /// <summary>Checks one tensor's external data; throws <see cref="InvalidModelException"/> naming the tensor, the entry and the rule.</summary>
    public void Check(TensorProto tensor, string where, long expectedBytes)
    {
        string? location = null;
        long? offset = null;
        long? length = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (StringStringEntryProto entry in tensor.ExternalData)
        {
            if (!seen.Add(entry.Key))
            {
                throw Refused(where, $"has the external_data key '{entry.Key}' twice", "Give each key once.");
            }

            switch (entry.Key)
            {
                case "location":
                    location = entry.Value;
                    break;
                case "offset":
                    offset = ParseSize(entry.Value, "offset", where);
                    break;
                case "length":
                    length = ParseSize(entry.Value, "length", where);
                    break;
                case "checksum":
                    break;
                default:
                    throw Refused(where, $"has the external_data key '{entry.Key}'", "ONNX defines only 'location', 'offset', 'length' and 'checksum'; remove the others.");
            }
        }

        if (string.IsNullOrEmpty(location))
        {
            throw Refused(where, "is stored externally (data_location EXTERNAL) but has no 'location' entry", "Name the file that holds the data, relative to the model's folder.");
        }

        string quoted = $"'{location}'";
        if (location == OrtMemoryAddressTag)
        {
            throw Refused(where, $"has the external_data location {quoted}, which ONNX Runtime reads as a memory address of the serving process", "A model file never needs this; re-export the model.");
        }

        CheckLocationSyntax(location, quoted, where);
        try
        {
            CheckFile(location, quoted, where, offset, length, expectedBytes);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidModelException($"External tensor data refused: {where} keeps its data in {quoted}, which could not be checked ({ex.Message}). Make the file readable, or store the data inside the model.", ex);
        }
    }

    private void CheckFile(string location, string quoted, string where, long? offset, long? length, long expectedBytes)
    {
        string path = RealPath(Path.Join(Folder, location));
        if (!path.StartsWith(Folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw Refused(where, $"has the external_data location {quoted}, which resolves (through symbolic links) to '{path}', outside the model's folder '{Folder}'", "Keep the data files inside the model's folder, without links that lead out of it.");
        }

        var file = new FileInfo(path);
        if (!file.Exists)
        {
            throw Refused(where, $"keeps its data in {quoted}, which does not exist in the model's folder '{Folder}' (or is a folder)", "Copy the external data file next to the .onnx file.");
        }

        long fileBytes = file.Length;
        if (fileBytes > _maxFileBytes)
        {
            throw Refused(where, Invariant($"keeps its data in {quoted}, a file of {fileBytes:N0} bytes, larger than OnnxModelOptions.MaxTotalTensorBytes ({_maxFileBytes:N0} bytes)"), "Raise the limit for a trusted model, or split the data.");
        }

        long start = offset ?? 0;
        if (start > fileBytes)
        {
            throw Refused(where, Invariant($"starts at offset {start} in {quoted}, past its end ({fileBytes} bytes)"), "Fix the offset or the data file.");
        }

        long available = fileBytes - start;
        long count = length ?? available;
        if (count > available)
        {
            throw Refused(where, Invariant($"reads {count} bytes from offset {start} of {quoted}, past its end ({fileBytes} bytes)"), "Fix the offset and length, or the data file.");
        }

        if (expectedBytes == 0)
        {
            // Devices, pipes and /proc files report a size of 0; a tensor that needs no bytes is stored inline.
            throw Refused(where, $"has no elements but refers to the external file {quoted}", "Store empty tensors inside the model.");
        }

        if (count != expectedBytes)
        {
            throw Refused(where, Invariant($"needs {expectedBytes} bytes for its type and dimensions but its external data in {quoted} is {count} bytes (offset {start}{(length is null ? ", to the end of the file" : string.Empty)})"), "Fix the length or the tensor's dimensions.");
        }
    }

    /// <summary>Resolves every symbolic link in an absolute path, like POSIX <c>realpath</c>; missing components are kept as they are.</summary>
    internal static string RealPath(string absolutePath)
    {
        string root = Path.GetPathRoot(absolutePath) ?? throw new ArgumentException($"Path '{absolutePath}' is not absolute.", nameof(absolutePath));
        var pending = new LinkedList<string>(Split(absolutePath[root.Length..]));
        string resolved = root;
        int links = 0;
        while (pending.First is { } first)
        {
            string part = first.Value;
            pending.RemoveFirst();
            if (part.Length == 0 || part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                resolved = Path.GetDirectoryName(resolved) ?? root;
                continue;
            }

            string candidate = Path.Join(resolved, part);
            string? target = new FileInfo(candidate).LinkTarget;
            if (target is null)
            {
                resolved = candidate;
                continue;
            }

            if (++links > MaxSymbolicLinks)
            {
                throw new InvalidModelException($"Resolving '{absolutePath}' followed more than {MaxSymbolicLinks} symbolic links (a loop?); ModelKit refuses such paths.");
            }

            if (Path.IsPathRooted(target))
            {
                resolved = Path.GetPathRoot(target) ?? root;
                target = target[resolved.Length..];
            }

            string[] parts = Split(target);
            for (int i = parts.Length - 1; i >= 0; i--)
            {
                pending.AddFirst(parts[i]);
            }
        }

        return resolved;
    }

    private static string[] Split(string path) => path.Split(['/', Path.DirectorySeparatorChar]);

    private static void CheckLocationSyntax(string location, string quoted, string where)
    {
        const string Fix = "Use a plain relative path inside the model's folder, such as 'weights.bin' or 'data/weights.bin'.";
        if (location.Contains('\0', StringComparison.Ordinal) || location.Contains('\\', StringComparison.Ordinal) || location.Contains(':', StringComparison.Ordinal))
        {
            throw Refused(where, $"has the external_data location {quoted} with a NUL, backslash or colon", Fix);
        }

        if (Path.IsPathRooted(location) || location.StartsWith('/') || location.StartsWith('~'))
        {
            throw Refused(where, $"has the absolute external_data location {quoted}", Fix);
        }

        foreach (string part in location.Split('/'))
        {
            if (part.Length == 0 || part == "." || part == "..")
            {
                throw Refused(where, $"has the external_data location {quoted}, which is not a normalised relative path (empty, '.' or '..' segment)", Fix);
            }
        }
    }

    private static long ParseSize(string text, string key, string where)
    {
        if (text.Length == 0 || text.Length > 19 || !long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            throw Refused(where, $"has the external_data {key} '{text}'", $"The {key} must be a decimal number of bytes from 0 to {long.MaxValue}.");
        }

        return value;
    }

    private static InvalidModelException Refused(string where, string what, string fix) =>
        new($"External tensor data refused: {where} {what}. {fix}");
}
