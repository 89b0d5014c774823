// The raw libtorch C++ training loop that ModelKit's trainer is benchmarked against: the quick start's MLP and the
// DistributedTraining sample's CNN as torch::nn modules, torch::optim::Adam and F::cross_entropy, with no ModelKit code.
// Built into the separate program bench/mk_train_bench.cpp (no ModelKit code, no .NET in its process).
#pragma once

#include <cstdint>

#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>
#include <torch/optim/adam.h>
#include <torch/csrc/autograd/generated/variable_factories.h>

namespace mk::bench {

namespace nn = torch::nn;

// kind 0: Flatten, Linear 784-256, ReLU, Dropout 0.1, Linear 256-10 (the quick start's MLP).
// kind 1: Conv2d 1-32 3x3, ReLU, MaxPool 2, Conv2d 32-64 3x3, ReLU, MaxPool 2, Flatten, Dropout 0.25, Linear 1600-128, ReLU,
//         Linear 128-10 (the DistributedTraining sample's CNN).
// One fixed random batch of `batch_size` 28x28 images with random labels; Adam, learning rate 1e-3.
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

    // One Adam step on the batch; returns the loss.
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

}  // namespace mk::bench
