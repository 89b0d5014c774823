using System.CommandLine;
using TrainAndRegister;

var dataDirectory = new Option<string>("--data-dir")
{
    Description = "ModelKit data directory: the registry database and artifact store that `modelkit serve` and the modelkit-api app read.",
    DefaultValueFactory = _ => "./modelkit-data",
};
var datasetDirectory = new Option<string>("--dataset-dir")
{
    Description = "Directory holding the Fashion-MNIST IDX files (Debian package dataset-fashion-mnist).",
    DefaultValueFactory = _ => ModelKit.Training.Data.FashionMnist.DefaultDirectory,
};
var modelName = new Option<string>("--model") { Description = "Registered model name.", DefaultValueFactory = _ => "fashion-mnist" };
var alias = new Option<string>("--alias") { Description = "Alias moved to the new version.", DefaultValueFactory = _ => "production" };
var epochs = new Option<int>("--epochs") { Description = "Training epochs over the training split.", DefaultValueFactory = _ => 5 };
var quick = new Option<bool>("--quick")
{
    Description = $"One short epoch over the first {TrainJob.QuickTrainingImages:N0} training images (a smoke run: the model is registered, but is less accurate).",
};
var seed = new Option<long>("--seed") { Description = "Seed for initialization and shuffling.", DefaultValueFactory = _ => 42 };

var root = new RootCommand("Trains an MLP on Fashion-MNIST with libtorch, exports it to ONNX, registers it as the next version of a model and moves an alias to it.")
{
    dataDirectory, datasetDirectory, modelName, alias, epochs, quick, seed,
};
root.SetAction((parse, cancellationToken) => TrainJob.RunAsync(
    new TrainSettings(
        parse.GetValue(dataDirectory)!,
        parse.GetValue(datasetDirectory)!,
        parse.GetValue(modelName)!,
        parse.GetValue(alias)!,
        parse.GetValue(quick) ? 1 : parse.GetValue(epochs),
        parse.GetValue(quick),
        parse.GetValue(seed)),
    Console.Out,
    cancellationToken));
return await root.Parse(args).InvokeAsync();
