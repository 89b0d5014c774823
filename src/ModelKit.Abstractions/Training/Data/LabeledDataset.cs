namespace ModelKit.Training.Data;

/// <summary>
/// An in-memory classification data set: <see cref="Count"/> samples of shape <see cref="SampleShape"/> (float32)
/// with one int64 class label each. Immutable; safe to share between threads.
/// </summary>
public sealed class LabeledDataset
{
    private readonly long[] _sampleShape;
    private readonly ReadOnlyMemory<float> _features;
    private readonly ReadOnlyMemory<long> _labels;

    /// <summary>Creates a data set over the given arrays, which it takes ownership of (the caller must not change them afterwards).</summary>
    /// <param name="name">A display name, for example <c>fashion-mnist/train</c>.</param>
    /// <param name="features">The samples, <c>[count, product(sampleShape)]</c> row-major float32.</param>
    /// <param name="labels">The labels, <c>[count]</c> int64, each in <c>[0, classCount)</c>.</param>
    /// <param name="sampleShape">The shape of one sample, for example <c>[1, 28, 28]</c>; every dimension 1 or greater.</param>
    /// <param name="classCount">The number of classes, 2 or greater.</param>
    /// <param name="digest">A digest identifying the data, for example <c>sha256:…</c> over the source files; stored as lineage.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The sizes do not agree, a dimension is not positive, or a label is out of range; the message quotes the values.</exception>
    public LabeledDataset(string name, float[] features, long[] labels, long[] sampleShape, int classCount, string digest)
        : this(name, features, labels, sampleShape, classCount, digest, validate: true)
    {
    }

    private LabeledDataset(string name, ReadOnlyMemory<float> features, ReadOnlyMemory<long> labels, long[] sampleShape, int classCount, string digest, bool validate)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(sampleShape);
        ArgumentNullException.ThrowIfNull(digest);
        if (validate)
        {
            Validate(features, labels.Span, sampleShape, classCount);
        }

        Name = name;
        _features = features;
        _labels = labels;
        _sampleShape = (long[])sampleShape.Clone();
        SampleSize = (int)Product(sampleShape);
        ClassCount = classCount;
        Digest = digest;
    }

    /// <summary>Gets the display name.</summary>
    public string Name { get; }

    /// <summary>Gets the number of samples.</summary>
    public int Count => _labels.Length;

    /// <summary>Gets the shape of one sample, for example <c>[1, 28, 28]</c>.</summary>
    public IReadOnlyList<long> SampleShape => _sampleShape;

    /// <summary>Gets the number of float32 values in one sample (the product of <see cref="SampleShape"/>).</summary>
    public int SampleSize { get; }

    /// <summary>Gets the number of classes; labels lie in <c>[0, ClassCount)</c>.</summary>
    public int ClassCount { get; }

    /// <summary>Gets the digest identifying the data, for example <c>sha256:…</c>.</summary>
    public string Digest { get; }

    /// <summary>Gets the samples, <c>[Count, SampleSize]</c> row-major float32.</summary>
    public ReadOnlyMemory<float> Features => _features;

    /// <summary>Gets the labels, <c>[Count]</c> int64.</summary>
    public ReadOnlyMemory<long> Labels => _labels;

    /// <summary>Returns a view of <paramref name="count"/> samples starting at <paramref name="start"/>, without copying.</summary>
    /// <param name="start">The first sample, 0-based.</param>
    /// <param name="count">The number of samples.</param>
    /// <returns>The view; it shares memory with this data set and has the same digest suffixed with the range.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range does not lie within <c>[0, Count)</c>.</exception>
    public LabeledDataset Slice(int start, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (start > Count - count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"Range [{start}, {start + (long)count}) lies outside data set '{Name}' of {Count} samples.");
        }

        return new LabeledDataset(
            $"{Name}[{start}..{start + count})",
            _features.Slice(start * SampleSize, count * SampleSize),
            _labels.Slice(start, count),
            _sampleShape,
            ClassCount,
            $"{Digest}#{start}+{count}",
            validate: false);
    }

    private static void Validate(ReadOnlyMemory<float> features, ReadOnlySpan<long> labels, long[] sampleShape, int classCount)
    {
        if (sampleShape.Length == 0)
        {
            throw new ArgumentException("The sample shape is empty; give the shape of one sample, for example [1, 28, 28].", nameof(sampleShape));
        }

        foreach (long d in sampleShape)
        {
            if (d < 1)
            {
                throw new ArgumentException($"Sample shape {TensorSpec.FormatShape(sampleShape)} has a dimension below 1; every dimension must be 1 or greater.", nameof(sampleShape));
            }
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        long sampleSize = Product(sampleShape);
        if (sampleSize > int.MaxValue || (long)labels.Length * sampleSize != features.Length)
        {
            throw new ArgumentException(
                $"{features.Length} feature values do not hold {labels.Length} samples of shape {TensorSpec.FormatShape(sampleShape)}: expected {(long)labels.Length * sampleSize}.",
                nameof(features));
        }

        for (int i = 0; i < labels.Length; i++)
        {
            if ((ulong)labels[i] >= (ulong)classCount)
            {
                throw new ArgumentException($"Label {labels[i]} of sample {i} is outside [0, {classCount}); labels must be class indices.", nameof(labels));
            }
        }
    }

    private static long Product(long[] shape)
    {
        long p = 1;
        foreach (long d in shape)
        {
            if (!SequentialLayout.TryMultiply(p, d, out p))
            {
                throw new ArgumentException($"Sample shape {TensorSpec.FormatShape(shape)} has more elements than a 64-bit count can hold; check the dimensions.", nameof(shape));
            }
        }

        return p;
    }
}
