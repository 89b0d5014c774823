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
/*
 * Every layer takes MK_LAYER_INT_ARGS int64 arguments (int_args[MK_LAYER_INT_ARGS * i + k]) and MK_LAYER_REAL_ARGS
 * double arguments (real_args[MK_LAYER_REAL_ARGS * i + k]); unused slots are ignored. The layer's parameters are
 * named "<i>.weight", "<i>.bias" (and BatchNorm buffers "<i>.running_mean", "<i>.running_var") after its flat index i.
 */
#define MK_LAYER_INT_ARGS 8
#define MK_LAYER_REAL_ARGS 2

/** nn::Linear: ints [in_features, out_features, bias (0 or 1)]. */
#define MK_LAYER_LINEAR 1
/** nn::ReLU: no arguments. */
#define MK_LAYER_RELU 2
/** nn::Flatten(start_dim = 1, end_dim = -1): no arguments. */
#define MK_LAYER_FLATTEN 3
/** nn::Dropout: reals [p in [0, 1)]. */
#define MK_LAYER_DROPOUT 4
/** nn::Conv2d (square kernel): ints [in_channels, out_channels, kernel, stride, padding, dilation, groups, bias]. */
#define MK_LAYER_CONV2D 5
/** nn::MaxPool2d: ints [kernel, stride, padding]. */
#define MK_LAYER_MAXPOOL2D 6
/** nn::AvgPool2d (count_include_pad = true): ints [kernel, stride, padding]. */
#define MK_LAYER_AVGPOOL2D 7
/** nn::AdaptiveAvgPool2d(1): [N, C, H, W] to [N, C, 1, 1]. No arguments. */
#define MK_LAYER_GLOBAL_AVGPOOL2D 8
/** nn::BatchNorm1d: ints [num_features]; reals [eps, momentum]. */
#define MK_LAYER_BATCHNORM1D 9
/** nn::BatchNorm2d: ints [num_features]; reals [eps, momentum]. */
#define MK_LAYER_BATCHNORM2D 10
/** nn::LayerNorm over the last dimension: ints [normalized_size]; reals [eps]. */
#define MK_LAYER_LAYERNORM 11
/** nn::Embedding: ints [num_embeddings, embedding_dim]; the float input holds indices (converted to int64). */
#define MK_LAYER_EMBEDDING 12
/** nn::LeakyReLU: reals [negative_slope]. */
#define MK_LAYER_LEAKYRELU 13
/** nn::GELU (exact, erf form): no arguments. */
#define MK_LAYER_GELU 14
/** nn::SiLU: no arguments. */
#define MK_LAYER_SILU 15
/** nn::Sigmoid: no arguments. */
#define MK_LAYER_SIGMOID 16
/** nn::Tanh: no arguments. */
#define MK_LAYER_TANH 17
/** nn::Softmax: ints [dim] (negative counts from the end). */
#define MK_LAYER_SOFTMAX 18
/** nn::LogSoftmax: ints [dim] (negative counts from the end). */
#define MK_LAYER_LOGSOFTMAX 19
/** nn::Conv1d: ints [in_channels, out_channels, kernel, stride, padding, dilation, groups, bias]. */
#define MK_LAYER_CONV1D 20
/**
 * Residual block: ints [body_count, projection (0 or 1)]. The next body_count layers are the body; when projection
 * is 1 the layer after them is the projection applied to the block input (Linear or Conv). Output = body(x) +
 * projection(x) or body(x) + x. Blocks do not nest.
 */
#define MK_LAYER_RESIDUAL 21

/* ---- loss kinds for mk_step_args ---------------------------------------------------------------- */

/** Mean cross-entropy of logits [N, C] against int64 labels [N] (optional label smoothing and class weights). */
#define MK_LOSS_CROSS_ENTROPY 0
/** Mean squared error against float32 targets of the output's shape. */
#define MK_LOSS_MSE 1
/** Mean binary cross-entropy with logits against float32 targets of the output's shape. */
#define MK_LOSS_BCE_WITH_LOGITS 2

/* ---- optimizer kinds for mk_optimizer_args ------------------------------------------------------ */

#define MK_OPTIMIZER_SGD 0
#define MK_OPTIMIZER_ADAM 1
#define MK_OPTIMIZER_ADAMW 2

typedef struct mk_network mk_network;
typedef struct mk_optimizer mk_optimizer;
typedef struct mk_process_group mk_process_group;
typedef struct mk_buffer mk_buffer;

