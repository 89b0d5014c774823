using System.Xml.Linq;

namespace ModelKit.Packaging.Tests;

/// <summary>
/// The templates are packed from their samples (templates/ModelKit.Templates/ModelKit.Templates.csproj); only the
/// project file is the template's own. These checks keep that project file equal to the sample's in what it
/// references: the same ModelKit libraries (as packages instead of projects) and the same third-party packages at the
/// versions pinned in Directory.Packages.props.
/// </summary>
public sealed class TemplateSourceTests
{
    public static TheoryData<string, string, string> Templates => new()
    {
        { "modelkit-api", "InferenceApi", "samples/InferenceApi" },
        { "modelkit-train", "TrainAndRegister", "samples/TrainAndRegister" },
    };

    [Theory]
    [MemberData(nameof(Templates))]
    public void TemplateProject_ReferencesWhatItsSampleReferences_AtThePinnedVersions(string template, string sourceName, string sample)
    {
        string root = RepositoryRoot();
        XDocument templateProject = XDocument.Load(Path.Combine(root, "templates", "ModelKit.Templates", "content", template, sourceName + ".csproj.in"));
        XDocument sampleProject = XDocument.Load(Path.Combine(root, sample, sourceName + ".csproj"));
        Dictionary<string, string> pinned = XDocument.Load(Path.Combine(root, "Directory.Packages.props"))
            .Descendants("PackageVersion").ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);

        Assert.Equal(sampleProject.Root!.Attribute("Sdk")!.Value, templateProject.Root!.Attribute("Sdk")!.Value);
        Dictionary<string, string> templateReferences = templateProject.Descendants("PackageReference")
            .ToDictionary(e => (string)e.Attribute("Include")!, e => (string)e.Attribute("Version")!);
        IEnumerable<string> sampleModelKit = sampleProject.Descendants("ProjectReference")
            .Select(e => Path.GetFileNameWithoutExtension((string)e.Attribute("Include")!));
        IEnumerable<string> sampleThirdParty = sampleProject.Descendants("PackageReference").Select(e => (string)e.Attribute("Include")!);

        Assert.Equal(
            sampleModelKit.Concat(sampleThirdParty).Order(StringComparer.Ordinal),
            templateReferences.Keys.Order(StringComparer.Ordinal));
        foreach ((string package, string version) in templateReferences)
        {
            string expected = package.StartsWith("ModelKit.", StringComparison.Ordinal) ? "$(ModelKitVersion)" : pinned[package];
            Assert.True(expected == version, $"{template}: {package} is referenced at '{version}'; expected '{expected}' (Directory.Packages.props pins the repository's versions).");
        }

        Assert.Equal("@MODELKIT_VERSION@", templateProject.Descendants("ModelKitVersion").Single().Value);
        Assert.Equal("true", templateProject.Descendants("TreatWarningsAsErrors").Single().Value);
    }

    [Theory]
    [MemberData(nameof(Templates))]
    public void TemplateConfig_RenamesTheSample(string template, string sourceName, string sample)
    {
        string root = RepositoryRoot();
        string config = File.ReadAllText(Path.Combine(root, "templates", "ModelKit.Templates", "content", template, ".template.config", "template.json"));
        using var json = System.Text.Json.JsonDocument.Parse(config);
        Assert.Equal(template, json.RootElement.GetProperty("shortName").GetString());
        Assert.Equal(sourceName, json.RootElement.GetProperty("sourceName").GetString());
        Assert.True(Directory.EnumerateFiles(Path.Combine(root, sample), "*.cs").Any(), $"{sample} has no sources for {template}.");
    }

    internal static string RepositoryRoot()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelKit.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"ModelKit.sln was not found above '{AppContext.BaseDirectory}'.");
    }
}
