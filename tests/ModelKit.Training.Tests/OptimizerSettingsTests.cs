namespace ModelKit.Training.Tests;

public sealed class OptimizerSettingsTests
{
    [Fact]
    public void Validate_NegativeEpsilon_NamesOptimizerSettings()
    {
        var ex = Assert.Throws<ArgumentException>(new OptimizerSettings { Epsilon = -1 }.Validate);

        Assert.Equal("OptimizerSettings.Epsilon is -1; it must be a finite number 0 or greater. (Parameter 'Epsilon')", ex.Message);
    }

    [Fact]
    public void Defaults_ArePyTorchAdamDefaults()
    {
        var s = new OptimizerSettings();

        s.Validate();
        Assert.Equal((OptimizerKind.Adam, 1e-3, 0.9, 0.999, 1e-8, 0.0, 0.0), (s.Kind, s.LearningRate, s.Beta1, s.Beta2, s.Epsilon, s.WeightDecay, s.Momentum));
    }
}
