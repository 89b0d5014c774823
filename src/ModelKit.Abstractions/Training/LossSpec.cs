using System.Globalization;
using System.Text.Json.Serialization;

namespace ModelKit.Training;

/// <summary>The loss a network is trained to minimise, averaged over the samples of a batch.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(CrossEntropyLoss), "cross_entropy")]
[JsonDerivedType(typeof(MseLoss), "mse")]
[JsonDerivedType(typeof(BceWithLogitsLoss), "bce_with_logits")]
public abstract record LossSpec
{
    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message quotes it.</exception>
    public virtual void Validate()
    {
    }
}

/// <summary>
/// Cross-entropy of class logits <c>[N, C]</c> against int64 class labels <c>[N]</c> (PyTorch's <c>F.cross_entropy</c>), in nats.
/// </summary>
/// <param name="LabelSmoothing">The smoothing ε in [0, 1): the target is <c>(1 − ε)</c> on the label plus <c>ε / C</c> on every class (Szegedy et al., 2016); the default is 0.</param>
/// <param name="ClassWeights">Optional per-class weights (C finite values, 0 or greater); the mean is weighted as PyTorch weights it. The default is none.</param>
public sealed record CrossEntropyLoss(double LabelSmoothing = 0, IReadOnlyList<float>? ClassWeights = null) : LossSpec
{
    /// <inheritdoc />
    public override void Validate()
    {
        if (!(LabelSmoothing >= 0 && LabelSmoothing < 1))
        {
            throw new ArgumentException($"CrossEntropyLoss.LabelSmoothing is {LabelSmoothing.ToString("R", CultureInfo.InvariantCulture)}; it must be in [0, 1).", nameof(LabelSmoothing));
        }

        if (ClassWeights is null)
        {
            return;
        }

        for (int i = 0; i < ClassWeights.Count; i++)
        {
            if (!float.IsFinite(ClassWeights[i]) || ClassWeights[i] < 0)
            {
                throw new ArgumentException($"CrossEntropyLoss.ClassWeights[{i}] is {ClassWeights[i].ToString("R", CultureInfo.InvariantCulture)}; every weight must be a finite number 0 or greater.", nameof(ClassWeights));
            }
        }
    }
}

/// <summary>Mean squared error against float32 targets of the output's shape (PyTorch's <c>F.mse_loss</c>).</summary>
public sealed record MseLoss : LossSpec;

/// <summary>Binary cross-entropy of logits against float32 targets in [0, 1] of the output's shape (PyTorch's <c>F.binary_cross_entropy_with_logits</c>).</summary>
public sealed record BceWithLogitsLoss : LossSpec;
