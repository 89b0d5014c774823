// The fuzz tests change the process's working directory (to put a canary file where ONNX Runtime would resolve a
// relative external data path for a model given as bytes), so they must not run in parallel with each other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
