using System.IO.Compression;
using System.Xml.Linq;

namespace ModelKit.Packaging.Tests;

/// <summary>
/// What every packed .nupkg carries (from eng/pack.sh, run once by <see cref="PackagesFixture"/>): its README as the
/// package readme, the MIT license, XML docs next to every assembly, a description; the native runtime package its
/// shim under runtimes/linux-x64/native/; ModelKit.Training a dependency on it; and no .props/.targets that points into
/// this repository.
/// </summary>
[Collection(PackedModelKitDefinition.Name)]
public sealed class PackageContentsTests(PackagesFixture packages)
{
    private static readonly string[] Libraries =
    [
        "ModelKit.Abstractions", "ModelKit.Onnx", "ModelKit.Registry", "ModelKit.Registry.PostgreSql", "ModelKit.Storage.S3",
        "ModelKit.Storage.AzureBlobs", "ModelKit.Serving", "ModelKit.Serving.AspNetCore", "ModelKit.Training",
        "ModelKit.Compression", "ModelKit.Monitoring",
    ];

    [Fact]
    public void EveryLibrary_IsPacked_WithSymbols()
    {
        foreach (string id in Libraries)
        {
            Assert.True(File.Exists(PackagePath(id)), $"{id}.{packages.Version}.nupkg is missing in {packages.PackagesDirectory}");
            Assert.True(File.Exists(Path.ChangeExtension(PackagePath(id), ".snupkg")), $"{id}.{packages.Version}.snupkg is missing");
        }

        Assert.True(File.Exists(PackagePath("ModelKit.Training.Native.linux-x64")));
        Assert.True(File.Exists(PackagePath("ModelKit.Cli")));
    }

    [Fact]
    public void EveryPackage_HasReadme_License_Description_AndXmlDocs()
    {
        string[] nupkgs = Directory.GetFiles(packages.PackagesDirectory, "*.nupkg");
        Assert.NotEmpty(nupkgs);
        foreach (string nupkg in nupkgs)
        {
            using ZipArchive zip = ZipFile.OpenRead(nupkg);
            var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
            XElement metadata = Nuspec(zip).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
            string id = Value(metadata, "id");
            Assert.Equal("README.md", Value(metadata, "readme"));
            Assert.Contains("README.md", entries);
            Assert.True(ReadEntry(zip, "README.md").Contains("dotnet ", StringComparison.Ordinal), $"{id}: the README has no install line");
            Assert.Contains("LICENSE", entries);
            Assert.Equal("MIT", Value(metadata, "license"));
            Assert.False(string.IsNullOrWhiteSpace(Value(metadata, "description")), $"{id}: no description");
            foreach (string dll in entries.Where(e => e.StartsWith("lib/net10.0/ModelKit.", StringComparison.Ordinal) && e.EndsWith(".dll", StringComparison.Ordinal)))
            {
                Assert.True(entries.Contains(dll[..^4] + ".xml"), $"{id}: {dll} has no XML documentation next to it");
            }
        }
    }

    [Fact]
    public void NativePackage_CarriesTheShim_AndTrainingDependsOnIt()
    {
        using (ZipArchive native = ZipFile.OpenRead(PackagePath("ModelKit.Training.Native.linux-x64")))
        {
            ZipArchiveEntry? shim = native.GetEntry("runtimes/linux-x64/native/libmodelkit_torch.so");
            Assert.NotNull(shim);
            Assert.True(shim.Length > 10_000, $"libmodelkit_torch.so is only {shim.Length} bytes");
            Assert.DoesNotContain(native.Entries, e => e.FullName.StartsWith("lib/", StringComparison.Ordinal));
        }

        using ZipArchive training = ZipFile.OpenRead(PackagePath("ModelKit.Training"));
        var dependencies = Nuspec(training).Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!, StringComparer.Ordinal);
        Assert.Equal(packages.Version, dependencies["ModelKit.Training.Native.linux-x64"]);
        Assert.Equal(packages.Version, dependencies["ModelKit.Abstractions"]);
        Assert.DoesNotContain(training.Entries, e => e.Name == "libmodelkit_torch.so");
    }

    [Fact]
    public void NoPackage_CarriesBuildFilesOrPathsIntoTheRepository()
    {
        foreach (string nupkg in Directory.GetFiles(packages.PackagesDirectory, "*.nupkg"))
        {
            using ZipArchive zip = ZipFile.OpenRead(nupkg);
            foreach (ZipArchiveEntry entry in zip.Entries.Where(e => e.FullName.EndsWith(".props", StringComparison.Ordinal) || e.FullName.EndsWith(".targets", StringComparison.Ordinal)))
            {
                string text = ReadEntry(zip, entry.FullName);
                Assert.DoesNotContain(packages.RepositoryRoot, text, StringComparison.Ordinal);
                Assert.DoesNotContain("artifacts/native", text, StringComparison.Ordinal);
            }

            Assert.DoesNotContain(packages.RepositoryRoot, ReadEntry(zip, NuspecName(zip)), StringComparison.Ordinal);
        }
    }

    private string PackagePath(string id) => Path.Combine(packages.PackagesDirectory, $"{id}.{packages.Version}.nupkg");

    private static string NuspecName(ZipArchive zip) => zip.Entries.Single(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).FullName;

    private static XDocument Nuspec(ZipArchive zip) => XDocument.Parse(ReadEntry(zip, NuspecName(zip)));

    private static string Value(XElement metadata, string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value ?? "";

    private static string ReadEntry(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open());
        return reader.ReadToEnd();
    }
}
