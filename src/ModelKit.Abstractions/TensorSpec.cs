using System.Globalization;
using System.Text;
using System.Text.Json.Serialization;

namespace ModelKit;

/// <summary>
/// A named tensor in a model signature: element type and shape, where <c>-1</c> marks a dynamic dimension
/// (a symbolic or absent dimension in the ONNX graph). A model may also leave the rank unknown (an ONNX tensor type
/// without a <c>shape</c>); such a spec has <see cref="HasUnknownRank"/> set and accepts a tensor of any shape, which
/// is different from a scalar (an empty <see cref="Shape"/> with a known rank of 0).
/// </summary>
/// <param name="Name">The tensor's name in the graph, for example <c>input</c>.</param>
/// <param name="ElementType">The element type.</param>
/// <param name="Shape">The dimensions, outermost first; <c>-1</c> is dynamic. Empty for a scalar, and for a tensor of unknown rank (see <see cref="HasUnknownRank"/>).</param>
public sealed record TensorSpec(string Name, TensorElementType ElementType, IReadOnlyList<long> Shape)
{
    private readonly bool _hasUnknownRank;

    /// <summary>
    /// Gets whether the model does not declare the tensor's rank (an ONNX <c>TypeProto.Tensor</c> without <c>shape</c>):
    /// then <see cref="Shape"/> is empty and <see cref="Accepts"/> accepts any shape. <see langword="false"/> (the
    /// default) for every tensor whose dimensions are declared, including scalars.
    /// </summary>
    /// <value>The default is <see langword="false"/>. Omitted from JSON when <see langword="false"/>, so signatures stored before it existed read back unchanged.</value>
    /// <exception cref="ArgumentException">Set to <see langword="true"/> while <see cref="Shape"/> is not empty.</exception>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool HasUnknownRank
    {
        get => _hasUnknownRank;
        init
        {
            if (value && Shape is { Count: > 0 })
            {
                throw new ArgumentException($"Tensor '{Name}' has shape {FormatShape(Shape)}, so its rank is known; a spec of unknown rank has an empty shape. Use TensorSpec.WithUnknownRank.", nameof(HasUnknownRank));
            }

            _hasUnknownRank = value;
        }
    }

    /// <summary>Creates the spec of a tensor whose rank the model does not declare: any shape is accepted.</summary>
    /// <param name="name">The tensor's name in the graph.</param>
    /// <param name="elementType">The element type.</param>
    /// <returns>A spec with an empty <see cref="Shape"/> and <see cref="HasUnknownRank"/> set.</returns>
    public static TensorSpec WithUnknownRank(string name, TensorElementType elementType) => new(name, elementType, []) { HasUnknownRank = true };

    /// <summary>
    /// Returns whether <paramref name="shape"/> fits this spec: any shape when the rank is unknown
    /// (<see cref="HasUnknownRank"/>); otherwise the same rank, and every fixed dimension equal.
    /// </summary>
    /// <param name="shape">A concrete shape (no <c>-1</c>).</param>
    /// <returns><see langword="true"/> when the shape is accepted.</returns>
    public bool Accepts(ReadOnlySpan<long> shape)
    {
        if (_hasUnknownRank)
        {
            return true;
        }

        if (shape.Length != Shape.Count)
        {
            return false;
        }

        for (int i = 0; i < shape.Length; i++)
        {
            long expected = Shape[i];
            if (expected >= 0 && expected != shape[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Describes the accepted shapes for messages: <c>[-1, 1, 28, 28]</c>, <c>[]</c> for a scalar, or <c>any shape (unknown rank)</c>.</summary>
    /// <returns>The description.</returns>
    public string DescribeShape() => _hasUnknownRank ? "any shape (unknown rank)" : FormatShape(Shape);

    /// <summary>Formats a shape as <c>[-1, 1, 28, 28]</c>.</summary>
    /// <param name="shape">The dimensions.</param>
    /// <returns>The bracketed, comma-separated dimensions.</returns>
    public static string FormatShape(ReadOnlySpan<long> shape)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < shape.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(shape[i].ToString(CultureInfo.InvariantCulture));
        }

        return sb.Append(']').ToString();
    }

    /// <summary>Formats a shape as <c>[-1, 1, 28, 28]</c>.</summary>
    /// <param name="shape">The dimensions.</param>
    /// <returns>The bracketed, comma-separated dimensions.</returns>
    public static string FormatShape(IReadOnlyList<long> shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long[] copy = new long[shape.Count];
        for (int i = 0; i < copy.Length; i++)
        {
            copy[i] = shape[i];
        }

        return FormatShape(copy);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name}: {ElementType} {DescribeShape()}";

    /// <inheritdoc />
    public bool Equals(TensorSpec? other) =>
        other is not null && Name == other.Name && ElementType == other.ElementType && _hasUnknownRank == other._hasUnknownRank && Shape.SequenceEqual(other.Shape);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(ElementType);
        hash.Add(_hasUnknownRank);
        foreach (long d in Shape)
        {
            hash.Add(d);
        }

        return hash.ToHashCode();
    }
}

/// <summary>The named inputs and outputs of a model, read from its graph.</summary>
/// <param name="Inputs">The graph inputs that are not initializers, in graph order.</param>
/// <param name="Outputs">The graph outputs, in graph order.</param>
public sealed record ModelSignature(IReadOnlyList<TensorSpec> Inputs, IReadOnlyList<TensorSpec> Outputs)
{
    /// <inheritdoc />
    public bool Equals(ModelSignature? other) =>
        other is not null && Inputs.SequenceEqual(other.Inputs) && Outputs.SequenceEqual(other.Outputs);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (TensorSpec s in Inputs)
        {
            hash.Add(s);
        }

        foreach (TensorSpec s in Outputs)
        {
            hash.Add(s);
        }

        return hash.ToHashCode();
    }
}
