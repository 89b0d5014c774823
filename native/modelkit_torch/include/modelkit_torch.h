/*
 * modelkit_torch: a flat C ABI over libtorch (CPU) used by ModelKit.Training.
 *
 * Conventions
 * - Every export is named mk_<area>_<verb> and returns an int status: MK_OK (0) on success, one of the
 *   MK_E_* codes below on failure. Results come back through out-parameters, which are left untouched
 *   on failure.
 * - On failure, mk_last_error() returns a UTF-8 message describing what failed (with the values involved).
 *   The message is owned by the shim, is thread-local (the calling thread's last failure) and stays valid
 *   until the next shim call on the same thread. A successful call clears it to "".
 * - No C++ exception ever crosses this boundary.
 * - Strings are UTF-8. Shapes are `const int64_t*` plus a count (the rank).
 * - Tensors are float32 (features, logits, parameters) and int64 (labels), contiguous and row-major.
 * - Handles (mk_network*, mk_optimizer*) are created by mk_*_create* and released by mk_*_free. A handle
 *   must not be used by two threads at once; different handles may be used concurrently, except that
 *   mk_runtime_set_num_threads and mk_runtime_manual_seed change process-wide state.
 */
#ifndef MODELKIT_TORCH_H
#define MODELKIT_TORCH_H

#include <stdint.h>

#if defined(MK_BUILDING_LIBRARY)
#define MK_API __attribute__((visibility("default")))
#else
#define MK_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes ------------------------------------------------------------------------------ */

/** Success. */
#define MK_OK 0
/** An argument was invalid (null pointer, negative count, mismatched counts, out-of-range label, bad layer spec). */
#define MK_E_INVALID_ARGUMENT 1
/** libtorch raised c10::Error; the message is its text without the C++ backtrace. */
#define MK_E_TORCH 2
/** A std::exception other than c10::Error was raised (for example std::bad_alloc). */
#define MK_E_STD 3
/** An exception of unknown type was raised. */
#define MK_E_UNKNOWN 4
/** A caller buffer is smaller than the result; the message gives the required size. */
#define MK_E_BUFFER_TOO_SMALL 5
/** An index was outside [0, count). */
#define MK_E_OUT_OF_RANGE 6

/* ---- layer kinds for mk_network_create --------------------------------------------------------- */

/** nn::Linear(in, out): int_args[2i] = in_features, int_args[2i+1] = out_features (both >= 1). */
#define MK_LAYER_LINEAR 1
/** nn::ReLU: no arguments. */
#define MK_LAYER_RELU 2
/** nn::Flatten(start_dim = 1, end_dim = -1): no arguments. */
#define MK_LAYER_FLATTEN 3
/** nn::Dropout(p): real_args[i] = p in [0, 1). */
#define MK_LAYER_DROPOUT 4

typedef struct mk_network mk_network;
typedef struct mk_optimizer mk_optimizer;

/* ---- runtime (mk_runtime.cpp) ------------------------------------------------------------------ */

/** The calling thread's last error message (UTF-8, never NULL, "" after a successful call). */
MK_API const char* mk_last_error(void);

/** Writes the libtorch version the shim was compiled against (static string, e.g. "1.13.0"). */
MK_API int mk_runtime_version(const char** out_version);

/** Sets the number of intra-op threads libtorch uses (at::set_num_threads); num_threads >= 1. Process-wide. */
MK_API int mk_runtime_set_num_threads(int32_t num_threads);

/** Writes the number of intra-op threads libtorch uses (at::get_num_threads). */
MK_API int mk_runtime_get_num_threads(int32_t* out_num_threads);

/** Seeds libtorch's default CPU generator (torch::manual_seed). Process-wide. */
MK_API int mk_runtime_manual_seed(uint64_t seed);

/* ---- network (mk_network.cpp) ------------------------------------------------------------------ */

