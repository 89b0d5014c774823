using System.Globalization;
using ModelKit.Registry;
using ModelKit.Serving;

namespace ModelKit.Monitoring.Retraining;

/// <summary>A labelled evaluation window: the same rows score the current and the candidate version.</summary>
/// <param name="Inputs">The inputs, one batch (dimension 0 = rows), matched to the model's inputs by name.</param>
/// <param name="Labels">One true class per row.</param>
public sealed record LabelledWindow(IReadOnlyList<NamedTensor> Inputs, IReadOnlyList<long> Labels);

/// <summary>What the host's training delegate is given.</summary>
/// <param name="Parent">The version the alias points at now (the lineage to retrain or fine-tune from).</param>
/// <param name="Trigger">The alert that triggered the retrain, or <see langword="null"/> when run by hand.</param>
public sealed record RetrainContext(ModelVersion Parent, Alerts.AlertNotification? Trigger);

/// <summary>The artifact a training delegate produced, with what its lineage records.</summary>
public sealed record RetrainedModel
{
    /// <summary>Gets the ONNX bytes.</summary>
    public required ReadOnlyMemory<byte> Onnx { get; init; }

    /// <summary>Gets the training run id.</summary>
    public string? TrainingRunId { get; init; }

    /// <summary>Gets the digest of the training data (for example <c>sha256:…</c>).</summary>
    public string? DatasetDigest { get; init; }

    /// <summary>Gets the run's hyper-parameters.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>Gets metrics to store with the version (for example <c>validation_accuracy</c>).</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// The gate a retrained model passes before it is registered: for example ModelKit.Compression's gate, which may
/// replace the artifact with a compressed one when it is measured accurate and fast enough. Pluggable because the
/// compression package is optional.
/// </summary>
public interface IModelGate
{
    /// <summary>Checks, and may transform, a candidate artifact.</summary>
    /// <param name="candidate">The retrained model.</param>
    /// <param name="context">The retrain's context.</param>
    /// <param name="cancellationToken">Cancels the gate.</param>
    /// <returns>The artifact to register (possibly rewritten, with its recipe), or a rejection.</returns>
    Task<GateResult> EvaluateAsync(RetrainedModel candidate, RetrainContext context, CancellationToken cancellationToken);
}

/// <summary>The outcome of an <see cref="IModelGate"/>.</summary>
/// <param name="Accepted">Whether the candidate may be registered.</param>
/// <param name="Model">The artifact to register (the candidate, or a rewritten one).</param>
/// <param name="CompressionRecipe">The recipe applied, recorded in the lineage, or <see langword="null"/>.</param>
/// <param name="Reason">Why it was rejected, or a note.</param>
public sealed record GateResult(bool Accepted, RetrainedModel Model, string? CompressionRecipe, string? Reason);

/// <summary>What a retrain did.</summary>
/// <param name="Parent">The version the alias pointed at.</param>
/// <param name="Candidate">The registered candidate, or <see langword="null"/> when the gate rejected it.</param>
/// <param name="ParentAccuracy">The parent's accuracy on the labelled window.</param>
/// <param name="CandidateAccuracy">The candidate's accuracy on the same window (NaN when rejected).</param>
/// <param name="AliasMoved">Whether the alias now points at the candidate.</param>
/// <param name="Reason">Why the alias moved or did not.</param>
public sealed record RetrainOutcome(ModelVersion Parent, ModelVersion? Candidate, double ParentAccuracy, double CandidateAccuracy, bool AliasMoved, string Reason);

/// <summary>
/// The retrain loop's action: resolves the alias, has the host's training delegate retrain or fine-tune from the
/// version's lineage on data the host supplies (for example the captured and labelled window, through ModelKit.Training's
/// trainer), passes the result through an optional <see cref="IModelGate"/> (compression), registers it with lineage
/// (parent version, run, data, recipe; the trigger alert as tags), scores parent and candidate on the same labelled
/// window, and moves the alias only when the candidate is strictly better and the alias still points at the parent
/// (checked just before the move: the registry's API has no atomic compare-and-set, so two concurrent retrains of one
/// alias must be serialised by the host). Thread-safe.
/// </summary>
public sealed class RetrainAction
{
    private readonly IModelRegistry _registry;
    private readonly IInferenceSessionFactory _sessions;
    private readonly IModelGate? _gate;

    /// <summary>Creates the action.</summary>
    /// <param name="registry">The registry.</param>
    /// <param name="sessions">Loads versions to score them.</param>
    /// <param name="gate">The gate, or <see langword="null"/> for none.</param>
    /// <exception cref="ArgumentNullException"><paramref name="registry"/> or <paramref name="sessions"/> is <see langword="null"/>.</exception>
    public RetrainAction(IModelRegistry registry, IInferenceSessionFactory sessions, IModelGate? gate = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(sessions);
        _registry = registry;
        _sessions = sessions;
        _gate = gate;
    }

