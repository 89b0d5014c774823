using System.Globalization;
using System.Text.Json;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Capture;

/// <summary>
/// Writes captured records as JSON Lines (one JSON object per line, UTF-8) to files named
/// <c>capture-{yyyyMMddTHHmmssfff}-{n}.jsonl</c>, starting a new file when the current one reaches
/// <see cref="CaptureOptions.MaxFileBytes"/> or <see cref="CaptureOptions.MaxFileAge"/> (by the given clock). Each line:
/// <c>{"kind","requestId","model","version","timestamp","durationSeconds","features":{name:[values per row]},"inputs":[{"name","type","shape","data"}],"outputs":[…]}</c>
/// for predictions (no <c>inputs</c>/<c>outputs</c> with <see cref="CaptureOptions.SummariesOnly"/>) and
/// <c>{"kind":"label","requestId","model","version","timestamp","label"}</c> for labels, to be joined by request id.
/// Non-finite numbers are written as the strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>.
/// Not thread-safe (the monitor calls it from one loop). Dispose to close the current file.
/// </summary>
public sealed class JsonLinesCaptureSink : ICaptureSink, IAsyncDisposable, IDisposable
{
    private static readonly JsonWriterOptions s_writerOptions = new() { SkipValidation = true };
    private readonly string _directory;
    private readonly bool _summariesOnly;
    private readonly long _maxBytes;
    private readonly TimeSpan _maxAge;
    private readonly TimeProvider _time;
    private FileStream? _file;
    private Utf8JsonWriter? _writer;
    private DateTimeOffset _openedAt;
    private int _sequence;

    /// <summary>Creates the sink; the folder is created on the first write.</summary>
    /// <param name="directory">The folder of the files.</param>
    /// <param name="options">Rotation and privacy settings.</param>
    /// <param name="timeProvider">The clock for file names and age; <see langword="null"/> for the system clock.</param>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty.</exception>
    public JsonLinesCaptureSink(string directory, CaptureOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(options);
        _directory = Path.GetFullPath(directory);
        _summariesOnly = options.SummariesOnly;
        _maxBytes = options.MaxFileBytes;
        _maxAge = options.MaxFileAge;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Gets the path of the file being written, or <see langword="null"/> before the first record.</summary>
    public string? CurrentFile => _file?.Name;

    /// <inheritdoc />
    public async ValueTask WriteAsync(CaptureRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        Utf8JsonWriter writer = await OpenAsync().ConfigureAwait(false);
        writer.WriteStartObject();
        writer.WriteString("kind", record.Kind);
        if (record.RequestId is null)
        {
            writer.WriteNull("requestId");
        }
        else
        {
            writer.WriteString("requestId", record.RequestId);
        }

        writer.WriteString("model", record.ModelName);
        writer.WriteNumber("version", record.ModelVersion);
        writer.WriteString("timestamp", record.Timestamp.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        if (record.Kind == "label")
        {
            WriteNumber(writer, "label", record.Label);
        }
        else
        {
            writer.WriteNumber("durationSeconds", record.DurationSeconds);
            writer.WriteStartObject("features");
            int width = record.FeatureNames.Count;
            ReadOnlySpan<double> values = record.FeatureValues.Span;
            int rows = width == 0 ? 0 : values.Length / width;
            for (int f = 0; f < width; f++)
            {
                writer.WriteStartArray(record.FeatureNames[f]);
                for (int r = 0; r < rows; r++)
                {
                    WriteValue(writer, values[(r * width) + f]);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
            if (!_summariesOnly)
            {
                WriteTensors(writer, "inputs", record.Inputs);
                WriteTensors(writer, "outputs", record.Outputs);
            }
        }

        writer.WriteEndObject();
        await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        writer.Reset();
        _file!.WriteByte((byte)'\n');
    }

    /// <inheritdoc />
    public async ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_file is not null)
        {
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_writer is not null)
        {
            await _writer.DisposeAsync().ConfigureAwait(false);
            _writer = null;
        }

        if (_file is not null)
        {
            await _file.DisposeAsync().ConfigureAwait(false);
            _file = null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _writer?.Dispose();
        _writer = null;
        _file?.Dispose();
        _file = null;
    }

    private async ValueTask<Utf8JsonWriter> OpenAsync()
    {
        DateTimeOffset now = _time.GetUtcNow();
        if (_file is not null && (_file.Length >= _maxBytes || now - _openedAt >= _maxAge))
        {
            await DisposeAsync().ConfigureAwait(false);
        }

        if (_file is null)
        {
            Directory.CreateDirectory(_directory);
            string path;
            do
            {
                path = Path.Combine(_directory, $"capture-{now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff", CultureInfo.InvariantCulture)}-{_sequence++}.jsonl");
            }
            while (File.Exists(path));

            _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read, 65536);
            _writer = new Utf8JsonWriter(_file, s_writerOptions);
            _openedAt = now;
        }

        return _writer!;
    }

    private static void WriteTensors(Utf8JsonWriter writer, string name, IReadOnlyList<NamedTensor> tensors)
    {
        writer.WriteStartArray(name);
        foreach (NamedTensor t in tensors)
        {
            writer.WriteStartObject();
            writer.WriteString("name", t.Name);
            writer.WriteString("type", t.Value.ElementType.ToString());
            writer.WriteStartArray("shape");
            foreach (long d in t.Value.Shape)
            {
                writer.WriteNumberValue(d);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("data");
            switch (t.Value)
            {
                case Tensor<float> f:
                    foreach (float v in f.Span)
                    {
                        WriteValue(writer, v);
                    }

                    break;
                case Tensor<double> d:
                    foreach (double v in d.Span)
                    {
                        WriteValue(writer, v);
                    }

                    break;
                case Tensor<long> l:
                    foreach (long v in l.Span)
                    {
                        writer.WriteNumberValue(v);
                    }

                    break;
                case Tensor<int> i:
                    foreach (int v in i.Span)
                    {
                        writer.WriteNumberValue(v);
                    }

                    break;
                case StringTensor s:
                    foreach (string v in s.Span)
                    {
                        writer.WriteStringValue(v);
                    }

                    break;
                default:
                    // Other element types: their raw bytes, base64 (host byte order).
                    writer.WriteBase64StringValue(t.Value.Bytes);
                    break;
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteNumber(Utf8JsonWriter writer, string name, double value)
    {
        writer.WritePropertyName(name);
        WriteValue(writer, value);
    }

    private static void WriteValue(Utf8JsonWriter writer, double value)
    {
        if (double.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            writer.WriteStringValue(double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
    }
}
