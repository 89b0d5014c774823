// Sequential networks: creation from a layer spec, eval forward, parameter access.
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

#include "mk_network_impl.h"
#include "mk_runtime_impl.h"

namespace mk {

namespace {

constexpr int64_t kMaxRank = 16;

std::string layer_name(int64_t index, int32_t kind) {
    const char* name = kind == MK_LAYER_LINEAR    ? "Linear"
                       : kind == MK_LAYER_RELU    ? "ReLU"
                       : kind == MK_LAYER_FLATTEN ? "Flatten"
                       : kind == MK_LAYER_DROPOUT ? "Dropout"
                                                  : "layer";
    return std::string(name) + " at index " + std::to_string(index);
}

mk_network* checked(mk_network* network) {
    require_not_null(network, "network");
    return network;
}

int64_t checked_index(const mk_network* network, int64_t index) {
    const auto count = static_cast<int64_t>(network->parameters.size());
    require(index >= 0 && index < count, MK_E_OUT_OF_RANGE,
            "parameter index " + std::to_string(index) + " is outside [0, " + std::to_string(count) + ")");
    return index;
}

}  // namespace

at::Tensor wrap_features(const float* features, int64_t feature_count, const int64_t* shape, int64_t rank) {
    require(rank >= 1 && rank <= kMaxRank, MK_E_INVALID_ARGUMENT,
            "the feature shape must have 1 to " + std::to_string(kMaxRank) + " dimensions, got rank " +
                std::to_string(rank));
    require_not_null(shape, "shape");
    int64_t product = 1;
    for (int64_t i = 0; i < rank; ++i) {
        require(shape[i] >= 0, MK_E_INVALID_ARGUMENT,
                "feature shape " + format_shape(shape, rank) + " has a negative dimension at index " +
                    std::to_string(i));
        product *= shape[i];
    }
    require(shape[0] >= 1, MK_E_INVALID_ARGUMENT,
            "feature shape " + format_shape(shape, rank) + " has no samples: dimension 0 (the batch) must be 1 or greater");
    require(feature_count == product, MK_E_INVALID_ARGUMENT,
            "the feature buffer holds " + std::to_string(feature_count) + " floats but shape " +
                format_shape(shape, rank) + " needs " + std::to_string(product));
    require_not_null(features, "features");
    return torch::from_blob(const_cast<float*>(features), at::IntArrayRef(shape, static_cast<size_t>(rank)),
                            at::TensorOptions().dtype(at::kFloat));
}

}  // namespace mk

at::Tensor mk_network::forward(const at::Tensor& input, bool training) {
    at::Tensor x = input;
    for (mk::Layer& layer : layers) {
        switch (layer.kind) {
            case MK_LAYER_LINEAR:
                x = layer.linear->forward(x);
                break;
            case MK_LAYER_RELU:
                x = at::relu(x);
                break;
            case MK_LAYER_FLATTEN:
                x = x.flatten(1);
                break;
            case MK_LAYER_DROPOUT:
                if (training && layer.dropout_p > 0.0) {
                    // Same semantics as torch.nn.functional.dropout (inverted dropout), with the network's
                    // own generator so that training is reproducible per network.
                    at::Tensor keep = at::empty_like(x).bernoulli_(1.0 - layer.dropout_p, dropout_generator);
                    x = x * keep * (1.0 / (1.0 - layer.dropout_p));
                }
                break;
            default:
                throw mk::ShimError(MK_E_UNKNOWN, "corrupt network: unknown layer kind " + std::to_string(layer.kind));
        }
    }
    return x;
}