/** Optimizer settings for mk_optimizer_create (torch::optim::SGD, Adam, AdamW). */
typedef struct mk_optimizer_args {
    int32_t kind;           /* MK_OPTIMIZER_* */
    double learning_rate;   /* > 0 */
    double momentum;        /* SGD, >= 0 */
    double dampening;       /* SGD, >= 0 */
    int32_t nesterov;       /* SGD, 0 or 1 (needs momentum > 0 and dampening 0) */
    double beta1;           /* Adam/AdamW, [0, 1) */
    double beta2;           /* Adam/AdamW, [0, 1) */
    double epsilon;         /* Adam/AdamW, >= 0 */
    double weight_decay;    /* >= 0 (AdamW: decoupled) */
} mk_optimizer_args;

/** One training step's settings for mk_network_train_step_ex. */
typedef struct mk_step_args {
    int32_t loss_kind;            /* MK_LOSS_* */
    double label_smoothing;       /* cross-entropy only, [0, 1) */
    const float* class_weights;   /* cross-entropy only, NULL or class_weight_count = C values */
    int64_t class_weight_count;
    double loss_scale;            /* the loss is multiplied by this before backward (1 / accumulation steps) */
    int32_t zero_grad;            /* 1: zero the gradients before the forward (first micro-batch) */
    int32_t step;                 /* 1: all-reduce (when distributed), clip and step (last micro-batch) */
    double max_grad_norm;         /* > 0: clip the global L2 norm of the gradients before the step; 0: off */
    int64_t bucket_cap_bytes;     /* distributed: gradient bucket size (>= 1024) */
    double out_wait_seconds;      /* out: seconds spent waiting for gradient all-reduces after backward */
    double out_grad_norm;         /* out: global gradient norm before clipping (when max_grad_norm > 0), else 0 */
} mk_step_args;

/* ---- runtime (mk_runtime.cpp) ------------------------------------------------------------------ */

/** The calling thread's last error message (UTF-8, never NULL, "" after a successful call). */
MK_API const char* mk_last_error(void);

/** Writes the libtorch version the shim was compiled against (static string, e.g. "1.13.0"). */
MK_API int mk_runtime_version(const char** out_version);

/** Sets the number of intra-op threads libtorch uses (at::set_num_threads); num_threads >= 1. Process-wide. The first call
 * also frees one 16 MiB block so that glibc raises its dynamic mmap threshold before training (see mk_runtime.cpp). */
MK_API int mk_runtime_set_num_threads(int32_t num_threads);

/** Writes the number of intra-op threads libtorch uses (at::get_num_threads). */
MK_API int mk_runtime_get_num_threads(int32_t* out_num_threads);

/** Seeds libtorch's default CPU generator (torch::manual_seed). Process-wide. */
MK_API int mk_runtime_manual_seed(uint64_t seed);

/* ---- network (mk_network.cpp) ------------------------------------------------------------------ */

/**
 * Builds an nn::Sequential of layer_count layers. kinds[i] is an MK_LAYER_* value; int_args holds
 * MK_LAYER_INT_ARGS values per layer and real_args MK_LAYER_REAL_ARGS values per layer (unused slots are ignored). Parameters are initialised with
 * PyTorch's defaults after seeding the default CPU generator with `seed` (so the values equal those of
 * torch.manual_seed(seed) followed by building the same nn.Sequential in PyTorch); creation is serialised
 * process-wide. Dropout masks while training come from a generator owned by the network, seeded with
 * `seed`. Argument ranges are checked here; consecutive Linear layers separated only by element-wise layers must
 * chain. Shapes flowing through convolutions are checked by the caller (libtorch reports a mismatch at forward).
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

/**
 * Reseeds the generator that draws the network's dropout masks (the trainer reseeds it from the run seed, the rank and
 * the step before every step, so that a resumed run draws the same masks without saving generator state).
 */
MK_API int mk_network_set_dropout_seed(mk_network* network, uint64_t seed);

/** Writes the number of float32 buffers (BatchNorm running_mean and running_var; int64 counters are not listed). */
MK_API int mk_network_buffer_count(mk_network* network, int64_t* out_count);

/** Describes buffer `index` like mk_network_parameter_info ("1.running_mean", ...). */
MK_API int mk_network_buffer_info(mk_network* network, int64_t index, const char** out_name, int64_t* out_shape,
                                  int64_t shape_capacity, int64_t* out_rank, int64_t* out_numel);

