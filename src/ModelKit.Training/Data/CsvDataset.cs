using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using CsvHelper;

namespace ModelKit.Training.Data;

/// <summary>What the first line of a CSV file holds.</summary>
public enum CsvHeader
{
    /// <summary>The first line names the columns (the common CSV convention); the label column may be chosen by name.</summary>
    ColumnNames,

    /// <summary>There is no header: every line is a sample. Columns are named <c>column_0</c>, <c>column_1</c>, ….</summary>
    None,

    /// <summary>
    /// scikit-learn's format for its bundled CSVs (<c>sklearn/datasets/data/iris.csv</c>, <c>wine_data.csv</c>,
    /// <c>breast_cancer.csv</c>): the first line is <c>n_samples,n_features,class_name_0,class_name_1,…</c>, then
    /// <c>n_samples</c> lines of <c>n_features</c> numbers followed by an integer class label. Columns are named
    /// <c>feature_0</c> … and <c>label</c>; the label column is the last unless chosen otherwise; the sample and feature
    /// counts of the header are checked; the class names become <see cref="TabularDataset.ClassNames"/>.
    /// </summary>
    Sklearn,
}

/// <summary>How <see cref="CsvDataset.Load"/> reads a CSV file into a classification data set.</summary>
public sealed record CsvDatasetOptions
{
    /// <summary>Gets what the first line holds; default <see cref="CsvHeader.ColumnNames"/>.</summary>
    public CsvHeader Header { get; init; } = CsvHeader.ColumnNames;

    /// <summary>
    /// Gets the name of the label column (only with <see cref="CsvHeader.ColumnNames"/>, or <c>label</c> with
    /// <see cref="CsvHeader.Sklearn"/>). At most one of this and <see cref="LabelColumnIndex"/>; neither means the last column.
    /// </summary>
    public string? LabelColumn { get; init; }

    /// <summary>Gets the 0-based index of the label column; negative counts from the end (-1 is the last column).</summary>
    public int? LabelColumnIndex { get; init; }

    /// <summary>
    /// Gets the class names, indexed by label. When given, a label cell may hold a class name or an integer in
    /// <c>[0, ClassNames.Count)</c>, and the class count is <c>ClassNames.Count</c>. When absent: non-negative integer labels give
    /// <c>max + 1</c> classes (or the sklearn header's class names); any non-integer label makes every label a class name,
    /// numbered in ordinal order of the distinct names (so <c>-1</c>/<c>1</c> labels become the classes "-1" and "1").
    /// </summary>
    public IReadOnlyList<string>? ClassNames { get; init; }

    /// <summary>Gets the field delimiter; default <c>,</c>. Quoted fields follow RFC 4180.</summary>
    public char Delimiter { get; init; } = ',';

    /// <summary>Gets the data set's display name; <see langword="null"/> means the file name without extension.</summary>
    public string? Name { get; init; }
}

/// <summary>A classification data set read from a table: the samples plus the names of its features and classes.</summary>
/// <param name="Dataset">The samples: shape <c>[FeatureNames.Count]</c> float32 each, int64 labels.</param>
/// <param name="FeatureNames">The feature columns' names, in sample order.</param>
/// <param name="LabelColumn">The label column's name.</param>
/// <param name="ClassNames">The class names indexed by label; <c>"0"</c>, <c>"1"</c>, … when the file gives none.</param>
public sealed record TabularDataset(LabeledDataset Dataset, IReadOnlyList<string> FeatureNames, string LabelColumn, IReadOnlyList<string> ClassNames);

