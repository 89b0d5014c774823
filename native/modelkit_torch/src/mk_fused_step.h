// A training step without autograd for the networks most of our users start with: Sequential stacks of Linear, ReLU,
// Dropout and Flatten trained with mean cross-entropy (no label smoothing, no class weights), single process.
//
// Why: for a small MLP the autograd step costs more than its GEMMs. Every step builds a graph (one node, saved tensors and
// a fresh output tensor per operation), allocates every activation and gradient anew, and runs the backward through the
// autograd engine's queue. This step runs the same ATen kernels in the same order (addmm / mm, clamp_min, bernoulli_ and
// mul, _log_softmax, nll_loss, their backward kernels) into buffers kept across steps, and writes the gradients straight
// into the parameters' .grad tensors, so the optimizer, clipping and checkpoints see exactly what autograd would give.
// Anything else (other layers or losses, a process group, an input shape that does not fit) takes the autograd path.
#pragma once

#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "modelkit_torch.h"

struct mk_network;

namespace mk {

// Buffers of the fused step, kept by the network across steps (grown when a larger batch arrives).
struct FusedStep {
    int64_t capacity = 0;                 // rows the buffers hold
    std::vector<at::Tensor> outputs;      // per layer: its output (Linear, ReLU, Dropout), undefined for Flatten
    std::vector<at::Tensor> masks;        // per Dropout layer: the scaled keep mask
    std::vector<at::Tensor> gradients;    // per layer: the gradient with respect to its input, when needed
    at::Tensor log_probabilities, loss, total_weight, loss_gradient, logits_gradient, grad_output;
};

// True when the network is a stack of Linear, ReLU, Dropout and Flatten layers only (decided once per network).
bool fused_step_supported(const mk_network& network);

// True when `input`'s shape fits the fused path: every Linear gets a 2-D input of its in_features and the network ends in
// 2-D logits. Otherwise the caller takes the autograd path, which reports the shape errors.
bool fused_step_fits(const mk_network& network, const at::Tensor& input);

// Runs forward and backward for `input` (contiguous float32, [N, ...], fused_step_fits true) against `labels` (N int64
// values already checked to lie in [0, classes)) and leaves the gradients of the mean cross-entropy times `loss_scale` in
// the parameters' .grad (overwritten when `zero_grad`, added otherwise). Writes the unscaled loss.
void fused_forward_backward(mk_network& network, const at::Tensor& input, const int64_t* labels, double loss_scale,
                            bool zero_grad, float* out_loss);

// The number of output classes of a fused-step network (the last Linear's out_features).
int64_t fused_step_classes(const mk_network& network);

}  // namespace mk
