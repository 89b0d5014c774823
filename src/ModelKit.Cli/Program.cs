using ModelKit.Cli;

return await ModelKitCommand.InvokeAsync(args, Console.Out, Console.Error, CancellationToken.None);
