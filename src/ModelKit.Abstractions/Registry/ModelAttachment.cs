namespace ModelKit.Registry;

/// <summary>
/// A file attached to a model version after registration, for example a monitoring reference profile, an evaluation
/// report or a model card (MLflow calls these a version's or run's artifacts). Its bytes live in the artifact store,
/// content-addressed like the model artifact; the registry keeps this reference with the version.
/// </summary>
/// <param name="Model">The model name.</param>
/// <param name="Version">The model version the file is attached to.</param>
/// <param name="Name">The attachment name, for example <c>monitoring/profile.json</c>; see <see cref="ModelName.IsValidAttachmentName"/>.</param>
/// <param name="MediaType">The media type, for example <c>application/json</c>.</param>
/// <param name="Digest">The content digest, <c>sha256:</c> and 64 lowercase hex digits.</param>
/// <param name="SizeBytes">The content length in bytes.</param>
/// <param name="CreatedAt">When this content was attached (UTC).</param>
public sealed record ModelAttachment(string Model, int Version, string Name, string MediaType, string Digest, long SizeBytes, DateTimeOffset CreatedAt);
