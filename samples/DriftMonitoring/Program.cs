using System.CommandLine;
using DriftMonitoring;

var shift = new Option<string>("--shift")
{
    Description = "Traffic shift: none, brightness (+0.1 to every pixel), noise (Gaussian, sigma 0.1) or prior (classes 0-2 make 60% of the traffic).",
    DefaultValueFactory = _ => "none",
};
shift.AcceptOnlyFromAmong("none", "brightness", "noise", "prior");
var requests = new Option<int>("--requests") { Description = "Requests to send (test images, repeated when more than 10,000).", DefaultValueFactory = _ => 10_000 };
var shiftStart = new Option<int>("--shift-start") { Description = "Request number at which the shift starts.", DefaultValueFactory = _ => 0 };
var window = new Option<int>("--window") { Description = "Rows per monitoring window.", DefaultValueFactory = _ => 100 };
var retrain = new Option<bool>("--retrain") { Description = "On the first alert, collect a labelled window, retrain, and move the alias when the new version is better." };
var dataDirectory = new Option<string>("--data-dir") { Description = "ModelKit data directory (the quick start's by default).", DefaultValueFactory = _ => "./modelkit-data" };
var datasetDirectory = new Option<string>("--dataset-dir") { Description = "Directory holding the Fashion-MNIST IDX files.", DefaultValueFactory = _ => ModelKit.Training.Data.FashionMnist.DefaultDirectory };
var alertmanager = new Option<string?>("--alertmanager") { Description = "Base URL of a Prometheus Alertmanager to send alerts to, for example http://127.0.0.1:9093/." };
var seed = new Option<int>("--seed") { Description = "Seed of the traffic order and the noise.", DefaultValueFactory = _ => 7 };

var root = new RootCommand("ModelKit drift monitoring: serve the quick start's Fashion-MNIST model, stream test images as traffic (optionally shifted), and watch drift, accuracy and alerts.")
{
    shift, requests, shiftStart, window, retrain, dataDirectory, datasetDirectory, alertmanager, seed,
};
root.SetAction((parse, cancellationToken) => DriftMonitoringJob.RunAsync(
    new DriftSettings(
        parse.GetValue(shift)!,
        parse.GetValue(requests),
        parse.GetValue(shiftStart),
        parse.GetValue(window),
        parse.GetValue(retrain),
        parse.GetValue(dataDirectory)!,
        parse.GetValue(datasetDirectory)!,
        parse.GetValue(alertmanager),
        parse.GetValue(seed)),
    cancellationToken));
return await root.Parse(args).InvokeAsync();
