using System.Runtime.InteropServices;

namespace ModelKit.Training.Interop;

/// <summary>Bindings for <c>mk_training.cpp</c>: optimizers, the training step, checkpoints.</summary>
internal static unsafe partial class MkTraining
{
    public const int LossCrossEntropy = 0;
    public const int LossMse = 1;
    public const int LossBceWithLogits = 2;

    public const int OptimizerSgd = 0;
    public const int OptimizerAdam = 1;
    public const int OptimizerAdamW = 2;

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_create_adam")]
    internal static partial int CreateAdam(
        NetworkSafeHandle network, double learningRate, double beta1, double beta2, double epsilon, double weightDecay, out OptimizerSafeHandle optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_create_sgd")]
    internal static partial int CreateSgd(
        NetworkSafeHandle network, double learningRate, double momentum, double weightDecay, out OptimizerSafeHandle optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_create")]
    internal static partial int Create(NetworkSafeHandle network, OptimizerArgs* args, out OptimizerSafeHandle optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_set_learning_rate")]
    internal static partial int SetLearningRate(OptimizerSafeHandle optimizer, double learningRate);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_optimizer_free")]
    internal static partial int Free(nint optimizer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_network_train_step_ex")]
    internal static partial int TrainStepEx(
        NetworkSafeHandle network, OptimizerSafeHandle optimizer, nint group, StepArgs* args, float* features, long featureCount,
        long* shape, long rank, void* targets, long targetCount, out float loss);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_checkpoint_save")]
    internal static partial int CheckpointSave(NetworkSafeHandle network, nint optimizer, out NativeBufferSafeHandle buffer);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_checkpoint_load")]
    internal static partial int CheckpointLoad(NetworkSafeHandle network, nint optimizer, byte* data, long size);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_buffer_data")]
    internal static partial int BufferData(NativeBufferSafeHandle buffer, out byte* data, out long size);

    [LibraryImport(TorchLibrary.Name, EntryPoint = "mk_buffer_free")]
    internal static partial int BufferFree(nint buffer);

    /// <summary>mk_optimizer_args.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct OptimizerArgs
    {
        public int Kind;
        public double LearningRate;
        public double Momentum;
        public double Dampening;
        public int Nesterov;
        public double Beta1;
        public double Beta2;
        public double Epsilon;
        public double WeightDecay;
    }

    /// <summary>mk_step_args.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct StepArgs
    {
        public int LossKind;
        public double LabelSmoothing;
        public float* ClassWeights;
        public long ClassWeightCount;
        public double LossScale;
        public int ZeroGrad;
        public int Step;
        public double MaxGradNorm;
        public long BucketCapBytes;
        public double OutWaitSeconds;
        public double OutGradNorm;
    }
}
