using ModelKit.Registry;

namespace ModelKit.Abstractions.Tests.Registry;

public sealed class ModelReferenceTests
{
    [Theory]
    [InlineData("fashion-mnist", "fashion-mnist", null, null)]
    [InlineData("fashion-mnist/3", "fashion-mnist", 3, null)]
    [InlineData("fashion-mnist@production", "fashion-mnist", null, "production")]
    [InlineData("models:/fashion-mnist/12", "fashion-mnist", 12, null)]
    [InlineData("models:/fashion-mnist@champion", "fashion-mnist", null, "champion")]
    [InlineData("models:/iris", "iris", null, null)]
    [InlineData("a", "a", null, null)]
    [InlineData("0.model_v2-final", "0.model_v2-final", null, null)]
    [InlineData("iris/2147483647", "iris", int.MaxValue, null)]
    public void Parse_AcceptedForm_ReturnsNameVersionAndAlias(string text, string name, int? version, string? alias)
    {
        ModelReference reference = ModelReference.Parse(text);

        Assert.Equal(name, reference.Name);
        Assert.Equal(version, reference.Version);
        Assert.Equal(alias, reference.Alias);
        Assert.Equal(version is null && alias is null, reference.IsLatest);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Fashion")]
    [InlineData("-model")]
    [InlineData("model/0")]
    [InlineData("model/-1")]
    [InlineData("model/+1")]
    [InlineData("model/1.5")]
    [InlineData("model/")]
    [InlineData("model@")]
    [InlineData("@prod")]
    [InlineData("/3")]
    [InlineData("model/3@prod")]
    [InlineData("model@prod/3")]
    [InlineData("model@Prod")]
    [InlineData("model/2147483648")]
    [InlineData("models:/")]
    [InlineData("models:model/1")]
    [InlineData("model name")]
    [InlineData("model/３")]
    public void TryParse_RejectedForm_ReturnsFalse(string text)
    {
        Assert.False(ModelReference.TryParse(text, out ModelReference? reference));
        Assert.Null(reference);
    }

    [Fact]
    public void TryParse_Null_ReturnsFalse()
    {
        Assert.False(ModelReference.TryParse(null, out ModelReference? reference));
        Assert.Null(reference);
    }

    [Fact]
    public void Parse_InvalidText_ThrowsFormatExceptionQuotingTextAndAcceptedForms()
    {
        FormatException ex = Assert.Throws<FormatException>(() => ModelReference.Parse("Fashion-MNIST@prod"));

        Assert.Equal(
            "'Fashion-MNIST@prod' is not a model reference: expected 'name', 'name/<version>', 'name@<alias>' or the same after 'models:/', " +
            "with names matching [a-z0-9][a-z0-9._-]* and versions 1 or greater, for example 'fashion-mnist@production'.",
            ex.Message);
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNullException()
    {
        Assert.Throws<ArgumentNullException>(() => ModelReference.Parse(null!));
    }

    [Theory]
    [InlineData("iris", "iris")]
    [InlineData("iris/2", "iris/2")]
    [InlineData("iris@staging", "iris@staging")]
    [InlineData("models:/iris/2", "iris/2")]
    [InlineData("models:/iris@staging", "iris@staging")]
    public void ToString_ReturnsShortForm_ThatParsesBackToAnEqualReference(string text, string expected)
    {
        ModelReference reference = ModelReference.Parse(text);

        Assert.Equal(expected, reference.ToString());
        Assert.Equal(reference, ModelReference.Parse(reference.ToString()));
    }

    [Fact]
    public void Factories_ValidArguments_MatchParsedReferences()
    {
        Assert.Equal(ModelReference.Parse("iris"), ModelReference.Latest("iris"));
        Assert.Equal(ModelReference.Parse("iris/4"), ModelReference.ForVersion("iris", 4));
        Assert.Equal(ModelReference.Parse("iris@production"), ModelReference.ForAlias("iris", "production"));
        Assert.NotEqual(ModelReference.ForVersion("iris", 4), ModelReference.ForVersion("iris", 5));
    }

    [Fact]
    public void ForVersion_VersionBelowOne_ThrowsArgumentOutOfRangeException()
    {
        ArgumentOutOfRangeException ex = Assert.Throws<ArgumentOutOfRangeException>(() => ModelReference.ForVersion("iris", 0));

        Assert.Equal("version", ex.ParamName);
    }

    [Fact]
    public void Latest_InvalidName_ThrowsArgumentExceptionNamingIt()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => ModelReference.Latest("Iris"));

        Assert.Equal("name", ex.ParamName);
        Assert.StartsWith("Invalid model name 'Iris': expected 1 to 128 characters", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ForAlias_InvalidAlias_ThrowsArgumentExceptionNamingTheAlias()
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => ModelReference.ForAlias("iris", "Prod"));

        Assert.Equal("alias", ex.ParamName);
        Assert.StartsWith("Invalid alias name 'Prod': expected 1 to 128 characters", ex.Message, StringComparison.Ordinal);
    }
}
