using System.Security.Cryptography;

namespace ModelKit.Training.Data;

/// <summary>The Fashion-MNIST training and test sets.</summary>
/// <param name="Train">60,000 training samples.</param>
/// <param name="Test">10,000 test samples.</param>
public sealed record FashionMnistSplits(LabeledDataset Train, LabeledDataset Test);

/// <summary>
/// Loads Fashion-MNIST (H. Xiao, K. Rasul, R. Vollgraf, 2017, arXiv:1708.07747; MIT licence): 28x28 grey
/// images of 10 clothing classes, 60,000 for training and 10,000 for testing, as gzipped IDX files. Samples are
/// <c>[1, 28, 28]</c> float32 with pixel values scaled from 0..255 to 0..1; labels are int64 in <c>[0, 10)</c>.
/// </summary>
public static class FashionMnist
{
    /// <summary>Where Debian's <c>dataset-fashion-mnist</c> package installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The Debian package that provides the files.</summary>
    public const string DebianPackage = "dataset-fashion-mnist";

    /// <summary>The side of an image in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>The class names, indexed by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>Loads both splits from <paramref name="directory"/>.</summary>
    /// <param name="directory">The directory holding <c>{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz</c>; <see langword="null"/> means <see cref="DefaultDirectory"/>.</param>
    /// <returns>The training and test sets; each carries a <c>sha256:</c> digest of its two source files.</returns>
    /// <exception cref="DatasetNotFoundException">A file is missing; the message names it and the package to install.</exception>
    /// <exception cref="InvalidDataException">A file is not a valid IDX file, or images and labels disagree.</exception>
    public static FashionMnistSplits Load(string? directory = null)
    {
        directory ??= DefaultDirectory;
        LabeledDataset train = LoadSplit(directory, "train", "fashion-mnist/train");
        LabeledDataset test = LoadSplit(directory, "t10k", "fashion-mnist/test");
        return new FashionMnistSplits(train, test);
    }

    private static LabeledDataset LoadSplit(string directory, string prefix, string name)
    {
        string imagesPath = Path.Combine(directory, $"{prefix}-images-idx3-ubyte.gz");
        string labelsPath = Path.Combine(directory, $"{prefix}-labels-idx1-ubyte.gz");
        foreach (string path in (ReadOnlySpan<string>)[imagesPath, labelsPath])
        {
            if (!File.Exists(path))
            {
                throw new DatasetNotFoundException(
                    path,
                    $"Fashion-MNIST file '{path}' was not found. Install the Debian package '{DebianPackage}' " +
                    $"(apt-get install {DebianPackage}), which puts the files in {DefaultDirectory}, or pass the directory that holds " +
                    "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.");
            }
        }

        (int[] imageDims, byte[] pixels) = IdxReader.ReadUnsignedBytes(imagesPath, expectedRank: 3);
        (int[] labelDims, byte[] labelBytes) = IdxReader.ReadUnsignedBytes(labelsPath, expectedRank: 1);
        if (imageDims[1] != ImageSize || imageDims[2] != ImageSize)
        {
            throw new InvalidDataException($"'{imagesPath}' holds {imageDims[1]}x{imageDims[2]} images; Fashion-MNIST images are {ImageSize}x{ImageSize}.");
        }

        if (imageDims[0] != labelDims[0])
        {
            throw new InvalidDataException($"'{imagesPath}' holds {imageDims[0]} images but '{labelsPath}' holds {labelDims[0]} labels; the files must come from the same split.");
        }

        var features = new float[pixels.Length];
        const float scale = 1f / 255f;
        for (int i = 0; i < pixels.Length; i++)
        {
            features[i] = pixels[i] * scale;
        }

        var labels = new long[labelBytes.Length];
        for (int i = 0; i < labelBytes.Length; i++)
        {
            labels[i] = labelBytes[i];
        }

        return new LabeledDataset(name, features, labels, [1, ImageSize, ImageSize], ClassNames.Count, DigestOf(imagesPath, labelsPath));
    }

    private static string DigestOf(string first, string second)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(File.ReadAllBytes(first));
        hash.AppendData(File.ReadAllBytes(second));
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}

/// <summary>Thrown when the files of a data set are not where they were looked for.</summary>
public sealed class DatasetNotFoundException : ModelKitException
{
    /// <summary>Initializes a new instance.</summary>
    /// <param name="path">The missing file or directory.</param>
    /// <param name="message">What is missing and how to get it.</param>
    public DatasetNotFoundException(string path, string message) : base(message) => Path = path;

    /// <summary>Gets the missing file or directory.</summary>
    public string Path { get; }
}
