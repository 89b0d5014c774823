using System.CommandLine;
using QuickStart;
using Spectre.Console;

if (Console.IsOutputRedirected)
{
    // Logs and CI: no colour codes, and no wrapping at the 80 columns Spectre assumes without a terminal.
    AnsiConsole.Profile.Capabilities.Ansi = false;
    AnsiConsole.Profile.Width = 200;
}

var dataDirectory = new Option<string>("--data-dir")
{
    Description = "ModelKit data directory (registry database and artifact store).",
    DefaultValueFactory = _ => "./modelkit-data",
};
var datasetDirectory = new Option<string>("--dataset-dir")
{
    Description = "Directory holding the Fashion-MNIST IDX files.",
    DefaultValueFactory = _ => ModelKit.Training.Data.FashionMnist.DefaultDirectory,
};
var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 8 };
var batchSize = new Option<int>("--batch-size") { Description = "Training batch size.", DefaultValueFactory = _ => 128 };
var learningRate = new Option<double>("--learning-rate") { Description = "Adam learning rate.", DefaultValueFactory = _ => 1e-3 };
var seed = new Option<long>("--seed") { Description = "Seed for initialization and shuffling.", DefaultValueFactory = _ => 42 };
var minAccuracy = new Option<double>("--min-accuracy")
{
    Description = "Fail when the ONNX Runtime test accuracy is below this.",
    DefaultValueFactory = _ => 0.85,
};

var root = new RootCommand("ModelKit quick start: train an MLP on Fashion-MNIST with libtorch, export ONNX, register it, serve it with ONNX Runtime and evaluate it.")
{
    dataDirectory, datasetDirectory, epochs, batchSize, learningRate, seed, minAccuracy,
};
root.SetAction((parse, cancellationToken) => QuickStartJob.RunAsync(
    new QuickStartSettings(
        parse.GetValue(dataDirectory)!,
        parse.GetValue(datasetDirectory)!,
        parse.GetValue(epochs),
        parse.GetValue(batchSize),
        parse.GetValue(learningRate),
        parse.GetValue(seed),
        parse.GetValue(minAccuracy)),
    cancellationToken));
return await root.Parse(args).InvokeAsync();