extern "C" {

MK_API int mk_network_create(const int32_t* kinds, const int64_t* int_args, const double* real_args,
                             int64_t layer_count, uint64_t seed, mk_network** out_network) {
    MK_GUARD(
        mk::require_not_null(out_network, "out_network");
        mk::require(layer_count >= 1, MK_E_INVALID_ARGUMENT,
                    "a network needs at least one layer, got layer_count " + std::to_string(layer_count));
        mk::require_not_null(kinds, "kinds");
        mk::require_not_null(int_args, "int_args");
        mk::require_not_null(real_args, "real_args");

        // Check the whole spec before touching libtorch.
        int64_t previous_out = -1;
        int64_t previous_linear = -1;
        for (int64_t i = 0; i < layer_count; ++i) {
            const int32_t kind = kinds[i];
            if (kind == MK_LAYER_LINEAR) {
                const int64_t in = int_args[2 * i];
                const int64_t out = int_args[2 * i + 1];
                mk::require(in >= 1 && out >= 1, MK_E_INVALID_ARGUMENT,
                            mk::layer_name(i, kind) + " has in_features " + std::to_string(in) + " and out_features " +
                                std::to_string(out) + "; both must be 1 or greater");
                mk::require(previous_out < 0 || previous_out == in, MK_E_INVALID_ARGUMENT,
                            mk::layer_name(i, kind) + " expects " + std::to_string(in) + " input features but Linear at index " +
                                std::to_string(previous_linear) + " produces " + std::to_string(previous_out));
                previous_out = out;
                previous_linear = i;
            } else if (kind == MK_LAYER_DROPOUT) {
                const double p = real_args[i];
                mk::require(std::isfinite(p) && p >= 0.0 && p < 1.0, MK_E_INVALID_ARGUMENT,
                            mk::layer_name(i, kind) + " has probability " + std::to_string(p) + "; it must be in [0, 1)");
            } else {
                mk::require(kind == MK_LAYER_RELU || kind == MK_LAYER_FLATTEN, MK_E_INVALID_ARGUMENT,
                            "layer at index " + std::to_string(i) + " has unknown kind " + std::to_string(kind) +
                                "; expected MK_LAYER_LINEAR (1), MK_LAYER_RELU (2), MK_LAYER_FLATTEN (3) or MK_LAYER_DROPOUT (4)");
            }
        }

        auto network = std::make_unique<mk_network>(mk_network{
            torch::nn::Sequential(), {}, at::detail::createCPUGenerator(seed), {}, {}});
        {
            // PyTorch's default initialisation draws from the default generator: seed it and build under
            // the process-wide seed lock so that the same seed gives the same parameters.
            std::lock_guard<std::mutex> lock(mk::seed_mutex());
            at::manual_seed(seed);
            for (int64_t i = 0; i < layer_count; ++i) {
                mk::Layer layer;
                layer.kind = kinds[i];
                switch (layer.kind) {
                    case MK_LAYER_LINEAR:
                        layer.linear = torch::nn::Linear(torch::nn::LinearOptions(int_args[2 * i], int_args[2 * i + 1]));
                        network->sequential->push_back(layer.linear);
                        break;
                    case MK_LAYER_RELU:
                        network->sequential->push_back(torch::nn::ReLU());
                        break;
                    case MK_LAYER_FLATTEN:
                        network->sequential->push_back(torch::nn::Flatten());
                        break;
                    default:
                        layer.dropout_p = real_args[i];
                        network->sequential->push_back(torch::nn::Dropout(torch::nn::DropoutOptions(layer.dropout_p)));
                        break;
                }
                network->layers.push_back(std::move(layer));
            }
        }
        for (const auto& item : network->sequential->named_parameters(/*recurse=*/true)) {
            network->parameter_names.push_back(item.key());
            network->parameters.push_back(item.value());
        }
        *out_network = network.release();
        return MK_OK;)
}

MK_API int mk_network_free(mk_network* network) {
    MK_GUARD(
        delete network;
        return MK_OK;)
}

MK_API int mk_network_forward(mk_network* network, const float* features, int64_t feature_count,
                              const int64_t* shape, int64_t rank, float* out_values, int64_t capacity,
                              int64_t* out_shape, int64_t shape_capacity, int64_t* out_rank) {
    MK_GUARD(
        mk::checked(network);
        mk::require_not_null(out_shape, "out_shape");
        mk::require_not_null(out_rank, "out_rank");
        at::Tensor input = mk::wrap_features(features, feature_count, shape, rank);
        mk::apply_num_threads();
        torch::NoGradGuard no_grad;
        network->sequential->eval();
        at::Tensor output = network->forward(input, /*training=*/false).contiguous();
        const int64_t numel = output.numel();
        const int64_t out_dims = output.dim();
        mk::require(out_dims <= shape_capacity, MK_E_BUFFER_TOO_SMALL,
                    "the output has rank " + std::to_string(out_dims) + " but out_shape holds " + std::to_string(shape_capacity) + " entries");
        mk::require(numel <= capacity, MK_E_BUFFER_TOO_SMALL,
                    "the output has shape " + mk::format_shape(output.sizes().data(), out_dims) + " (" + std::to_string(numel) +
                        " floats) but the output buffer holds " + std::to_string(capacity));
        if (numel > 0) {
            mk::require_not_null(out_values, "out_values");
            std::memcpy(out_values, output.data_ptr<float>(), static_cast<size_t>(numel) * sizeof(float));
        }
        for (int64_t i = 0; i < out_dims; ++i) {
            out_shape[i] = output.size(i);
        }
        *out_rank = out_dims;
        return MK_OK;)
}

MK_API int mk_network_parameter_count(mk_network* network, int64_t* out_count) {
    MK_GUARD(
        mk::checked(network);
        mk::require_not_null(out_count, "out_count");
        *out_count = static_cast<int64_t>(network->parameters.size());
        return MK_OK;)
}

MK_API int mk_network_parameter_info(mk_network* network, int64_t index, const char** out_name,
                                     int64_t* out_shape, int64_t shape_capacity, int64_t* out_rank,
                                     int64_t* out_numel) {
    MK_GUARD(
        mk::checked(network);
        mk::checked_index(network, index);
        mk::require_not_null(out_name, "out_name");
        mk::require_not_null(out_shape, "out_shape");
        mk::require_not_null(out_rank, "out_rank");
        mk::require_not_null(out_numel, "out_numel");
        const at::Tensor& parameter = network->parameters[static_cast<size_t>(index)];
        const int64_t dims = parameter.dim();
        mk::require(dims <= shape_capacity, MK_E_BUFFER_TOO_SMALL,
                    "parameter '" + network->parameter_names[static_cast<size_t>(index)] + "' has rank " + std::to_string(dims) +
                        " but out_shape holds " + std::to_string(shape_capacity) + " entries");
        for (int64_t i = 0; i < dims; ++i) {
            out_shape[i] = parameter.size(i);
        }
        *out_rank = dims;
        *out_numel = parameter.numel();
        *out_name = network->parameter_names[static_cast<size_t>(index)].c_str();
        return MK_OK;)
}

MK_API int mk_network_parameter_read(mk_network* network, int64_t index, float* destination, int64_t capacity) {
    MK_GUARD(
        mk::checked(network);
        mk::checked_index(network, index);
        const at::Tensor parameter = network->parameters[static_cast<size_t>(index)].detach().contiguous();
        const int64_t numel = parameter.numel();
        mk::require(numel <= capacity, MK_E_BUFFER_TOO_SMALL,
                    "parameter '" + network->parameter_names[static_cast<size_t>(index)] + "' has " + std::to_string(numel) +
                        " elements but the destination holds " + std::to_string(capacity));
        mk::require_not_null(destination, "destination");
        std::memcpy(destination, parameter.data_ptr<float>(), static_cast<size_t>(numel) * sizeof(float));
        return MK_OK;)
}

MK_API int mk_network_parameter_write(mk_network* network, int64_t index, const float* source, int64_t count) {
    MK_GUARD(
        mk::checked(network);
        mk::checked_index(network, index);
        at::Tensor& parameter = network->parameters[static_cast<size_t>(index)];
        mk::require(count == parameter.numel(), MK_E_INVALID_ARGUMENT,
                    "parameter '" + network->parameter_names[static_cast<size_t>(index)] + "' has shape " +
                        mk::format_shape(parameter.sizes().data(), parameter.dim()) + " (" + std::to_string(parameter.numel()) +
                        " elements) but " + std::to_string(count) + " values were given");
        mk::require_not_null(source, "source");
        torch::NoGradGuard no_grad;
        parameter.copy_(torch::from_blob(const_cast<float*>(source), parameter.sizes(), at::TensorOptions().dtype(at::kFloat)));
        return MK_OK;)
}

}  // extern "C"
