// Optimizers and the training step.
#include <cmath>
#include <memory>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/sgd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

#include "mk_network_impl.h"
#include "mk_runtime_impl.h"

struct mk_optimizer {
    std::unique_ptr<torch::optim::Optimizer> optimizer;
    const mk_network* network = nullptr;  // identity only: the optimizer holds its own references to the parameters
};

namespace {

void require_learning_rate(double learning_rate) {
    mk::require(std::isfinite(learning_rate) && learning_rate > 0.0, MK_E_INVALID_ARGUMENT,
                "the learning rate must be a finite number greater than 0, got " + std::to_string(learning_rate));
}

void require_non_negative(double value, const char* what) {
    mk::require(std::isfinite(value) && value >= 0.0, MK_E_INVALID_ARGUMENT,
                std::string(what) + " must be a finite number >= 0, got " + std::to_string(value));
}

}  // namespace

extern "C" {

MK_API int mk_optimizer_create_adam(mk_network* network, double learning_rate, double beta1, double beta2,
                                    double epsilon, double weight_decay, mk_optimizer** out_optimizer) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(out_optimizer, "out_optimizer");
        require_learning_rate(learning_rate);
        mk::require(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0, MK_E_INVALID_ARGUMENT,
                    "Adam betas must be in [0, 1), got (" + std::to_string(beta1) + ", " + std::to_string(beta2) + ")");
        require_non_negative(epsilon, "Adam epsilon");
        require_non_negative(weight_decay, "weight decay");
        auto options = torch::optim::AdamOptions(learning_rate)
                           .betas(std::make_tuple(beta1, beta2))
                           .eps(epsilon)
                           .weight_decay(weight_decay);
        auto optimizer = std::make_unique<mk_optimizer>();
        optimizer->optimizer = std::make_unique<torch::optim::Adam>(network->parameters, options);
        optimizer->network = network;
        *out_optimizer = optimizer.release();
        return MK_OK;)
}

MK_API int mk_optimizer_create_sgd(mk_network* network, double learning_rate, double momentum,
                                   double weight_decay, mk_optimizer** out_optimizer) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(out_optimizer, "out_optimizer");
        require_learning_rate(learning_rate);
        require_non_negative(momentum, "SGD momentum");
        require_non_negative(weight_decay, "weight decay");
        auto options = torch::optim::SGDOptions(learning_rate).momentum(momentum).weight_decay(weight_decay);
        auto optimizer = std::make_unique<mk_optimizer>();
        optimizer->optimizer = std::make_unique<torch::optim::SGD>(network->parameters, options);
        optimizer->network = network;
        *out_optimizer = optimizer.release();
        return MK_OK;)
}

MK_API int mk_optimizer_set_learning_rate(mk_optimizer* optimizer, double learning_rate) {
    MK_GUARD(
        mk::require_not_null(optimizer, "optimizer");
        require_learning_rate(learning_rate);
        for (auto& group : optimizer->optimizer->param_groups()) {
            group.options().set_lr(learning_rate);
        }
        return MK_OK;)
}

MK_API int mk_optimizer_free(mk_optimizer* optimizer) {
    MK_GUARD(
        delete optimizer;
        return MK_OK;)
}

MK_API int mk_network_train_step(mk_network* network, mk_optimizer* optimizer, const float* features,
                                 int64_t feature_count, const int64_t* shape, int64_t rank,
                                 const int64_t* labels, int64_t label_count, float* out_loss) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(optimizer, "optimizer");
        mk::require_not_null(out_loss, "out_loss");
        mk::require(optimizer->network == network, MK_E_INVALID_ARGUMENT,
                    "the optimizer was created over a different network; create one with this network's handle");
        at::Tensor input = mk::wrap_features(features, feature_count, shape, rank);
        const int64_t batch = shape[0];
        mk::require(label_count == batch, MK_E_INVALID_ARGUMENT,
                    "the batch has " + std::to_string(batch) + " samples (feature shape " + mk::format_shape(shape, rank) +
                        ") but " + std::to_string(label_count) + " labels were given; pass one int64 label per sample");
        mk::require_not_null(labels, "labels");

        mk::apply_num_threads();
        network->sequential->train();
        optimizer->optimizer->zero_grad();
        at::Tensor logits = network->forward(input, /*training=*/true);
        mk::require(logits.dim() == 2, MK_E_INVALID_ARGUMENT,
                    "cross-entropy needs logits of shape [N, classes] but the network produced " +
                        mk::format_shape(logits.sizes().data(), logits.dim()) + "; end the network with a Linear layer");
        const int64_t classes = logits.size(1);
        for (int64_t i = 0; i < label_count; ++i) {
            mk::require(labels[i] >= 0 && labels[i] < classes, MK_E_INVALID_ARGUMENT,
                        "label " + std::to_string(labels[i]) + " at position " + std::to_string(i) + " is outside [0, " +
                            std::to_string(classes) + "): the network has " + std::to_string(classes) + " output classes");
        }
        at::Tensor targets = torch::from_blob(const_cast<int64_t*>(labels), {label_count}, at::TensorOptions().dtype(at::kLong));
        at::Tensor loss = at::cross_entropy_loss(logits, targets);
        loss.backward();
        optimizer->optimizer->step();
        *out_loss = loss.item<float>();
        return MK_OK;)
}

}  // extern "C"
