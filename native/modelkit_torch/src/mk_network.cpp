// Sequential networks: creation from a layer spec, eval forward, parameter access.
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

#include "mk_kernels.h"
#include "mk_network_impl.h"
#include "mk_runtime_impl.h"

namespace mk {

namespace {

constexpr int64_t kMaxRank = 16;
constexpr int64_t kMaxSize = int64_t(1) << 31;  // any layer size or count above this is refused

const char* kind_name(int32_t kind) {
    switch (kind) {
        case MK_LAYER_LINEAR: return "Linear";
        case MK_LAYER_RELU: return "ReLU";
        case MK_LAYER_FLATTEN: return "Flatten";
        case MK_LAYER_DROPOUT: return "Dropout";
        case MK_LAYER_CONV2D: return "Conv2d";
        case MK_LAYER_MAXPOOL2D: return "MaxPool2d";
        case MK_LAYER_AVGPOOL2D: return "AvgPool2d";
        case MK_LAYER_GLOBAL_AVGPOOL2D: return "GlobalAvgPool2d";
        case MK_LAYER_BATCHNORM1D: return "BatchNorm1d";
        case MK_LAYER_BATCHNORM2D: return "BatchNorm2d";
        case MK_LAYER_LAYERNORM: return "LayerNorm";
        case MK_LAYER_EMBEDDING: return "Embedding";
        case MK_LAYER_LEAKYRELU: return "LeakyReLU";
        case MK_LAYER_GELU: return "GELU";
        case MK_LAYER_SILU: return "SiLU";
        case MK_LAYER_SIGMOID: return "Sigmoid";
        case MK_LAYER_TANH: return "Tanh";
        case MK_LAYER_SOFTMAX: return "Softmax";
        case MK_LAYER_LOGSOFTMAX: return "LogSoftmax";
        case MK_LAYER_CONV1D: return "Conv1d";
        case MK_LAYER_RESIDUAL: return "Residual";
        default: return nullptr;
    }
}

std::string layer_name(int64_t index, int32_t kind) {
    const char* name = kind_name(kind);
    return std::string(name != nullptr ? name : "layer") + " at index " + std::to_string(index);
}

bool elementwise(int32_t kind) {
    switch (kind) {
        case MK_LAYER_RELU: case MK_LAYER_DROPOUT: case MK_LAYER_LEAKYRELU: case MK_LAYER_GELU: case MK_LAYER_SILU:
        case MK_LAYER_SIGMOID: case MK_LAYER_TANH:
            return true;
        default:
            return false;
    }
}

void require_size(int64_t value, int64_t min, int64_t index, int32_t kind, const char* what) {
    MK_REQUIRE(value >= min && value <= kMaxSize, MK_E_INVALID_ARGUMENT,
            layer_name(index, kind) + " has " + what + " " + std::to_string(value) + "; it must be in [" +
                std::to_string(min) + ", " + std::to_string(kMaxSize) + "]");
}

void require_flag(int64_t value, int64_t index, int32_t kind, const char* what) {
    MK_REQUIRE(value == 0 || value == 1, MK_E_INVALID_ARGUMENT,
            layer_name(index, kind) + " has " + what + " " + std::to_string(value) + "; it must be 0 or 1");
}

void require_real(bool ok, double value, int64_t index, int32_t kind, const char* what, const char* range) {
    MK_REQUIRE(ok && std::isfinite(value), MK_E_INVALID_ARGUMENT,
            layer_name(index, kind) + " has " + what + " " + std::to_string(value) + "; it must be " + range);
}

// Checks one layer's arguments (ranges only; shapes are the caller's).
void validate_layer(int64_t i, const Layer& l) {
    const int32_t k = l.kind;
    switch (k) {
        case MK_LAYER_LINEAR:
            MK_REQUIRE(l.ints[0] >= 1 && l.ints[1] >= 1, MK_E_INVALID_ARGUMENT,
                    layer_name(i, k) + " has in_features " + std::to_string(l.ints[0]) + " and out_features " +
                        std::to_string(l.ints[1]) + "; both must be 1 or greater");
            require_size(l.ints[0], 1, i, k, "in_features");
            require_size(l.ints[1], 1, i, k, "out_features");
            require_flag(l.ints[2], i, k, "bias");
            break;
        case MK_LAYER_CONV1D:
        case MK_LAYER_CONV2D:
            require_size(l.ints[0], 1, i, k, "in_channels");
            require_size(l.ints[1], 1, i, k, "out_channels");
            require_size(l.ints[2], 1, i, k, "kernel size");
            require_size(l.ints[3], 1, i, k, "stride");
            require_size(l.ints[4], 0, i, k, "padding");
            require_size(l.ints[5], 1, i, k, "dilation");
            require_size(l.ints[6], 1, i, k, "groups");
            require_flag(l.ints[7], i, k, "bias");
            MK_REQUIRE(l.ints[0] % l.ints[6] == 0 && l.ints[1] % l.ints[6] == 0, MK_E_INVALID_ARGUMENT,
                    layer_name(i, k) + " has " + std::to_string(l.ints[6]) + " groups, which must divide in_channels " +
                        std::to_string(l.ints[0]) + " and out_channels " + std::to_string(l.ints[1]));
            break;
        case MK_LAYER_MAXPOOL2D:
        case MK_LAYER_AVGPOOL2D:
            require_size(l.ints[0], 1, i, k, "kernel size");
            require_size(l.ints[1], 1, i, k, "stride");
            require_size(l.ints[2], 0, i, k, "padding");
            MK_REQUIRE(2 * l.ints[2] <= l.ints[0], MK_E_INVALID_ARGUMENT,
                    layer_name(i, k) + " has padding " + std::to_string(l.ints[2]) + "; it must be at most half the kernel size " +
                        std::to_string(l.ints[0]));
            break;
        case MK_LAYER_BATCHNORM1D:
        case MK_LAYER_BATCHNORM2D:
            require_size(l.ints[0], 1, i, k, "num_features");
            require_real(l.reals[0] > 0.0, l.reals[0], i, k, "eps", "greater than 0");
            require_real(l.reals[1] >= 0.0 && l.reals[1] <= 1.0, l.reals[1], i, k, "momentum", "in [0, 1]");
            break;
        case MK_LAYER_LAYERNORM:
            require_size(l.ints[0], 1, i, k, "normalized size");
            require_real(l.reals[0] > 0.0, l.reals[0], i, k, "eps", "greater than 0");
            break;
        case MK_LAYER_EMBEDDING:
            require_size(l.ints[0], 1, i, k, "num_embeddings");
            require_size(l.ints[1], 1, i, k, "embedding_dim");
            break;
        case MK_LAYER_DROPOUT:
            MK_REQUIRE(std::isfinite(l.reals[0]) && l.reals[0] >= 0.0 && l.reals[0] < 1.0, MK_E_INVALID_ARGUMENT,
                    layer_name(i, k) + " has probability " + std::to_string(l.reals[0]) + "; it must be in [0, 1)");
            break;
        case MK_LAYER_LEAKYRELU:
            require_real(l.reals[0] >= 0.0, l.reals[0], i, k, "negative_slope", "0 or greater");
            break;
        case MK_LAYER_SOFTMAX:
        case MK_LAYER_LOGSOFTMAX:
            MK_REQUIRE(l.ints[0] >= -kMaxRank && l.ints[0] < kMaxRank, MK_E_INVALID_ARGUMENT,
                    layer_name(i, k) + " has dim " + std::to_string(l.ints[0]) + "; it must be in [-16, 16)");
            break;
        case MK_LAYER_RESIDUAL:
            require_size(l.ints[0], 1, i, k, "body_count");
            require_flag(l.ints[1], i, k, "projection");
            break;
        default:
            MK_REQUIRE(kind_name(k) != nullptr, MK_E_INVALID_ARGUMENT,
                    "layer at index " + std::to_string(i) + " has unknown kind " + std::to_string(k) +
                        "; expected one of the MK_LAYER_* values 1 to 21");
            break;
    }
}

void make_module(Layer& l) {
    const int64_t* a = l.ints;
    switch (l.kind) {
        case MK_LAYER_LINEAR:
            l.module = l.linear = torch::nn::Linear(torch::nn::LinearOptions(a[0], a[1]).bias(a[2] != 0)).ptr();
            break;
        case MK_LAYER_CONV2D:
            l.module = l.conv2d = torch::nn::Conv2d(torch::nn::Conv2dOptions(a[0], a[1], a[2]).stride(a[3]).padding(a[4]).dilation(a[5]).groups(a[6]).bias(a[7] != 0)).ptr();
            break;
        case MK_LAYER_CONV1D:
            l.module = l.conv1d = torch::nn::Conv1d(torch::nn::Conv1dOptions(a[0], a[1], a[2]).stride(a[3]).padding(a[4]).dilation(a[5]).groups(a[6]).bias(a[7] != 0)).ptr();
            break;
        case MK_LAYER_BATCHNORM1D:
            l.module = l.batchnorm1d = torch::nn::BatchNorm1d(torch::nn::BatchNorm1dOptions(a[0]).eps(l.reals[0]).momentum(l.reals[1])).ptr();
            break;
        case MK_LAYER_BATCHNORM2D:
            l.module = l.batchnorm2d = torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(a[0]).eps(l.reals[0]).momentum(l.reals[1])).ptr();
            break;
        case MK_LAYER_LAYERNORM:
            l.module = l.layernorm = torch::nn::LayerNorm(torch::nn::LayerNormOptions({a[0]}).eps(l.reals[0])).ptr();
            break;
        case MK_LAYER_EMBEDDING:
            l.module = l.embedding = torch::nn::Embedding(torch::nn::EmbeddingOptions(a[0], a[1])).ptr();
            break;
        default:
            l.module = torch::nn::Identity().ptr();
            break;
    }
}

mk_network* checked(mk_network* network) {
    require_not_null(network, "network");
    return network;
}

int64_t checked_index(int64_t index, size_t size, const char* what) {
    const auto count = static_cast<int64_t>(size);
    MK_REQUIRE(index >= 0 && index < count, MK_E_OUT_OF_RANGE,
            std::string(what) + " index " + std::to_string(index) + " is outside [0, " + std::to_string(count) + ")");
    return index;
}

// The named tensors of a network that mk_network_{parameter,buffer}_{info,read} expose: its parameters or its float buffers.
struct NamedTensors {
    const std::vector<at::Tensor>& tensors;
    const std::vector<std::string>& names;
    const char* what;  // "parameter" or "buffer"
};

NamedTensors parameters_of(mk_network* network) { return {network->parameters, network->parameter_names, "parameter"}; }
NamedTensors buffers_of(mk_network* network) { return {network->buffers, network->buffer_names, "buffer"}; }

// Writes the shape, rank, element count and name of tensor `index`.
void describe(const NamedTensors& set, int64_t index, const char** out_name, int64_t* out_shape, int64_t shape_capacity,
              int64_t* out_rank, int64_t* out_numel) {
    const auto i = static_cast<size_t>(checked_index(index, set.tensors.size(), set.what));
    require_not_null(out_name, "out_name");
    require_not_null(out_shape, "out_shape");
    require_not_null(out_rank, "out_rank");
    require_not_null(out_numel, "out_numel");
    const at::Tensor& t = set.tensors[i];
    const int64_t dims = t.dim();
    MK_REQUIRE(dims <= shape_capacity, MK_E_BUFFER_TOO_SMALL,
            "'" + set.names[i] + "' has rank " + std::to_string(dims) + " but out_shape holds " + std::to_string(shape_capacity) + " entries");
    for (int64_t d = 0; d < dims; ++d) {
        out_shape[d] = t.size(d);
    }
    *out_rank = dims;
    *out_numel = t.numel();
    *out_name = set.names[i].c_str();
}

// Copies tensor `index` (float32, row-major) into `destination`, which holds `capacity` floats.
void copy_out(const NamedTensors& set, int64_t index, float* destination, int64_t capacity) {
    const auto i = static_cast<size_t>(checked_index(index, set.tensors.size(), set.what));
    const at::Tensor value = set.tensors[i].detach().contiguous();
    const int64_t numel = value.numel();
    MK_REQUIRE(numel <= capacity, MK_E_BUFFER_TOO_SMALL,
            "'" + set.names[i] + "' has " + std::to_string(numel) + " elements but the destination holds " + std::to_string(capacity));
    require_not_null(destination, "destination");
    std::memcpy(destination, value.data_ptr<float>(), static_cast<size_t>(numel) * sizeof(float));
}

}  // namespace

