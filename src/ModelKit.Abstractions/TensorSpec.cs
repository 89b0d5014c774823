using System.Globalization;
using System.Text;

namespace ModelKit;

/// <summary>
/// A named tensor in a model signature: element type and shape, where <c>-1</c> marks a dynamic dimension
/// (a symbolic or absent dimension in the ONNX graph).
/// </summary>
/// <param name="Name">The tensor's name in the graph, for example <c>input</c>.</param>
/// <param name="ElementType">The element type.</param>
/// <param name="Shape">The dimensions, outermost first; <c>-1</c> is dynamic. Empty for a scalar.</param>
public sealed record TensorSpec(string Name, TensorElementType ElementType, IReadOnlyList<long> Shape)
{
    /// <summary>Returns whether <paramref name="shape"/> fits this spec: same rank, and every fixed dimension equal.</summary>
    /// <param name="shape">A concrete shape (no <c>-1</c>).</param>
    /// <returns><see langword="true"/> when the shape is accepted.</returns>
    public bool Accepts(ReadOnlySpan<long> shape)
    {
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
    public override string ToString() => $"{Name}: {ElementType} {FormatShape(Shape)}";

    /// <inheritdoc />
    public bool Equals(TensorSpec? other) =>
        other is not null && Name == other.Name && ElementType == other.ElementType && Shape.SequenceEqual(other.Shape);

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(ElementType);
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
