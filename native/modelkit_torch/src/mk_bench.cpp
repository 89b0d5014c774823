// An in-process copy of the baseline for benchmarks/ModelKit.Benchmarks/TrainingBenchmarks.cs: the raw libtorch C++
// training loop of mk_bench_raw.h (also built as the separate program mk_train_bench), with no ModelKit code in the step.
// Not part of the training API.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "mk_bench_raw.h"
#include "mk_error.h"
#include "mk_runtime_impl.h"

namespace {

using mk::bench::RawState;

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