int64_t checked_numel(const int64_t* shape, int64_t rank, const char* what) {
    int64_t product = 1;
    for (int64_t i = 0; i < rank; ++i) {
        MK_REQUIRE(shape[i] >= 0, MK_E_INVALID_ARGUMENT,
                std::string(what) + " shape " + format_shape(shape, rank) + " has a negative dimension at index " + std::to_string(i));
        MK_REQUIRE(!__builtin_mul_overflow(product, shape[i], &product), MK_E_INVALID_ARGUMENT,
                std::string(what) + " shape " + format_shape(shape, rank) +
                    " has more elements than a 64-bit count can hold; check the dimensions");
    }
    return product;
}

at::Tensor wrap_features(const float* features, int64_t feature_count, const int64_t* shape, int64_t rank) {
    MK_REQUIRE(rank >= 1 && rank <= kMaxRank, MK_E_INVALID_ARGUMENT,
            "the feature shape must have 1 to " + std::to_string(kMaxRank) + " dimensions, got rank " +
                std::to_string(rank));
    require_not_null(shape, "shape");
    const int64_t product = checked_numel(shape, rank, "feature");
    MK_REQUIRE(shape[0] >= 1, MK_E_INVALID_ARGUMENT,
            "feature shape " + format_shape(shape, rank) + " has no samples: dimension 0 (the batch) must be 1 or greater");
    MK_REQUIRE(feature_count == product, MK_E_INVALID_ARGUMENT,
            "the feature buffer holds " + std::to_string(feature_count) + " floats but shape " +
                format_shape(shape, rank) + " needs " + std::to_string(product));
    require_not_null(features, "features");
    return torch::from_blob(const_cast<float*>(features), at::IntArrayRef(shape, static_cast<size_t>(rank)),
                            at::TensorOptions().dtype(at::kFloat));
}

}  // namespace mk

