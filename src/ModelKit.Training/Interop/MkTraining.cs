using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Binds native/modelkit_torch/src/mk_training.cpp.</summary>
internal static unsafe partial class MkTraining
{
    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_create_adam")]
    internal static partial int CreateAdam(
        NetworkSafeHandle network, double learningRate, double beta1, double beta2, double epsilon, double weightDecay, out OptimizerSafeHandle optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_create_sgd")]
    internal static partial int CreateSgd(
        NetworkSafeHandle network, double learningRate, double momentum, double weightDecay, out OptimizerSafeHandle optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_set_learning_rate")]
    internal static partial int SetLearningRate(OptimizerSafeHandle optimizer, double learningRate);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_free")]
    internal static partial int Free(nint optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_train_step")]
    internal static partial int TrainStep(
        NetworkSafeHandle network, OptimizerSafeHandle optimizer, float* features, long featureCount, long* shape, long rank,
        long* labels, long labelCount, out float loss);
}