/**
 * Builds an nn::Sequential of layer_count layers. kinds[i] is an MK_LAYER_* value; int_args holds 2 values
 * per layer and real_args 1 value per layer (unused slots are ignored). Parameters are initialised with
 * PyTorch's defaults after seeding the default CPU generator with `seed` (so the values equal those of
 * torch.manual_seed(seed) followed by building the same nn.Sequential in PyTorch); creation is serialised
 * process-wide. Dropout masks while training come from a generator owned by the network, seeded with
 * `seed`. Consecutive Linear layers must chain (out_features of one equals in_features of the next).
 * The caller frees *out_network with mk_network_free.
 */
MK_API int mk_network_create(const int32_t* kinds, const int64_t* int_args, const double* real_args,
                             int64_t layer_count, uint64_t seed, mk_network** out_network);

/** Frees a network. NULL is accepted and ignored. Optimizers created over it keep its parameters alive. */
MK_API int mk_network_free(mk_network* network);

/**
 * Eval-mode forward pass without autograd (NoGradGuard). features: float32, row-major, feature_count values
 * of shape shape[0..rank). Writes the output (float32, row-major) into out_values (capacity floats), its
 * shape into out_shape (shape_capacity entries) and its rank into *out_rank.
 */
MK_API int mk_network_forward(mk_network* network, const float* features, int64_t feature_count,
                              const int64_t* shape, int64_t rank, float* out_values, int64_t capacity,
                              int64_t* out_shape, int64_t shape_capacity, int64_t* out_rank);

/** Writes the number of parameters (named_parameters() of the nn::Sequential). */
MK_API int mk_network_parameter_count(mk_network* network, int64_t* out_count);

/**
 * Describes parameter `index`: its name ("0.weight", "0.bias", ...; owned by the network, valid until it
 * is freed), its shape (written into out_shape, shape_capacity entries), rank and element count.
 */
MK_API int mk_network_parameter_info(mk_network* network, int64_t index, const char** out_name,
                                     int64_t* out_shape, int64_t shape_capacity, int64_t* out_rank,
                                     int64_t* out_numel);

/** Copies parameter `index` (float32, row-major) into destination, which holds `capacity` floats (>= numel). */
MK_API int mk_network_parameter_read(mk_network* network, int64_t index, float* destination, int64_t capacity);

/** Overwrites parameter `index` with `count` float32 values (count must equal its numel). */
MK_API int mk_network_parameter_write(mk_network* network, int64_t index, const float* source, int64_t count);

/* ---- training (mk_training.cpp) ---------------------------------------------------------------- */

/** Creates torch::optim::Adam over the network's parameters (Kingma and Ba, 2015). lr > 0, betas in [0, 1), eps >= 0, weight_decay >= 0. */
MK_API int mk_optimizer_create_adam(mk_network* network, double learning_rate, double beta1, double beta2,
                                    double epsilon, double weight_decay, mk_optimizer** out_optimizer);

/** Creates torch::optim::SGD over the network's parameters. lr > 0, momentum >= 0, weight_decay >= 0. */
MK_API int mk_optimizer_create_sgd(mk_network* network, double learning_rate, double momentum,
                                   double weight_decay, mk_optimizer** out_optimizer);

/** Sets the learning rate of every parameter group (lr > 0). */
MK_API int mk_optimizer_set_learning_rate(mk_optimizer* optimizer, double learning_rate);

/** Frees an optimizer. NULL is accepted and ignored. */
MK_API int mk_optimizer_free(mk_optimizer* optimizer);

/**
 * One training step: train mode, zero_grad, forward, mean cross-entropy of the logits [N, C] against the
 * int64 labels (label_count must equal N, each label in [0, C)), backward, optimizer step. Writes the loss
 * (before the step) into *out_loss. The optimizer must have been created over this network.
 */
MK_API int mk_network_train_step(mk_network* network, mk_optimizer* optimizer, const float* features,
                                 int64_t feature_count, const int64_t* shape, int64_t rank,
                                 const int64_t* labels, int64_t label_count, float* out_loss);

#ifdef __cplusplus
}
#endif

#endif /* MODELKIT_TORCH_H */