at::Tensor mk_network::forward(const at::Tensor& input, bool training) { return run(input, 0, layers.size(), training); }

at::Tensor mk_network::run(const at::Tensor& input, size_t begin, size_t end, bool training) {
    at::Tensor x = input;
    for (size_t i = begin; i < end; ++i) {
        mk::Layer& layer = layers[i];
        if (layer.kind == MK_LAYER_RESIDUAL) {
            const size_t body_end = i + 1 + static_cast<size_t>(layer.ints[0]);
            at::Tensor body = run(x, i + 1, body_end, training);
            at::Tensor shortcut = layer.ints[1] != 0 ? run_layer(body_end, x, training) : x;
            x = body + shortcut;
            i = body_end + (layer.ints[1] != 0 ? 1 : 0) - 1;
            continue;
        }
        if (layer.kind == MK_LAYER_LINEAR && i + 1 < end && layers[i + 1].kind == MK_LAYER_RELU) {
            // Linear -> ReLU (-> Dropout) as one autograd node (mk_kernels.h); a Dropout outside training, or with p = 0,
            // is the identity and is consumed too.
            const bool dropout_follows = i + 2 < end && layers[i + 2].kind == MK_LAYER_DROPOUT;
            const double p = dropout_follows && training ? layers[i + 2].reals[0] : 0.0;
            x = mk::linear_relu_dropout(x, layer.linear->weight, layer.linear->bias, p, dropout_generator);
            i += dropout_follows ? 2 : 1;
            continue;
        }
        x = run_layer(i, x, training);
    }
    return x;
}

