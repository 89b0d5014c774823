// Adam and AdamW with a one-pass CPU update. libtorch 1.13's torch::optim::Adam/AdamW update each parameter with about
// ten separate tensor operations (two of them allocating temporaries); for a small network that costs as much as the
// GEMMs of a step (measured for the quick start's MLP: about 2 ms of a 3.8 ms step at batch 128, independent of the batch).
// PyTorch 2.1+ has a fused CPU Adam for this; 1.13 has none (its _fused_adam_ is CUDA only). These classes keep libtorch's
// optimizer object: options, parameter groups, per-parameter state (AdamParamState / AdamWParamState under the same keys)
// and its save/load, so checkpoints and learning-rate updates work unchanged; only step() differs, and only for dense,
// contiguous float32 CPU parameters without amsgrad (anything else takes libtorch's own step).
#pragma once

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>

namespace mk {

class FusedAdam : public torch::optim::Adam {
public:
    using torch::optim::Adam::Adam;
    torch::Tensor step(LossClosure closure = nullptr) override;
};

class FusedAdamW : public torch::optim::AdamW {
public:
    using torch::optim::AdamW::AdamW;
    torch::Tensor step(LossClosure closure = nullptr) override;
};

}  // namespace mk
