namespace ModelKit.Compression.Internal;

/// <summary>Collects what one step did, then becomes its <see cref="CompressionStepReport"/>.</summary>
internal sealed class StepResult(CompressionStep step)
{
    public List<string> Transformed { get; } = [];

    public List<string> Notes { get; } = [];

    public Dictionary<string, double> Measures { get; } = new(StringComparer.Ordinal);

    public bool Changed => Transformed.Count > 0;

    public void Note(string node, string reason) => Notes.Add($"{node}: {reason}");

    public CompressionStepReport ToReport() => new()
    {
        Kind = step.Kind,
        Description = step.ToString(),
        TransformedNodes = [.. Transformed],
        Notes = [.. Notes],
        Measures = new Dictionary<string, double>(Measures, StringComparer.Ordinal),
    };
}
