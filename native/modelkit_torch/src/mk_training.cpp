// Optimizers and the training step.
#include <cmath>
#include <memory>
#include <string>

#include <ATen/Parallel.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <ATen/ops/binary_cross_entropy_with_logits.h>
#include <ATen/ops/mse_loss.h>
#include <torch/optim/sgd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

#include "mk_fused_adam.h"
#include "mk_kernels.h"
#include "mk_network_impl.h"
#include "mk_distributed_impl.h"
#include "mk_runtime_impl.h"

struct mk_buffer {
    std::string data;
};

namespace {

void require_learning_rate(double learning_rate) {
    MK_REQUIRE(std::isfinite(learning_rate) && learning_rate > 0.0, MK_E_INVALID_ARGUMENT,
                "the learning rate must be a finite number greater than 0, got " + std::to_string(learning_rate));
}

void require_non_negative(double value, const char* what) {
    MK_REQUIRE(std::isfinite(value) && value >= 0.0, MK_E_INVALID_ARGUMENT,
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
        MK_REQUIRE(beta1 >= 0.0 && beta1 < 1.0 && beta2 >= 0.0 && beta2 < 1.0, MK_E_INVALID_ARGUMENT,
                    "Adam betas must be in [0, 1), got (" + std::to_string(beta1) + ", " + std::to_string(beta2) + ")");
        require_non_negative(epsilon, "Adam epsilon");
        require_non_negative(weight_decay, "weight decay");
        auto options = torch::optim::AdamOptions(learning_rate)
                           .betas(std::make_tuple(beta1, beta2))
                           .eps(epsilon)
                           .weight_decay(weight_decay);
        auto optimizer = std::make_unique<mk_optimizer>();
        optimizer->optimizer = std::make_unique<mk::FusedAdam>(network->parameters, options);
        optimizer->network = network;
        optimizer->kind = MK_OPTIMIZER_ADAM;
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
        optimizer->kind = MK_OPTIMIZER_SGD;
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

MK_API int mk_optimizer_create(mk_network* network, const mk_optimizer_args* args, mk_optimizer** out_optimizer) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(args, "args");
        mk::require_not_null(out_optimizer, "out_optimizer");
        require_learning_rate(args->learning_rate);
        require_non_negative(args->weight_decay, "weight decay");
        auto optimizer = std::make_unique<mk_optimizer>();
        if (args->kind == MK_OPTIMIZER_SGD) {
            require_non_negative(args->momentum, "SGD momentum");
            require_non_negative(args->dampening, "SGD dampening");
            MK_REQUIRE(args->nesterov == 0 || (args->nesterov == 1 && args->momentum > 0.0 && args->dampening == 0.0),
                        MK_E_INVALID_ARGUMENT, "Nesterov momentum needs momentum > 0 and dampening 0, got momentum " +
                            std::to_string(args->momentum) + " and dampening " + std::to_string(args->dampening));
            auto options = torch::optim::SGDOptions(args->learning_rate).momentum(args->momentum).dampening(args->dampening)
                               .nesterov(args->nesterov == 1).weight_decay(args->weight_decay);
            optimizer->optimizer = std::make_unique<torch::optim::SGD>(network->parameters, options);
        } else if (args->kind == MK_OPTIMIZER_ADAM || args->kind == MK_OPTIMIZER_ADAMW) {
            MK_REQUIRE(args->beta1 >= 0.0 && args->beta1 < 1.0 && args->beta2 >= 0.0 && args->beta2 < 1.0, MK_E_INVALID_ARGUMENT,
                        "Adam betas must be in [0, 1), got (" + std::to_string(args->beta1) + ", " + std::to_string(args->beta2) + ")");
            require_non_negative(args->epsilon, "Adam epsilon");
            if (args->kind == MK_OPTIMIZER_ADAM) {
                auto options = torch::optim::AdamOptions(args->learning_rate).betas(std::make_tuple(args->beta1, args->beta2))
                                   .eps(args->epsilon).weight_decay(args->weight_decay);
                optimizer->optimizer = std::make_unique<mk::FusedAdam>(network->parameters, options);
            } else {
                auto options = torch::optim::AdamWOptions(args->learning_rate).betas(std::make_tuple(args->beta1, args->beta2))
                                   .eps(args->epsilon).weight_decay(args->weight_decay);
                optimizer->optimizer = std::make_unique<mk::FusedAdamW>(network->parameters, options);
            }
        } else {
            throw mk::ShimError(MK_E_INVALID_ARGUMENT, "unknown optimizer kind " + std::to_string(args->kind) +
                                                           "; expected MK_OPTIMIZER_SGD (0), MK_OPTIMIZER_ADAM (1) or MK_OPTIMIZER_ADAMW (2)");
        }
        optimizer->network = network;
        optimizer->kind = args->kind;
        *out_optimizer = optimizer.release();
        return MK_OK;)
}

namespace {

at::Tensor compute_loss(const mk_step_args& args, const at::Tensor& output, const void* targets, int64_t target_count) {
    mk::require_not_null(targets, "targets");
    if (args.loss_kind == MK_LOSS_CROSS_ENTROPY) {
        MK_REQUIRE(output.dim() == 2, MK_E_INVALID_ARGUMENT,
                    "cross-entropy needs logits of shape [N, classes] but the network produced " +
                        mk::format_shape(output.sizes().data(), output.dim()) + "; end the network with a Linear layer");
        const int64_t batch = output.size(0);
        const int64_t classes = output.size(1);
        MK_REQUIRE(target_count == batch, MK_E_INVALID_ARGUMENT,
                    "the batch has " + std::to_string(batch) + " samples but " + std::to_string(target_count) +
                        " labels were given; pass one int64 label per sample");
        const auto* labels = static_cast<const int64_t*>(targets);
        for (int64_t i = 0; i < target_count; ++i) {
            MK_REQUIRE(labels[i] >= 0 && labels[i] < classes, MK_E_INVALID_ARGUMENT,
                        "label " + std::to_string(labels[i]) + " at position " + std::to_string(i) + " is outside [0, " +
                            std::to_string(classes) + "): the network has " + std::to_string(classes) + " output classes");
        }
        MK_REQUIRE(std::isfinite(args.label_smoothing) && args.label_smoothing >= 0.0 && args.label_smoothing < 1.0,
                    MK_E_INVALID_ARGUMENT, "label smoothing must be in [0, 1), got " + std::to_string(args.label_smoothing));
        at::Tensor weight;
        if (args.class_weights != nullptr) {
            MK_REQUIRE(args.class_weight_count == classes, MK_E_INVALID_ARGUMENT,
                        std::to_string(args.class_weight_count) + " class weights were given but the network has " +
                            std::to_string(classes) + " output classes");
            weight = torch::from_blob(const_cast<float*>(args.class_weights), {classes}, at::TensorOptions().dtype(at::kFloat));
        }
        at::Tensor t = torch::from_blob(const_cast<int64_t*>(labels), {target_count}, at::TensorOptions().dtype(at::kLong));
        if (!weight.defined()) {
            return mk::cross_entropy(output, t, args.label_smoothing);  // one autograd node (mk_kernels.h)
        }
        return at::cross_entropy_loss(output, t, weight, at::Reduction::Mean, -100, args.label_smoothing);
    }
    MK_REQUIRE(args.loss_kind == MK_LOSS_MSE || args.loss_kind == MK_LOSS_BCE_WITH_LOGITS, MK_E_INVALID_ARGUMENT,
                "unknown loss kind " + std::to_string(args.loss_kind) + "; expected MK_LOSS_CROSS_ENTROPY (0), MK_LOSS_MSE (1) or MK_LOSS_BCE_WITH_LOGITS (2)");
    MK_REQUIRE(target_count == output.numel(), MK_E_INVALID_ARGUMENT,
                "the network output has shape " + mk::format_shape(output.sizes().data(), output.dim()) + " (" +
                    std::to_string(output.numel()) + " values) but " + std::to_string(target_count) + " float32 targets were given");
    at::Tensor t = torch::from_blob(const_cast<void*>(targets), output.sizes(), at::TensorOptions().dtype(at::kFloat));
    return args.loss_kind == MK_LOSS_MSE ? at::mse_loss(output, t) : at::binary_cross_entropy_with_logits(output, t);
}

}  // namespace

MK_API int mk_network_train_step_ex(mk_network* network, mk_optimizer* optimizer, mk_process_group* group,
                                    mk_step_args* args, const float* features, int64_t feature_count,
                                    const int64_t* shape, int64_t rank, const void* targets, int64_t target_count,
                                    float* out_loss) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(optimizer, "optimizer");
        mk::require_not_null(args, "args");
        mk::require_not_null(out_loss, "out_loss");
        MK_REQUIRE(optimizer->network == network, MK_E_INVALID_ARGUMENT,
                    "the optimizer was created over a different network; create one with this network's handle");
        MK_REQUIRE(std::isfinite(args->loss_scale) && args->loss_scale > 0.0, MK_E_INVALID_ARGUMENT,
                    "loss_scale must be a finite number greater than 0, got " + std::to_string(args->loss_scale));
        MK_REQUIRE(std::isfinite(args->max_grad_norm) && args->max_grad_norm >= 0.0, MK_E_INVALID_ARGUMENT,
                    "max_grad_norm must be a finite number >= 0, got " + std::to_string(args->max_grad_norm));
        MK_REQUIRE(group == nullptr || args->bucket_cap_bytes >= 1024, MK_E_INVALID_ARGUMENT,
                    "bucket_cap_bytes must be 1024 or greater, got " + std::to_string(args->bucket_cap_bytes));
        at::Tensor input = mk::wrap_features(features, feature_count, shape, rank);
        args->out_wait_seconds = 0.0;
        args->out_grad_norm = 0.0;

