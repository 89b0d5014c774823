// The network handle's layout, shared by mk_network.cpp and mk_training.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "mk_error.h"

namespace mk {

struct Layer {
    int32_t kind = 0;
    torch::nn::Linear linear{nullptr};  // set for MK_LAYER_LINEAR
    double dropout_p = 0.0;             // set for MK_LAYER_DROPOUT
};

// Wraps caller memory (not copied, not owned) as a float32 tensor after checking that `feature_count`
// equals the product of the shape.
at::Tensor wrap_features(const float* features, int64_t feature_count, const int64_t* shape, int64_t rank);

}  // namespace mk

struct mk_network {
    torch::nn::Sequential sequential;
    std::vector<mk::Layer> layers;
    at::Generator dropout_generator;
    std::vector<std::string> parameter_names;
    std::vector<at::Tensor> parameters;

    // Runs the layers in order. In training mode dropout draws its masks from dropout_generator.
    at::Tensor forward(const at::Tensor& input, bool training);
};
