using ModelKit.Registry;

namespace ModelKit.Abstractions.Tests.Registry;

public sealed class ModelNameTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("fashion-mnist")]
    [InlineData("resnet50.int8_v2")]
    [InlineData("9lives")]
    [InlineData("a-")]
    [InlineData("a.")]
    public void IsValid_MatchingPattern_ReturnsTrue(string name)
    {
        Assert.True(ModelName.IsValid(name));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("Fashion")]
    [InlineData("-leading-dash")]
    [InlineData(".hidden")]
    [InlineData("_private")]
    [InlineData("with space")]
    [InlineData("slash/name")]
    [InlineData("at@name")]
    [InlineData("colon:name")]
    [InlineData("café")]
    [InlineData("ａ")]
    public void IsValid_NotMatchingPattern_ReturnsFalse(string? name)
    {
        Assert.False(ModelName.IsValid(name));
    }

    [Fact]
    public void IsValid_Length_AcceptsUpTo128Characters()
    {
        Assert.True(ModelName.IsValid(new string('a', ModelName.MaxLength)));
        Assert.False(ModelName.IsValid(new string('a', ModelName.MaxLength + 1)));
        Assert.Equal(128, ModelName.MaxLength);
    }

    [Fact]
    public void ThrowIfInvalid_InvalidName_ThrowsWithExactMessageAndParamName()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => ModelName.ThrowIfInvalid("My Model", "modelName"));

        Assert.Equal("modelName", ex.ParamName);
        Assert.Equal(
            "Invalid model name 'My Model': expected 1 to 128 characters matching [a-z0-9][a-z0-9._-]* " +
            "(lowercase letters, digits, '.', '_' and '-', starting with a letter or digit). Rename it, for example 'fashion-mnist'. (Parameter 'modelName')",
            ex.Message);
    }

    [Fact]
    public void ThrowIfInvalid_Null_SaysNull()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => ModelName.ThrowIfInvalid(null));

        Assert.Equal("name", ex.ParamName);
        Assert.StartsWith("Invalid model name null: expected", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfInvalid_LongName_QuotesOnlyTheFirst64Characters()
    {
        string name = new string('x', 60) + "YYYYYYYYYY";

        ArgumentException ex = Assert.Throws<ArgumentException>(() => ModelName.ThrowIfInvalid(name));

        Assert.StartsWith($"Invalid model name '{new string('x', 60)}YYYY…': expected", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfInvalidAlias_InvalidAlias_SaysAlias()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => ModelName.ThrowIfInvalidAlias("Production"));

        Assert.Equal("alias", ex.ParamName);
        Assert.StartsWith("Invalid alias name 'Production': expected", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ThrowIfInvalid_ValidName_DoesNotThrow()
    {
        ModelName.ThrowIfInvalid("fashion-mnist");
        ModelName.ThrowIfInvalidAlias("production");
    }
}
