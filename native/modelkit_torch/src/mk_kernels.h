// The training step's own kernels where libtorch 1.13 (as Debian builds it) leaves most of the time on the table for the
// networks ModelKit trains on CPU: Linear through oneDNN's GEMM on libtorch's OpenMP team, a dropout mask drawn in parallel
// from a counter-based generator, one-pass element-wise passes (compiled for AVX2 and for baseline x86-64, chosen at load)
// and cross-entropy as one node. Measured on the quick start's MLP (batch 256, 2 threads, 2-core EPYC): one Adam step
// within ~1.3x of its five GEMMs alone (benchmarks/README.md, "The MLP against its GEMM lower bound").
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

namespace mk {

// y = x W^T + b (torch::nn::functional::linear). x: float32 [..., in_features]; weight: float32 [out_features, in_features];
// bias: float32 [out_features] or undefined. Returns float32 [..., out_features]. Differentiable with respect to all three
// (a custom autograd function whose backward runs the two GEMMs dX = dY W and dW = dY^T X, and db = sum of dY over rows).
// The GEMMs run in oneDNN's dnnl_sgemm (libdnnl, which libtorch itself links) on libtorch's OpenMP team with
// at::get_num_threads() threads, so that one thread pool serves the whole step. Other element types, devices or empty
// inputs take at::linear. Throws mk::ShimError (MK_E_TORCH) when oneDNN reports a failure.
at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// max(x, 0) (torch::relu; NaN propagates). Float32 CPU tensors take a custom autograd function that saves the output and
// computes the backward as the gradient where the output is positive, in one parallel pass each way; others take at::relu.
at::Tensor relu(const at::Tensor& x);

// Inverted dropout (torch::nn::functional::dropout in training mode): each element of x is kept with probability
// 1 - p and scaled by 1 / (1 - p), or set to 0. p must be in (0, 1). Differentiable (x times a constant mask).
// The mask comes from one 64-bit draw of `generator` per call (so the generator's state, which checkpoints save, fixes
// every mask) expanded by SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
// 2014) over the element index: element i is kept when the 32-bit half i % 2 of SplitMix64(seed + (i / 2 + 1) * golden
// gamma) is below round((1 - p) * 2^32). Counter-based, so it is drawn in parallel and the same for any thread count
// (float32 tensors: one pass forward that also keeps the decisions as bytes, one pass backward).
at::Tensor dropout(const at::Tensor& x, double p, at::Generator& generator);

// relu(linear(x, weight, bias)) followed, when p > 0, by dropout(., p, generator), as one autograd node (one GEMM and one
// parallel pass forward; one pass and two GEMMs backward). The same values as the three calls up to the rounding of the bias
// addition (added after the GEMM instead of before it), and the same dropout decisions (one draw of `generator` when
// p > 0, the same counter-based mask). x: float32 [N, in]; other ranks, types or devices take the three calls.
// Throws mk::ShimError (MK_E_INVALID_ARGUMENT) when p is outside [0, 1).
at::Tensor linear_relu_dropout(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double p,
                               at::Generator& generator);

// Cross-entropy with mean reduction (torch::nn::functional::cross_entropy with reduction "mean", no class weights, no
// ignored index): loss = mean over rows i of -(1 - e) log p[i, y_i] - (e / C) sum over c of log p[i, c], where
// p = softmax(logits) over the classes and e = label_smoothing (the label-smoothing form of Szegedy et al., "Rethinking the
// Inception Architecture for Computer Vision", 2016, as PyTorch defines it). logits: float32 [N, C] (N >= 1, C >= 1);
// labels: int64 [N], each in [0, C) (the caller validates them; they are not checked here). Returns a float32 scalar,
// differentiable with respect to the logits: one autograd node whose backward is (p - (1 - e) onehot(y) - e / C) * g / N.
// The row sums are accumulated in double and added in row order, so the value does not depend on the thread count.
// Other element types or devices take at::cross_entropy_loss.
at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels, double label_smoothing);

}  // namespace mk