    /// <summary>Runs one retrain.</summary>
    /// <param name="modelName">The model.</param>
    /// <param name="alias">The alias to move, for example <c>production</c>.</param>
    /// <param name="train">The host's training delegate.</param>
    /// <param name="evaluation">The labelled window both versions are scored on.</param>
    /// <param name="trigger">The alert that triggered it, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the retrain; nothing is registered when cancelled before registration.</param>
    /// <returns>What happened.</returns>
    /// <exception cref="ArgumentException">The window's label count differs from its row count, or it is empty.</exception>
    /// <exception cref="ModelNotFoundException">The alias does not exist.</exception>
    /// <exception cref="InvalidModelException">The retrained artifact is not a valid model.</exception>
    public async Task<RetrainOutcome> RunAsync(
        string modelName,
        string alias,
        Func<RetrainContext, CancellationToken, Task<RetrainedModel>> train,
        LabelledWindow evaluation,
        Alerts.AlertNotification? trigger = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(evaluation);
        ModelName.ThrowIfInvalid(modelName, nameof(modelName));
        ModelName.ThrowIfInvalidAlias(alias, nameof(alias));
        if (evaluation.Labels.Count == 0)
        {
            throw new ArgumentException("The labelled evaluation window is empty; give at least one labelled row.", nameof(evaluation));
        }

        ModelVersion parent = await _registry.ResolveAsync(ModelReference.Parse($"{modelName}@{alias}"), cancellationToken).ConfigureAwait(false);
        var context = new RetrainContext(parent, trigger);
        RetrainedModel model = await train(context, cancellationToken).ConfigureAwait(false);
        string? recipe = null;
        if (_gate is not null)
        {
            GateResult gate = await _gate.EvaluateAsync(model, context, cancellationToken).ConfigureAwait(false);
            if (!gate.Accepted)
            {
                double parentOnly = await ScoreAsync(parent, evaluation, cancellationToken).ConfigureAwait(false);
                return new RetrainOutcome(parent, null, parentOnly, double.NaN, false, $"The gate rejected the candidate: {gate.Reason}");
            }

            model = gate.Model;
            recipe = gate.CompressionRecipe;
        }

        var tags = new Dictionary<string, string> { ["retrain.alias"] = alias };
        if (trigger is not null)
        {
            tags["retrain.trigger.alert"] = trigger.RuleName;
            tags["retrain.trigger.version"] = trigger.ModelVersion.ToString(CultureInfo.InvariantCulture);
            tags["retrain.trigger.value"] = trigger.Value.ToString("G6", CultureInfo.InvariantCulture);
            tags["retrain.trigger.starts_at"] = trigger.StartsAt.ToString("O", CultureInfo.InvariantCulture);
        }

        using var content = new MemoryStream(model.Onnx.ToArray(), writable: false);
        ModelVersion candidate = await _registry.RegisterAsync(
            new ModelRegistration(modelName)
            {
                Description = trigger is null ? $"Retrained from version {parent.Version}" : $"Retrained from version {parent.Version} after alert {trigger.RuleName}",
                Metrics = model.Metrics,
                Tags = tags,
                Lineage = new ModelLineage
                {
                    ParentVersion = parent.Version,
                    TrainingRunId = model.TrainingRunId,
                    DatasetDigest = model.DatasetDigest,
                    CompressionRecipe = recipe,
                    Parameters = model.Parameters,
                },
            },
            content,
            cancellationToken).ConfigureAwait(false);

        double parentAccuracy = await ScoreAsync(parent, evaluation, cancellationToken).ConfigureAwait(false);
        double candidateAccuracy = await ScoreAsync(candidate, evaluation, cancellationToken).ConfigureAwait(false);
        if (!(candidateAccuracy > parentAccuracy))
        {
            return new RetrainOutcome(parent, candidate, parentAccuracy, candidateAccuracy, false, $"Version {candidate.Version} scored {candidateAccuracy:F4}, not better than version {parent.Version}'s {parentAccuracy:F4}; '{alias}' stays.");
        }

        try
        {
            // Compare-and-set: if anyone moved the alias while this retrain ran, their move wins and this one is reported.
            await _registry.CompareAndSetAliasAsync(
                modelName, alias, parent.Version, candidate.Version, new AliasChangeInfo("ModelKit.Monitoring retrain", "retrained candidate beat the serving version on the labelled window"), cancellationToken).ConfigureAwait(false);
        }
        catch (AliasConflictException ex)
        {
            string now = ex.ActualVersion is { } v ? $"version {v}" : "nowhere (it was removed)";
            return new RetrainOutcome(parent, candidate, parentAccuracy, candidateAccuracy, false, $"'{alias}' moved to {now} during the retrain; it was not moved again.");
        }

        return new RetrainOutcome(parent, candidate, parentAccuracy, candidateAccuracy, true, $"Version {candidate.Version} scored {candidateAccuracy:F4} against version {parent.Version}'s {parentAccuracy:F4} on the same {evaluation.Labels.Count} labelled rows; '{alias}' moved.");
    }

    private async Task<double> ScoreAsync(ModelVersion version, LabelledWindow window, CancellationToken cancellationToken)
    {
        using IInferenceSession session = await _sessions.CreateAsync(version.Reference, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<NamedTensor> outputs = session.Run(window.Inputs);
        if (outputs.Count == 0 || outputs[0].Value is not Tensor<float> scores || scores.Shape.Length != 2 || scores.Shape[0] != window.Labels.Count)
        {
            throw new ArgumentException($"Version {version.Name}/{version.Version} did not answer the labelled window with float scores [{window.Labels.Count}, classes]; the retrain action scores classifiers only.", nameof(window));
        }

        int classes = (int)scores.Shape[1];
        ReadOnlySpan<float> s = scores.Span;
        int correct = 0;
        for (int r = 0; r < window.Labels.Count; r++)
        {
            ReadOnlySpan<float> row = s.Slice(r * classes, classes);
            int best = 0;
            for (int k = 1; k < classes; k++)
            {
                if (row[k] > row[best])
                {
                    best = k;
                }
            }

            correct += best == window.Labels[r] ? 1 : 0;
        }

        return (double)correct / window.Labels.Count;
    }
}