        mk::apply_num_threads();
        network->sequential->train();
        if (args->zero_grad != 0) {
            // Gradients set to none (PyTorch's zero_grad(set_to_none=True), its default since 2.0), not filled with zeros:
            // the backward pass then hands each parameter its freshly computed gradient instead of adding it onto a zeroed
            // one (one memset and one read-add-write pass over every gradient saved per step). Optimizers skip a parameter
            // whose gradient stays undefined, as PyTorch's do; every layer here gives all its parameters a gradient.
            for (auto& group : optimizer->optimizer->param_groups()) {
                for (auto& p : group.params()) {
                    p.mutable_grad() = at::Tensor();
                }
            }
        }
        if (group != nullptr) {
            mk::broadcast_buffers(group, network);
        }
        const bool reduce = group != nullptr && args->step != 0;
        if (reduce) {
            mk::reducer_prepare(group, network, args->bucket_cap_bytes);
        }
        try {
            at::Tensor output = network->forward(input, /*training=*/true);
            at::Tensor loss = compute_loss(*args, output, targets, target_count);
            (args->loss_scale == 1.0 ? loss : loss * args->loss_scale).backward();
            *out_loss = loss.item<float>();
        } catch (...) {
            if (reduce) {
                mk::reducer_abort(network);
            }
            throw;
        }
        if (args->step != 0) {
            if (reduce) {
                args->out_wait_seconds = mk::reducer_finish(group, network);
            }
            if (args->max_grad_norm > 0.0) {
                args->out_grad_norm = torch::nn::utils::clip_grad_norm_(network->parameters, args->max_grad_norm);
            }
            optimizer->optimizer->step();
        }
        return MK_OK;)
}

