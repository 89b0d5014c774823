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
        Collect(options, "OnnxRuntimeOptions", ref failures);
        return failures is null ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Adds a message per invalid value of <paramref name="options"/>, prefixed with <paramref name="path"/>.</summary>
    internal static void Collect(OnnxRuntimeOptions options, string path, ref List<string>? failures)
    {
        if (options.IntraOpThreadCount is < 0 or > 1024)
        {
            Add(ref failures, Format($"{path}.IntraOpThreadCount is {options.IntraOpThreadCount}; it must be between 0 and 1024 (0 lets ONNX Runtime choose)."));
        }

        if (options.InterOpThreadCount is < 0 or > 1024)
        {
            Add(ref failures, Format($"{path}.InterOpThreadCount is {options.InterOpThreadCount}; it must be between 0 and 1024 (0 lets ONNX Runtime choose)."));
        }

        if (!Enum.IsDefined(options.GraphOptimizationLevel))
        {
            Add(ref failures, Format($"{path}.GraphOptimizationLevel is {(int)options.GraphOptimizationLevel}, which is not a GraphOptimizationLevel; use Disabled, Basic, Extended or All."));
        }

        if (!Enum.IsDefined(options.ExecutionProvider))
        {
            Add(ref failures, Format($"{path}.ExecutionProvider is {(int)options.ExecutionProvider}, which is not an ExecutionProvider; use Cpu or Cuda."));
        }

        if (!Enum.IsDefined(options.CudaArenaExtendStrategy))
        {
            Add(ref failures, Format($"{path}.CudaArenaExtendStrategy is {(int)options.CudaArenaExtendStrategy}; use NextPowerOfTwo or SameAsRequested."));
        }

        if (!Enum.IsDefined(options.CudnnConvolutionAlgorithmSearch))
        {
            Add(ref failures, Format($"{path}.CudnnConvolutionAlgorithmSearch is {(int)options.CudnnConvolutionAlgorithmSearch}; use Exhaustive, Heuristic or Default."));
        }

        if (options.CudaDeviceId < 0)
        {
            Add(ref failures, Format($"{path}.CudaDeviceId is {options.CudaDeviceId}; it must be 0 or greater (0 is the first GPU)."));
        }

        if (options.CudaMemoryLimitBytes < 0)
        {
            Add(ref failures, Format($"{path}.CudaMemoryLimitBytes is {options.CudaMemoryLimitBytes}; it must be 0 (no limit) or a positive number of bytes."));
        }

        if (options.ExecutionProvider == ExecutionProvider.Cpu && options.CudaDeviceId != 0)
        {
            Add(ref failures, Format($"{path}.CudaDeviceId is {options.CudaDeviceId} but ExecutionProvider is Cpu, so the device would be ignored; set ExecutionProvider = Cuda or leave CudaDeviceId at 0."));
        }

        if (options.ExecutionProvider == ExecutionProvider.Cpu && options.CudaMemoryLimitBytes != 0)
        {
            Add(ref failures, Format($"{path}.CudaMemoryLimitBytes is {options.CudaMemoryLimitBytes} but ExecutionProvider is Cpu, so the limit would be ignored; set ExecutionProvider = Cuda or leave CudaMemoryLimitBytes at 0."));
        }
    }

    private static string Format(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static void Add(ref List<string>? failures, string failure) => (failures ??= []).Add(failure);
}
