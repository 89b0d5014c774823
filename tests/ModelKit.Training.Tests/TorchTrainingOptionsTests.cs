using ModelKit.Training.Internal;

namespace ModelKit.Training.Tests;

public sealed class TorchTrainingOptionsTests
{
    [Fact]
    public void Defaults_AreValid()
    {
        var options = new TorchTrainingOptions();

        Assert.Null(options.LibraryPath);
        Assert.Equal(0, options.ThreadCount);
        Assert.True(new TorchTrainingOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData(-1, null, "TorchTrainingOptions.ThreadCount is -1; it must be between 0 (use every processor) and 1024.")]
    [InlineData(5000, null, "TorchTrainingOptions.ThreadCount is 5000")]
    [InlineData(0, " ", "TorchTrainingOptions.LibraryPath is ' '")]
    public void Validate_Invalid_QuotesValue(int threads, string? path, string expected)
    {
        var result = new TorchTrainingOptionsValidator().Validate(null, new TorchTrainingOptions { ThreadCount = threads, LibraryPath = path });

        Assert.True(result.Failed);
        Assert.Contains(expected, result.FailureMessage, StringComparison.Ordinal);
    }
}