at::Tensor mk_network::run_layer(size_t index, const at::Tensor& x, bool training) {
    mk::Layer& layer = layers[index];
    const int64_t* a = layer.ints;
    switch (layer.kind) {
        case MK_LAYER_LINEAR:
            return mk::linear(x, layer.linear->weight, layer.linear->bias);
        case MK_LAYER_CONV2D:
            return layer.conv2d->forward(x);
        case MK_LAYER_CONV1D:
            return layer.conv1d->forward(x);
        case MK_LAYER_BATCHNORM1D:
            return layer.batchnorm1d->forward(x);
        case MK_LAYER_BATCHNORM2D:
            return layer.batchnorm2d->forward(x);
        case MK_LAYER_LAYERNORM:
            return layer.layernorm->forward(x);
        case MK_LAYER_EMBEDDING:
            return layer.embedding->forward(x.to(at::kLong));
        case MK_LAYER_RELU:
            return mk::relu(x);
        case MK_LAYER_FLATTEN:
            return x.flatten(1);
        case MK_LAYER_MAXPOOL2D:
            return at::max_pool2d(x, {a[0], a[0]}, {a[1], a[1]}, {a[2], a[2]});
        case MK_LAYER_AVGPOOL2D:
            return at::avg_pool2d(x, {a[0], a[0]}, {a[1], a[1]}, {a[2], a[2]});
        case MK_LAYER_GLOBAL_AVGPOOL2D:
            return at::adaptive_avg_pool2d(x, {1, 1});
        case MK_LAYER_LEAKYRELU:
            return at::leaky_relu(x, layer.reals[0]);
        case MK_LAYER_GELU:
            return at::gelu(x);
        case MK_LAYER_SILU:
            return at::silu(x);
        case MK_LAYER_SIGMOID:
            return at::sigmoid(x);
        case MK_LAYER_TANH:
            return at::tanh(x);
        case MK_LAYER_SOFTMAX:
            return at::softmax(x, a[0]);
        case MK_LAYER_LOGSOFTMAX:
            return at::log_softmax(x, a[0]);
        case MK_LAYER_DROPOUT:
            if (training && layer.reals[0] > 0.0) {
                // Inverted dropout as torch.nn.functional.dropout computes it, with the mask drawn from the network's own
                // generator (one draw per call; see mk_kernels.h) so that training is reproducible per network.
                return mk::dropout(x, layer.reals[0], dropout_generator);
            }
            return x;
        default:
            throw mk::ShimError(MK_E_UNKNOWN, "corrupt network: unknown layer kind " + std::to_string(layer.kind));
    }
}

