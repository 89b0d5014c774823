// The baseline for benchmarks/ModelKit.Benchmarks/TrainingBenchmarks.cs: a raw libtorch C++ training loop (torch::nn
// modules, torch::optim::Adam, F::cross_entropy) of the same networks, built from the same libtorch and flags as the shim,
// with no ModelKit code in the step. Not part of the training API.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/optim/adam.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

#include "mk_error.h"
#include "mk_runtime_impl.h"

namespace {

namespace nn = torch::nn;

struct RawState {
    RawState(int32_t kind, int32_t batch_size)
        : batch(batch_size),
          net(kind == 0 ? nn::Sequential(nn::Flatten(), nn::Linear(784, 256), nn::ReLU(), nn::Dropout(0.1), nn::Linear(256, 10))
                        : nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, 32, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                                         nn::Conv2d(nn::Conv2dOptions(32, 64, 3)), nn::ReLU(), nn::MaxPool2d(nn::MaxPool2dOptions(2)),
                                         nn::Flatten(), nn::Dropout(0.25), nn::Linear(1600, 128), nn::ReLU(), nn::Linear(128, 10))),
          optimizer(net->parameters(), torch::optim::AdamOptions(1e-3)),
          x(torch::rand({batch_size, 1, 28, 28})),
          y(torch::randint(0, 10, {batch_size}, at::TensorOptions().dtype(at::kLong))) {
        net->train();
    }

    float step() {
        optimizer.zero_grad();
        at::Tensor loss = nn::functional::cross_entropy(net->forward(x), y);
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    }

    int32_t batch;
    nn::Sequential net;
    torch::optim::Adam optimizer;
    at::Tensor x;
    at::Tensor y;
};

}  // namespace

extern "C" {

/**
 * Trains `steps` Adam steps of the quick start's MLP (kind 0: Flatten, Linear 784-256, ReLU, Dropout 0.1, Linear 256-10)
 * or the sample's CNN (kind 1) on one fixed random batch of `batch` 28x28 images, and writes the seconds the steps took
 * into *out_seconds. The network, optimizer and batch are built (and warmed up by one step) on the first call per kind.
 */
MK_API int mk_bench_raw_train(int32_t kind, int32_t steps, int32_t batch, double* out_seconds) {
    MK_GUARD(
        mk::require_not_null(out_seconds, "out_seconds");
        mk::require(kind == 0 || kind == 1, MK_E_INVALID_ARGUMENT, "kind must be 0 (MLP) or 1 (CNN), got " + std::to_string(kind));
        mk::require(steps >= 1 && batch >= 1, MK_E_INVALID_ARGUMENT, "steps and batch must be 1 or greater");
        mk::apply_num_threads();
        // Built once per kind and batch (the benchmark calls this repeatedly): later calls time the steps only.
        static std::mutex mutex;
        static std::unique_ptr<RawState> states[2];
        std::lock_guard<std::mutex> lock(mutex);
        std::unique_ptr<RawState>& state = states[kind];
        if (!state || state->batch != batch) {
            state = std::make_unique<RawState>(kind, batch);
            state->step();
        }
        const auto start = std::chrono::steady_clock::now();
        for (int32_t s = 0; s < steps; ++s) {
            state->step();
        }
        *out_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return MK_OK;)
}

}  // extern "C"