/// <summary>
/// Reads CSV files (RFC 4180, parsed by CsvHelper) into <see cref="LabeledDataset"/>s for classification: numeric
/// feature columns (invariant culture: <c>.</c> decimal point, exponents allowed) and one label column. Every row must
/// have the header's cell count; an empty, non-numeric or non-finite feature cell, a missing label or a label outside the
/// classes is an <see cref="InvalidDataException"/> naming the file, the line, the column and the value. The result
/// shards with <see cref="Distributed.DistributedSampler"/> and trains like any other data set; split it with
/// <see cref="DatasetSplit.TrainTest"/> and standardise it with <see cref="FeatureStandardizer"/> (fitted on the training
/// split only).
/// </summary>
public static class CsvDataset
{
    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <param name="path">The CSV file (UTF-8).</param>
    /// <param name="options">How to read it; <see langword="null"/> means the defaults (header of column names, label in the last column).</param>
    /// <returns>The data set; its digest is <c>sha256:</c> over the file's bytes and the label column, so a different choice of label gives a different digest.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options contradict each other or the file (both a label name and index, a name not in the header, an index outside the columns, fewer than 2 classes).</exception>
    /// <exception cref="DatasetNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is empty, a row has the wrong cell count, a cell does not parse, or the sklearn header disagrees with the data; the message names the line and column.</exception>
    public static TabularDataset Load(string path, CsvDatasetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new CsvDatasetOptions();
        if (options.LabelColumn is not null && options.LabelColumnIndex is not null)
        {
            throw new ArgumentException(
                $"Both LabelColumn '{options.LabelColumn}' and LabelColumnIndex {options.LabelColumnIndex} are set; choose the label column by one of them.",
                nameof(options));
        }

        if (!File.Exists(path))
        {
            throw new DatasetNotFoundException(path, $"CSV file '{path}' was not found; pass the path of an existing file.");
        }

        byte[] bytes = File.ReadAllBytes(path);
        var readerOptions = new CsvReaderOptions
        {
            HasHeader = false,
            Separator = options.Delimiter,
            TrimWhitespace = true,
            SkipEmptyLines = true,
            TrackLineNumbers = true,
            FieldCountMismatch = CsvFieldCountHandling.Allow,
        };
        using CsvReader parser = CsvReader.Create(bytes.AsMemory(), readerOptions);
        if (!parser.Read())
        {
            throw new InvalidDataException($"CSV file '{path}' is empty; expected a header line and samples.");
        }

        string[] first = Cells(parser);
        int headerLine = (int)parser.LineNumber;
        string[] columns;
        int? declaredSamples = null;
        IReadOnlyList<string>? classNames = options.ClassNames;
        List<string[]> rows = [];
        List<int> lines = [];
        switch (options.Header)
        {
            case CsvHeader.ColumnNames:
                columns = first;
                break;
            case CsvHeader.None:
                columns = [.. Enumerable.Range(0, first.Length).Select(i => $"column_{i}")];
                rows.Add(first);
                lines.Add(headerLine);
                break;
            case CsvHeader.Sklearn:
                if (first.Length < 2 || !int.TryParse(first[0], NumberStyles.None, CultureInfo.InvariantCulture, out int n) ||
                    !int.TryParse(first[1], NumberStyles.None, CultureInfo.InvariantCulture, out int f) || f < 1)
                {
                    throw new InvalidDataException(
                        $"'{path}' line {headerLine}: '{string.Join(options.Delimiter, first)}' is not an sklearn header; expected n_samples,n_features,class names… (for example 150,4,setosa,versicolor,virginica). Use CsvHeader.ColumnNames or None for other files.");
                }

                declaredSamples = n;
                columns = [.. Enumerable.Range(0, f).Select(i => $"feature_{i}"), "label"];
                if (classNames is null && first.Length > 2)
                {
                    classNames = first[2..];
                }

                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Header, "Header must be ColumnNames, None or Sklearn.");
        }

        if (columns.Length < 2)
        {
            throw new InvalidDataException($"'{path}' line {headerLine} has {columns.Length} column(s); a data set needs at least one feature column and a label column.");
        }

        int label = LabelIndex(options, columns, path);
        while (parser.Read())
        {
            rows.Add(Cells(parser));
            lines.Add((int)parser.LineNumber);
        }

        if (rows.Count == 0)
        {
            throw new InvalidDataException($"CSV file '{path}' has a header but no samples.");
        }

        if (declaredSamples is int samples && samples != rows.Count)
        {
            throw new InvalidDataException($"'{path}': the sklearn header declares {samples} samples but the file holds {rows.Count}; the file is truncated or not in sklearn's format.");
        }

        int featureCount = columns.Length - 1;
        var features = new float[checked(rows.Count * featureCount)];
        var labelCells = new string[rows.Count];
        for (int r = 0; r < rows.Count; r++)
        {
            string[] row = rows[r];
            if (row.Length != columns.Length)
            {
                throw new InvalidDataException($"'{path}' line {lines[r]} has {row.Length} cells; the header has {columns.Length} columns ({Describe(columns)}).");
            }

            int o = r * featureCount;
            for (int c = 0; c < row.Length; c++)
            {
                if (c == label)
                {
                    labelCells[r] = row[c];
                    continue;
                }

                if (!double.TryParse(row[c], NumberStyles.Float, CultureInfo.InvariantCulture, out double value) || !double.IsFinite(value) ||
                    !float.IsFinite((float)value))
                {
                    throw new InvalidDataException(
                        $"'{path}' line {lines[r]}, column {c + 1} ('{columns[c]}'): '{row[c]}' is not a finite number; feature cells must be numbers such as 5.1 or -1e-3 (missing values are not supported: impute or drop the row first).");
                }

                features[o++] = (float)value;
            }
        }

