namespace ModelKit.Serving;

/// <summary>
/// Thrown at once when a model's request queue is full (<see cref="BatchingOptions.MaxQueueLength"/>). Nothing ran; the
/// caller may retry later. An HTTP layer maps it to 429 Too Many Requests.
/// </summary>
public sealed class InferenceQueueFullException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="model">The model reference whose queue is full, for example <c>fashion-mnist@production</c>.</param>
    /// <param name="capacity">The queue's capacity in requests.</param>
    /// <param name="message">What happened and what to do.</param>
    public InferenceQueueFullException(string model, int capacity, string message)
        : base(message)
    {
        Model = model;
        Capacity = capacity;
    }

    /// <summary>Gets the model reference whose queue is full.</summary>
    public string Model { get; }

    /// <summary>Gets the queue's capacity in requests.</summary>
    public int Capacity { get; }
}

/// <summary>Thrown when a request's deadline passed before it ran; it was dropped and never produced a result. An HTTP layer maps it to 504.</summary>
public sealed class InferenceTimeoutException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="model">The model reference.</param>
    /// <param name="deadline">The request's deadline.</param>
    /// <param name="message">What happened and what to do.</param>
    public InferenceTimeoutException(string model, DateTimeOffset deadline, string message)
        : base(message)
    {
        Model = model;
        Deadline = deadline;
    }

    /// <summary>Gets the model reference.</summary>
    public string Model { get; }

    /// <summary>Gets the deadline that passed.</summary>
    public DateTimeOffset Deadline { get; }
}
