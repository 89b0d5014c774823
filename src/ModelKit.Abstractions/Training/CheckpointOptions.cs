using System.Globalization;

namespace ModelKit.Training;

/// <summary>
/// Where and how often a training run writes checkpoints (model parameters and buffers, optimizer state, epoch and step,
/// sampler position; the random streams are derived from the seed and the step, so they need no state), and whether it
/// resumes from the newest one. Files are written atomically (temporary file, flush, rename); in a data-parallel run
/// rank 0 writes and every rank reads the same file.
/// </summary>
/// <param name="Directory">The checkpoint directory; created when missing.</param>
public sealed record CheckpointOptions(string Directory)
{
    /// <summary>Gets the number of optimizer steps between checkpoints; 0 writes none by step count.</summary>
    /// <value>The default is 0.</value>
    public int EverySteps { get; init; }

    /// <summary>Gets the number of epochs between checkpoints (written at the end of an epoch); 0 writes none by epoch.</summary>
    /// <value>The default is 1.</value>
    public int EveryEpochs { get; init; } = 1;

    /// <summary>Gets how many of the newest checkpoints are kept; older ones are deleted after a new one is written. 1 or greater.</summary>
    /// <value>The default is 3.</value>
    public int KeepLast { get; init; } = 3;

    /// <summary>Gets whether the run resumes from the newest checkpoint in <see cref="Directory"/> (when there is one).</summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Resume { get; init; }

    /// <summary>Checks the settings.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message quotes it.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("CheckpointOptions.Directory is empty; give the folder that holds the checkpoints.", nameof(Directory));
        }

        if (EverySteps < 0 || EveryEpochs < 0 || KeepLast < 1)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"CheckpointOptions has EverySteps {EverySteps}, EveryEpochs {EveryEpochs} and KeepLast {KeepLast}; the first two must be 0 or greater and KeepLast 1 or greater."),
                nameof(KeepLast));
        }
    }
}