extern "C" {

MK_API int mk_network_create(const int32_t* kinds, const int64_t* int_args, const double* real_args,
                             int64_t layer_count, uint64_t seed, mk_network** out_network) {
    MK_GUARD(
        mk::require_not_null(out_network, "out_network");
        MK_REQUIRE(layer_count >= 1 && layer_count <= 100000, MK_E_INVALID_ARGUMENT,
                    "a network needs 1 to 100000 layers, got layer_count " + std::to_string(layer_count));
        mk::require_not_null(kinds, "kinds");
        mk::require_not_null(int_args, "int_args");
        mk::require_not_null(real_args, "real_args");

        // Check the whole spec before touching libtorch.
        std::vector<mk::Layer> layers(static_cast<size_t>(layer_count));
        int64_t previous_out = -1;
        int64_t previous_linear = -1;
        int64_t residual_end = -1;  // first index after the open residual block
        for (int64_t i = 0; i < layer_count; ++i) {
            mk::Layer& layer = layers[static_cast<size_t>(i)];
            layer.kind = kinds[i];
            for (int k = 0; k < MK_LAYER_INT_ARGS; ++k) layer.ints[k] = int_args[MK_LAYER_INT_ARGS * i + k];
            for (int k = 0; k < MK_LAYER_REAL_ARGS; ++k) layer.reals[k] = real_args[MK_LAYER_REAL_ARGS * i + k];
            mk::validate_layer(i, layer);
            if (layer.kind == MK_LAYER_RESIDUAL) {
                MK_REQUIRE(i >= residual_end, MK_E_INVALID_ARGUMENT,
                            mk::layer_name(i, layer.kind) + " lies inside the residual block that starts earlier; blocks do not nest");
                const int64_t span = layer.ints[0] + layer.ints[1];
                MK_REQUIRE(span <= layer_count - i - 1, MK_E_INVALID_ARGUMENT,
                            mk::layer_name(i, layer.kind) + " needs " + std::to_string(span) + " following layers but only " +
                                std::to_string(layer_count - i - 1) + " follow");
                residual_end = i + 1 + span;
                previous_out = -1;
            }
            if (layer.kind == MK_LAYER_LINEAR) {
                const int64_t in = layer.ints[0];
                MK_REQUIRE(previous_out < 0 || previous_out == in, MK_E_INVALID_ARGUMENT,
                            mk::layer_name(i, layer.kind) + " expects " + std::to_string(in) + " input features but Linear at index " +
                                std::to_string(previous_linear) + " produces " + std::to_string(previous_out));
                previous_out = layer.ints[1];
                previous_linear = i;
            } else if (!mk::elementwise(layer.kind)) {
                previous_out = -1;
            }
        }

        auto network = std::make_unique<mk_network>();
        network->dropout_generator = at::detail::createCPUGenerator(seed);
        {
            // PyTorch's default initialisation draws from the default generator: seed it and build under
            // the process-wide seed lock so that the same seed gives the same parameters.
            std::lock_guard<std::mutex> lock(mk::seed_mutex());
            at::manual_seed(seed);
            for (size_t i = 0; i < layers.size(); ++i) {
                mk::make_module(layers[i]);
                network->sequential->register_module(std::to_string(i), layers[i].module);
            }
        }
        network->layers = std::move(layers);
        for (const auto& item : network->sequential->named_parameters(/*recurse=*/true)) {
            network->parameter_names.push_back(item.key());
            network->parameters.push_back(item.value());
        }
        for (const auto& item : network->sequential->named_buffers(/*recurse=*/true)) {
            if (item.value().scalar_type() == at::kFloat) {
                network->buffer_names.push_back(item.key());
                network->buffers.push_back(item.value());
            }
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
        MK_REQUIRE(out_dims <= shape_capacity, MK_E_BUFFER_TOO_SMALL,
                    "the output has rank " + std::to_string(out_dims) + " but out_shape holds " + std::to_string(shape_capacity) + " entries");
        MK_REQUIRE(numel <= capacity, MK_E_BUFFER_TOO_SMALL,
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
        mk::describe(mk::parameters_of(mk::checked(network)), index, out_name, out_shape, shape_capacity, out_rank, out_numel);
        return MK_OK;)
}

MK_API int mk_network_parameter_read(mk_network* network, int64_t index, float* destination, int64_t capacity) {
    MK_GUARD(
        mk::copy_out(mk::parameters_of(mk::checked(network)), index, destination, capacity);
        return MK_OK;)
}

MK_API int mk_network_set_dropout_seed(mk_network* network, uint64_t seed) {
    MK_GUARD(
        mk::checked(network);
        network->dropout_generator.set_current_seed(seed);
        return MK_OK;)
}

MK_API int mk_network_buffer_count(mk_network* network, int64_t* out_count) {
    MK_GUARD(
        mk::checked(network);
        mk::require_not_null(out_count, "out_count");
        *out_count = static_cast<int64_t>(network->buffers.size());
        return MK_OK;)
}

MK_API int mk_network_buffer_info(mk_network* network, int64_t index, const char** out_name, int64_t* out_shape,
                                  int64_t shape_capacity, int64_t* out_rank, int64_t* out_numel) {
    MK_GUARD(
        mk::describe(mk::buffers_of(mk::checked(network)), index, out_name, out_shape, shape_capacity, out_rank, out_numel);
        return MK_OK;)
}

MK_API int mk_network_buffer_read(mk_network* network, int64_t index, float* destination, int64_t capacity) {
    MK_GUARD(
        mk::copy_out(mk::buffers_of(mk::checked(network)), index, destination, capacity);
        return MK_OK;)
}

MK_API int mk_network_parameter_write(mk_network* network, int64_t index, const float* source, int64_t count) {
    MK_GUARD(
        mk::checked(network);
        mk::checked_index(index, network->parameters.size(), "parameter");
        at::Tensor& parameter = network->parameters[static_cast<size_t>(index)];
        MK_REQUIRE(count == parameter.numel(), MK_E_INVALID_ARGUMENT,
                    "parameter '" + network->parameter_names[static_cast<size_t>(index)] + "' has shape " +
                        mk::format_shape(parameter.sizes().data(), parameter.dim()) + " (" + std::to_string(parameter.numel()) +
                        " elements) but " + std::to_string(count) + " values were given");
        mk::require_not_null(source, "source");
        torch::NoGradGuard no_grad;
        parameter.copy_(torch::from_blob(const_cast<float*>(source), parameter.sizes(), at::TensorOptions().dtype(at::kFloat)));
        return MK_OK;)
}

}  // extern "C"