/** Copies buffer `index` (float32, row-major) into destination (capacity floats >= numel). */
MK_API int mk_network_buffer_read(mk_network* network, int64_t index, float* destination, int64_t capacity);

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

/** Creates an optimizer from `args` (SGD with momentum/Nesterov, Adam, AdamW) over the network's parameters. */
MK_API int mk_optimizer_create(mk_network* network, const mk_optimizer_args* args, mk_optimizer** out_optimizer);

/** Sets the learning rate of every parameter group (lr > 0). */
MK_API int mk_optimizer_set_learning_rate(mk_optimizer* optimizer, double learning_rate);

/** Frees an optimizer. NULL is accepted and ignored. */
MK_API int mk_optimizer_free(mk_optimizer* optimizer);

/**
 * The general training step: train mode; zero_grad when args->zero_grad; forward; loss (args->loss_kind) times
 * args->loss_scale; backward. When args->step: with a process group, the gradients are averaged over the ranks by
 * all-reduces of buckets of about args->bucket_cap_bytes, launched from autograd hooks while backward still runs
 * (each rank first receives rank 0's BatchNorm buffers, as PyTorch DDP's broadcast_buffers does); then the global
 * gradient norm is clipped to args->max_grad_norm when > 0, and the optimizer steps. targets: int64 labels [N] for
 * cross-entropy, float32 values of the output's shape otherwise; target_count is their element count.
 * *out_loss receives the unscaled mean loss of this rank's batch. group may be NULL (one process).
 * A collective that fails or exceeds the group's timeout fails with a message naming the operation, the rank,
 * the world size and the timeout.
 */
MK_API int mk_network_train_step_ex(mk_network* network, mk_optimizer* optimizer, mk_process_group* group,
                                    mk_step_args* args, const float* features, int64_t feature_count,
                                    const int64_t* shape, int64_t rank, const void* targets, int64_t target_count,
                                    float* out_loss);

/* ---- checkpoints (mk_training.cpp) -------------------------------------------------------------- */

/**
 * Serialises the network's parameters and buffers, the optimizer's state (may be NULL) and the dropout generator
 * into a new buffer (libtorch's archive format). The caller frees *out_buffer with mk_buffer_free.
 */
MK_API int mk_checkpoint_save(mk_network* network, mk_optimizer* optimizer, mk_buffer** out_buffer);

/** Restores what mk_checkpoint_save wrote into a network of the same spec (and an optimizer of the same kind). */
MK_API int mk_checkpoint_load(mk_network* network, mk_optimizer* optimizer, const uint8_t* data, int64_t size);

/** Writes the buffer's bytes (owned by the buffer) and size. */
MK_API int mk_buffer_data(mk_buffer* buffer, const uint8_t** out_data, int64_t* out_size);

/** Frees a buffer. NULL is accepted and ignored. */
MK_API int mk_buffer_free(mk_buffer* buffer);

/* ---- distributed (mk_distributed.cpp) ---------------------------------------------------------- */

/**
 * Joins a c10d ProcessGroupGloo of world_size ranks over a TCPStore at master_addr:master_port. When host_store is
 * 1, this rank hosts the store (rank 0 without a launcher's store); otherwise it connects as a client.
 * store_prefix (may be "" or NULL) prefixes every key (torchrun's agent store: "/worker/attempt_<restart count>").
 * timeout_seconds bounds the rendezvous and every collective. The caller frees *out_group with mk_dist_free.
 */
MK_API int mk_dist_init(const char* master_addr, int32_t master_port, int32_t rank, int32_t world_size,
                        int32_t host_store, const char* store_prefix, double timeout_seconds,
                        mk_process_group** out_group);

/** Leaves and frees the group. NULL is accepted and ignored. */
MK_API int mk_dist_free(mk_process_group* group);

/** Copies rank 0's parameters and buffers into this rank's network (broadcast). */
MK_API int mk_dist_broadcast_network(mk_process_group* group, mk_network* network);

/** Sums `count` doubles over the ranks in place (all-reduce). */
MK_API int mk_dist_all_reduce_sum(mk_process_group* group, double* values, int64_t count);

/** Waits until every rank reaches the barrier. */
MK_API int mk_dist_barrier(mk_process_group* group);

#ifdef __cplusplus
}
#endif

#endif /* MODELKIT_TORCH_H */
