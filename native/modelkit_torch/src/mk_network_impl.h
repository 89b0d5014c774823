// The network and optimizer handles' layouts, shared by mk_network.cpp, mk_training.cpp and mk_distributed.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/optim/optimizer.h>

#include "mk_error.h"

namespace mk {

struct Layer {
    int32_t kind = 0;
    int64_t ints[MK_LAYER_INT_ARGS] = {};
    double reals[MK_LAYER_REAL_ARGS] = {};
    std::shared_ptr<torch::nn::Module> module;  // the libtorch module registered under the layer's index
    // The typed module, for the kinds that have parameters (one is set).
    std::shared_ptr<torch::nn::LinearImpl> linear;
    std::shared_ptr<torch::nn::Conv1dImpl> conv1d;
    std::shared_ptr<torch::nn::Conv2dImpl> conv2d;
    std::shared_ptr<torch::nn::BatchNorm1dImpl> batchnorm1d;
    std::shared_ptr<torch::nn::BatchNorm2dImpl> batchnorm2d;
    std::shared_ptr<torch::nn::LayerNormImpl> layernorm;
    std::shared_ptr<torch::nn::EmbeddingImpl> embedding;
};

// Wraps caller memory (not copied, not owned) as a float32 tensor after checking that `feature_count`
// equals the product of the shape (computed with overflow checks).
at::Tensor wrap_features(const float* features, int64_t feature_count, const int64_t* shape, int64_t rank);

// Multiplies the dimensions with overflow checks; throws MK_E_INVALID_ARGUMENT naming `what` on overflow.
int64_t checked_numel(const int64_t* shape, int64_t rank, const char* what);

// The distributed gradient reducer attached to a network (defined in mk_distributed.cpp).
struct Reducer;

}  // namespace mk

struct mk_network {
    std::shared_ptr<torch::nn::Module> sequential = std::make_shared<torch::nn::Module>("Sequential");
    std::vector<mk::Layer> layers;
    at::Generator dropout_generator;
    std::vector<std::string> parameter_names;
    std::vector<at::Tensor> parameters;
    std::vector<std::string> buffer_names;
    std::vector<at::Tensor> buffers;  // float32 buffers only
    std::shared_ptr<mk::Reducer> reducer;

    // Runs the layers in order. In training mode dropout draws its masks from dropout_generator.
    at::Tensor forward(const at::Tensor& input, bool training);

private:
    at::Tensor run(const at::Tensor& input, size_t begin, size_t end, bool training);
    at::Tensor run_layer(size_t index, const at::Tensor& x, bool training);
};

struct mk_optimizer {
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    const mk_network* network = nullptr;  // identity only: the optimizer holds its own references to the parameters
    int32_t kind = 0;
};
