using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ModelKit.Compression;

/// <summary>
/// An ordered list of compression steps with their settings. Serialisable to and from JSON (<see cref="ToJson"/>,
/// <see cref="FromJson"/>) so that the registry can record the recipe in the lineage of the version it produced
/// (<c>ModelLineage.CompressionRecipe</c>). Immutable.
/// </summary>
/// <example>
/// <code>
/// var recipe = new CompressionRecipe([new WeightClippingStep { StandardDeviations = 4 }, new DynamicQuantizationStep()]);
/// string json = recipe.ToJson();   // {"steps":[{"kind":"weight-clipping",...},{"kind":"dynamic-int8",...}]}
/// </code>
/// </example>
public sealed record CompressionRecipe
{
    /// <summary>Initializes a recipe.</summary>
    /// <param name="steps">The steps, applied in order; at least one.</param>
    /// <exception cref="ArgumentNullException"><paramref name="steps"/> or a step is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="steps"/> is empty.</exception>
    [JsonConstructor]
    public CompressionRecipe(IReadOnlyList<CompressionStep> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count == 0)
        {
            throw new ArgumentException("A compression recipe needs at least one step, for example new DynamicQuantizationStep().", nameof(steps));
        }

        foreach (CompressionStep step in steps)
        {
            ArgumentNullException.ThrowIfNull(step, nameof(steps));
        }

        Steps = [.. steps];
    }

    /// <summary>Gets the steps, in the order they are applied.</summary>
    [JsonPropertyName("steps")]
    public IReadOnlyList<CompressionStep> Steps { get; }

    /// <summary>Validates every step's settings (see <see cref="CompressionStep.Validate"/>).</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names the step, the setting and the value.</exception>
    public void Validate()
    {
        for (int i = 0; i < Steps.Count; i++)
        {
            try
            {
                Steps[i].Validate();
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"Step {i + 1} ('{Steps[i].Kind}') of the compression recipe: {ex.Message}"), ex.ParamName, ex);
            }
        }
    }

    /// <summary>Serialises the recipe as compact JSON: <c>{"steps":[{"kind":"dynamic-int8",...}]}</c>, every setting written.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, CompressionJson.Options);

    /// <summary>Reads a recipe written by <see cref="ToJson"/>; settings missing from the text take their defaults.</summary>
    /// <param name="json">The JSON text.</param>
    /// <returns>The recipe, validated.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="json"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The text is not a recipe (malformed JSON, an unknown step <c>kind</c>, no steps) or a setting is out of range.</exception>
    public static CompressionRecipe FromJson(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        CompressionRecipe? recipe;
        try
        {
            recipe = JsonSerializer.Deserialize<CompressionRecipe>(json, CompressionJson.Options);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException(
                $"The text is not a compression recipe: {ex.Message} Expected JSON such as {{\"steps\":[{{\"kind\":\"dynamic-int8\"}}]}} with kinds {string.Join(", ", CompressionStep.Kinds)}.",
                nameof(json), ex);
        }
        catch (NotSupportedException ex)
        {
            throw new ArgumentException($"The text is not a compression recipe: {ex.Message} Known step kinds: {string.Join(", ", CompressionStep.Kinds)}.", nameof(json), ex);
        }

        if (recipe is null)
        {
            throw new ArgumentException("The text is not a compression recipe: it is the JSON literal null. Expected {\"steps\":[...]}.", nameof(json));
        }

        recipe.Validate();
        return recipe;
    }

    /// <summary>Describes the recipe in one line, for example <c>weight-clipping(4σ) → dynamic-int8(per-channel)</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString() => string.Join(" → ", Steps.Select(s => s.ToString()));

    /// <summary>Compares the steps element by element.</summary>
    /// <param name="other">The other recipe.</param>
    /// <returns><see langword="true"/> when both have equal steps in the same order.</returns>
    public bool Equals(CompressionRecipe? other) => other is not null && Steps.SequenceEqual(other.Steps);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (CompressionStep step in Steps)
        {
            hash.Add(step);
        }

        return hash.ToHashCode();
    }
}

/// <summary>
/// One step of a <see cref="CompressionRecipe"/>. The JSON form carries a <c>kind</c> discriminator:
/// <c>dynamic-int8</c>, <c>static-int8</c>, <c>float16</c>, <c>magnitude-pruning</c>, <c>structured-pruning</c>,
/// <c>weight-clipping</c>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(DynamicQuantizationStep), DynamicQuantizationStep.StepKind)]
[JsonDerivedType(typeof(StaticQuantizationStep), StaticQuantizationStep.StepKind)]
[JsonDerivedType(typeof(Float16Step), Float16Step.StepKind)]
[JsonDerivedType(typeof(MagnitudePruningStep), MagnitudePruningStep.StepKind)]
[JsonDerivedType(typeof(StructuredPruningStep), StructuredPruningStep.StepKind)]
[JsonDerivedType(typeof(WeightClippingStep), WeightClippingStep.StepKind)]
public abstract record CompressionStep
{
    /// <summary>Gets the JSON discriminators of every step kind.</summary>
    public static IReadOnlyList<string> Kinds { get; } =
    [
        DynamicQuantizationStep.StepKind, StaticQuantizationStep.StepKind, Float16Step.StepKind,
        MagnitudePruningStep.StepKind, StructuredPruningStep.StepKind, WeightClippingStep.StepKind,
    ];

    /// <summary>Gets the step's kind, its JSON discriminator, for example <c>dynamic-int8</c>.</summary>
    [JsonIgnore]
    public abstract string Kind { get; }

    /// <summary>Checks the settings that do not depend on a model.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it, its value and the accepted range.</exception>
    public abstract void Validate();

    /// <summary>Throws when <paramref name="names"/> holds a null or empty entry.</summary>
    /// <param name="names">The list.</param>
    /// <param name="setting">The setting's name for the message.</param>
    /// <exception cref="ArgumentException">The list is null or holds a null or empty entry.</exception>
    private protected static void ValidateNames(IReadOnlyList<string>? names, string setting)
    {
        if (names is null)
        {
            throw new ArgumentException($"{setting} is null; give an empty list to name nothing.", setting);
        }

        for (int i = 0; i < names.Count; i++)
        {
            if (string.IsNullOrEmpty(names[i]))
            {
                throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"{setting}[{i}] is empty; give node or operator names."), setting);
            }
        }
    }

    private protected static bool SameNames(IReadOnlyList<string> a, IReadOnlyList<string> b) => a.SequenceEqual(b, StringComparer.Ordinal);

    private protected static int NamesHash(IReadOnlyList<string> names)
    {
        var hash = new HashCode();
        foreach (string name in names)
        {
            hash.Add(name, StringComparer.Ordinal);
        }

        return hash.ToHashCode();
    }
}

// Reflection-based on purpose: the source generator sets init-only properties that are missing from the JSON to default(T)
// instead of keeping their initializers, so a recipe written by an older version would lose its defaults.
internal static class CompressionJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        WriteIndented = false,
    };
}
