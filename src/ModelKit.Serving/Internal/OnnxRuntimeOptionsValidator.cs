using System.Globalization;
using Microsoft.Extensions.Options;

namespace ModelKit.Serving.Internal;

/// <summary>Validates <see cref="OnnxRuntimeOptions"/>, quoting the offending values. Does no I/O.</summary>
internal sealed class OnnxRuntimeOptionsValidator : IValidateOptions<OnnxRuntimeOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxRuntimeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string>? failures = null;

        if (options.LibraryPath is { } path && string.IsNullOrWhiteSpace(path))
        {
            Add(ref failures, $"OnnxRuntimeOptions.LibraryPath is '{path}'; set it to the full path of libonnxruntime.so.1, or leave it null to use the copy next to the application.");
        }

        if (options.IntraOpThreadCount is < 0 or > 1024)
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.IntraOpThreadCount is {options.IntraOpThreadCount}; it must be between 0 and 1024 (0 lets ONNX Runtime choose)."));
        }

        if (options.InterOpThreadCount is < 0 or > 1024)
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.InterOpThreadCount is {options.InterOpThreadCount}; it must be between 0 and 1024 (0 lets ONNX Runtime choose)."));
        }

        if (!Enum.IsDefined(options.GraphOptimizationLevel))
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.GraphOptimizationLevel is {(int)options.GraphOptimizationLevel}, which is not a GraphOptimizationLevel; use Disabled, Basic, Extended or All."));
        }

        if (!Enum.IsDefined(options.ExecutionProvider))
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.ExecutionProvider is {(int)options.ExecutionProvider}, which is not an ExecutionProvider; use Cpu or Cuda."));
        }

        if (options.CudaDeviceId < 0)
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.CudaDeviceId is {options.CudaDeviceId}; it must be 0 or greater (0 is the first GPU)."));
        }

        if (options.CudaMemoryLimitBytes < 0)
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.CudaMemoryLimitBytes is {options.CudaMemoryLimitBytes}; it must be 0 (no limit) or a positive number of bytes."));
        }

        if (options.ExecutionProvider == ExecutionProvider.Cpu && options.CudaDeviceId != 0)
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.CudaDeviceId is {options.CudaDeviceId} but ExecutionProvider is Cpu, so the device would be ignored; set ExecutionProvider = Cuda or leave CudaDeviceId at 0."));
        }

        if (options.ExecutionProvider == ExecutionProvider.Cpu && options.CudaMemoryLimitBytes != 0)
        {
            Add(ref failures, Format($"OnnxRuntimeOptions.CudaMemoryLimitBytes is {options.CudaMemoryLimitBytes} but ExecutionProvider is Cpu, so the limit would be ignored; set ExecutionProvider = Cuda or leave CudaMemoryLimitBytes at 0."));
        }

        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Add(ref List<string>? failures, string failure) => (failures ??= []).Add(failure);
}