MK_API int mk_checkpoint_save(mk_network* network, mk_optimizer* optimizer, mk_buffer** out_buffer) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(out_buffer, "out_buffer");
        MK_REQUIRE(optimizer == nullptr || optimizer->network == network, MK_E_INVALID_ARGUMENT,
                    "the optimizer was created over a different network");
        torch::serialize::OutputArchive archive;
        // Flat "<index>.<name>" keys (Module::save would nest one archive per layer).
        for (const auto& item : network->sequential->named_parameters(true)) archive.write(item.key(), item.value(), false);
        for (const auto& item : network->sequential->named_buffers(true)) archive.write(item.key(), item.value(), true);
        archive.write("modelkit.dropout_rng", network->dropout_generator.get_state());
        if (optimizer != nullptr) {
            torch::serialize::OutputArchive optimizer_archive;
            optimizer->optimizer->save(optimizer_archive);
            archive.write("modelkit.optimizer", optimizer_archive);
        }
        auto buffer = std::make_unique<mk_buffer>();
        archive.save_to([&buffer](const void* data, size_t size) -> size_t {
            buffer->data.append(static_cast<const char*>(data), size);
            return size;
        });
        *out_buffer = buffer.release();
        return MK_OK;)
}

MK_API int mk_checkpoint_load(mk_network* network, mk_optimizer* optimizer, const uint8_t* data, int64_t size) {
    MK_GUARD(
        mk::require_not_null(network, "network");
        mk::require_not_null(data, "data");
        MK_REQUIRE(size > 0, MK_E_INVALID_ARGUMENT, "the checkpoint is empty");
        MK_REQUIRE(optimizer == nullptr || optimizer->network == network, MK_E_INVALID_ARGUMENT,
                    "the optimizer was created over a different network");
        torch::serialize::InputArchive archive;
        archive.load_from(reinterpret_cast<const char*>(data), static_cast<size_t>(size));
        // Check every tensor's shape first: InputArchive::read would silently resize a mismatched tensor.
        std::vector<std::pair<std::string, at::Tensor>> loaded;
        auto check = [&](const std::string& name, const at::Tensor& target, bool is_buffer) {
            at::Tensor value;
            MK_REQUIRE(archive.try_read(name, value, is_buffer), MK_E_INVALID_ARGUMENT,
                        "the checkpoint has no tensor '" + name + "'; it was written for another model spec");
            MK_REQUIRE(value.sizes() == target.sizes() && value.scalar_type() == target.scalar_type(), MK_E_INVALID_ARGUMENT,
                        "the checkpoint's tensor '" + name + "' has shape " + mk::format_shape(value.sizes().data(), value.dim()) +
                            " but the network's has " + mk::format_shape(target.sizes().data(), target.dim()) +
                            "; it was written for another model spec");
            loaded.emplace_back(name, value);
        };
        for (const auto& item : network->sequential->named_parameters(true)) check(item.key(), item.value(), false);
        for (const auto& item : network->sequential->named_buffers(true)) check(item.key(), item.value(), true);
        at::Tensor rng;
        MK_REQUIRE(archive.try_read("modelkit.dropout_rng", rng), MK_E_INVALID_ARGUMENT,
                    "the checkpoint has no dropout generator state; it was not written by mk_checkpoint_save");
        torch::serialize::InputArchive optimizer_archive;
        if (optimizer != nullptr) {
            MK_REQUIRE(archive.try_read("modelkit.optimizer", optimizer_archive), MK_E_INVALID_ARGUMENT,
                        "the checkpoint has no optimizer state");
        }
        {
            torch::NoGradGuard no_grad;
            auto params = network->sequential->named_parameters(true);
            auto buffers = network->sequential->named_buffers(true);
            for (const auto& [name, value] : loaded) {
                at::Tensor* target = params.find(name);
                if (target == nullptr) target = buffers.find(name);
                target->copy_(value);
            }
        }
        network->dropout_generator.set_state(rng);
        if (optimizer != nullptr) {
            optimizer->optimizer->load(optimizer_archive);
        }
        return MK_OK;)
}

MK_API int mk_buffer_data(mk_buffer* buffer, const uint8_t** out_data, int64_t* out_size) {
    MK_GUARD(
        mk::require_not_null(buffer, "buffer");
        mk::require_not_null(out_data, "out_data");
        mk::require_not_null(out_size, "out_size");
        *out_data = reinterpret_cast<const uint8_t*>(buffer->data.data());
        *out_size = static_cast<int64_t>(buffer->data.size());
        return MK_OK;)
}

MK_API int mk_buffer_free(mk_buffer* buffer) {
    MK_GUARD(
        delete buffer;
        return MK_OK;)
}

}  // extern "C"