        (long[] labels, IReadOnlyList<string> names) = Labels(labelCells, lines, classNames, path, columns[label]);
        if (names.Count < 2)
        {
            throw new ArgumentException($"'{path}' column '{columns[label]}' holds {names.Count} class(es); classification needs 2 or more. Check the label column.", nameof(options));
        }

        string digest = Digest(bytes, label, options.Delimiter);
        string name = options.Name ?? Path.GetFileNameWithoutExtension(path);
        var dataset = new LabeledDataset(name, features, labels, [featureCount], names.Count, digest);
        string[] featureNames = [.. columns.Where((_, i) => i != label)];
        return new TabularDataset(dataset, featureNames, columns[label], names);
    }

    private static string[] Cells(CsvReader reader)
    {
        var cells = new string[reader.FieldCount];
        for (int i = 0; i < cells.Length; i++)
        {
            cells[i] = reader.GetString(i);
        }

        return cells;
    }

    private static int LabelIndex(CsvDatasetOptions options, string[] columns, string path)
    {
        if (options.LabelColumn is string name)
        {
            int index = Array.IndexOf(columns, name);
            if (index < 0)
            {
                throw new ArgumentException($"Label column '{name}' is not among the columns of '{path}': {Describe(columns)}.", nameof(options));
            }

            return index;
        }

        int i = options.LabelColumnIndex ?? -1;
        int resolved = i < 0 ? columns.Length + i : i;
        if (resolved < 0 || resolved >= columns.Length)
        {
            throw new ArgumentException($"Label column index {i} lies outside the {columns.Length} columns of '{path}'; use 0..{columns.Length - 1}, or -1 for the last.", nameof(options));
        }

        return resolved;
    }

    private static (long[] Labels, IReadOnlyList<string> Names) Labels(string[] cells, List<int> lines, IReadOnlyList<string>? classNames, string path, string column)
    {
        var labels = new long[cells.Length];
        bool allIntegers = cells.All(c => long.TryParse(c, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        if (classNames is not null)
        {
            var byName = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < classNames.Count; i++)
            {
                byName.TryAdd(classNames[i], i);
            }

            for (int r = 0; r < cells.Length; r++)
            {
                if (byName.TryGetValue(cells[r], out int byNameIndex))
                {
                    labels[r] = byNameIndex;
                }
                else if (long.TryParse(cells[r], NumberStyles.None, CultureInfo.InvariantCulture, out long v) && v < classNames.Count)
                {
                    labels[r] = v;
                }
                else
                {
                    throw new InvalidDataException(
                        $"'{path}' line {lines[r]}, column '{column}': label '{cells[r]}' is neither one of the {classNames.Count} class names ({string.Join(", ", classNames)}) nor an index in [0, {classNames.Count}).");
                }
            }

            return (labels, classNames);
        }

        if (allIntegers)
        {
            long max = 0;
            for (int r = 0; r < cells.Length; r++)
            {
                labels[r] = long.Parse(cells[r], NumberStyles.None, CultureInfo.InvariantCulture);
                if (labels[r] >= 1_000_000)
                {
                    throw new InvalidDataException(
                        $"'{path}' line {lines[r]}, column '{column}': label {labels[r]} is not a class index below 1,000,000; give ClassNames, or check that the label column is right.");
                }

                max = Math.Max(max, labels[r]);
            }

            return (labels, [.. Enumerable.Range(0, (int)max + 1).Select(i => i.ToString(CultureInfo.InvariantCulture))]);
        }

        for (int r = 0; r < cells.Length; r++)
        {
            if (cells[r].Length == 0)
            {
                throw new InvalidDataException($"'{path}' line {lines[r]}, column '{column}': the label is empty; every sample needs a class label.");
            }
        }

        string[] names = [.. cells.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < names.Length; i++)
        {
            index[names[i]] = i;
        }

        for (int r = 0; r < cells.Length; r++)
        {
            labels[r] = index[cells[r]];
        }

        return (labels, names);
    }

    private static string Describe(string[] columns) =>
        columns.Length <= 12 ? string.Join(", ", columns) : $"{string.Join(", ", columns[..10])}, … ({columns.Length} in all)";

    private static string Digest(byte[] bytes, int labelColumn, char delimiter)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(bytes);
        hash.AppendData(Encoding.UTF8.GetBytes($"|label={labelColumn}|delimiter={delimiter}"));
        return "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
