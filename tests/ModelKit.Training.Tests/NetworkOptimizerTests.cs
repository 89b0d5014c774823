namespace ModelKit.Training.Tests;

public sealed class NetworkOptimizerTests
{
    [Fact]
    public void LearningRate_Set_ChangesStepSize()
    {
        // Plain SGD: the update is lr * gradient, so halving lr halves the change of every parameter.
        float[] features = [1f, 2f, -1f, 0.5f];
        float[] delta1 = StepDelta(0.1, features);
        float[] delta2 = StepDelta(0.05, features);

        for (int i = 0; i < delta1.Length; i++)
        {
            Assert.Equal(delta1[i] / 2, delta2[i], 5);
        }
    }

    [Fact]
    public void LearningRate_NotPositive_Throws()
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp();
        using NetworkOptimizer optimizer = network.CreateOptimizer(new OptimizerSettings());

        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.LearningRate = -1);

        Assert.Contains("The learning rate is -1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1e-3, optimizer.LearningRate);
    }

    private static float[] StepDelta(double learningRate, float[] features)
    {
        using SequentialNetwork network = TestTorch.CreateSmallMlp(seed: 8);
        using NetworkOptimizer optimizer = network.CreateOptimizer(new OptimizerSettings { Kind = OptimizerKind.Sgd, LearningRate = 1 });
        optimizer.LearningRate = learningRate;
        Assert.Equal(learningRate, optimizer.LearningRate);
        float[] before = network.GetParameters()[0].Data;
        network.TrainStep(optimizer, features, [1, 4], [2]);
        float[] after = network.GetParameters()[0].Data;
        return [.. after.Zip(before, (a, b) => a - b)];
    }
}
