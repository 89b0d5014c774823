// Data-parallel training of a small CNN on Fashion-MNIST with ModelKit (libtorch + c10d Gloo).
//
// Three ways to run it (the README has the details):
//   1. Local launcher (like `torchrun --standalone`):  DistributedTraining --nproc-per-node 2
//   2. torchrun:  /usr/bin/python3 -m torch.distributed.run --standalone --no_python --nproc_per_node 2 \
//                   --redirects 2 --tee 2 --log_dir DIR artifacts/bin/DistributedTraining/DistributedTraining --epochs 8
//   3. Several machines: set MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE (Kubeflow's PyTorchJob sets them) and run the binary.
using DistributedTraining;

return await SampleProgram.MainAsync(args);
