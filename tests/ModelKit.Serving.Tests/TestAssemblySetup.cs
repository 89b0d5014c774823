using System.Runtime.CompilerServices;

namespace ModelKit.Serving.Tests;

internal static class TestAssemblySetup
{
    /// <summary>
    /// Creates ONNX Runtime's process-wide environment through ModelKit before any test touches the official API
    /// directly (a bare <c>new InferenceSession</c> would create it with ONNX Runtime's default console logger).
    /// </summary>
#pragma warning disable CA2255 // A test assembly's initializer, not a library's.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void CreateOrtEnvironmentThroughModelKit() => ModelKit.Serving.Internal.OrtEnvironment.Get();
}
