namespace ModelKit.Training.Tests;

public sealed class TrainingRunOptionsTests
{
    [Fact]
    public void Defaults_AreValid_AndMatchDocumentation()
    {
        var options = new TrainingRunOptions();

        options.Validate();
        Assert.Equal(5, options.Epochs);
        Assert.Equal(128, options.BatchSize);
        Assert.Equal(1e-3, options.LearningRate);
        Assert.Equal(OptimizerKind.Adam, options.Optimizer);
        Assert.Equal(42, options.Seed);
    }

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_OutOfRange_MessageQuotesPropertyAndValue(TrainingRunOptions options, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    public static TheoryData<TrainingRunOptions, string> Invalid() => new()
    {
        { new TrainingRunOptions { Epochs = 0 }, "TrainingRunOptions.Epochs is 0; it must be between 1 and 100000." },
        { new TrainingRunOptions { BatchSize = -5 }, "TrainingRunOptions.BatchSize is -5; it must be between 1 and 1048576." },
        { new TrainingRunOptions { EvaluationBatchSize = 0 }, "TrainingRunOptions.EvaluationBatchSize is 0" },
        { new TrainingRunOptions { LearningRate = 0 }, "TrainingRunOptions.LearningRate is 0; it must be a finite number greater than 0" },
        { new TrainingRunOptions { LearningRate = double.NaN }, "TrainingRunOptions.LearningRate is NaN" },
        { new TrainingRunOptions { Beta2 = 1 }, "TrainingRunOptions.Beta2 is 1; it must be in [0, 1)." },
        { new TrainingRunOptions { WeightDecay = -0.1 }, "TrainingRunOptions.WeightDecay is -0.1; it must be a finite number 0 or greater." },
        { new TrainingRunOptions { Optimizer = OptimizerKind.Sgd, Momentum = 1.2 }, "TrainingRunOptions.Momentum is 1.2; it must be in [0, 1)." },
        { new TrainingRunOptions { Momentum = 0.9 }, "TrainingRunOptions.Momentum is 0.9 but the optimizer is Adam" },
        { new TrainingRunOptions { Optimizer = (OptimizerKind)7 }, "TrainingRunOptions.Optimizer is 7; it must be Adam, AdamW or Sgd." },
    };

    [Fact]
    public void ToOptimizerSettings_CopiesEveryHyperParameter()
    {
        var options = new TrainingRunOptions { Optimizer = OptimizerKind.Sgd, LearningRate = 0.2, Momentum = 0.5, WeightDecay = 0.01, Beta1 = 0.8, Beta2 = 0.99, Epsilon = 1e-6 };

        Assert.Equal(
            new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 0.2, Momentum = 0.5, WeightDecay = 0.01, Beta1 = 0.8, Beta2 = 0.99, Epsilon = 1e-6 },
            options.ToOptimizerSettings());
    }
}
