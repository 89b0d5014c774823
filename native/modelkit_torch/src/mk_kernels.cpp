// See mk_kernels.h.
#include "mk_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Functions.h>
#include <ATen/ops/cross_entropy_loss.h>
#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <torch/csrc/autograd/custom_function.h>

#include "mk_error.h"

// oneDNN 2.x's C API (libdnnl.so.2, a dependency of libtorch_cpu itself; Debian packages no dnnl.h): row-major
// single-precision GEMM C = alpha * op(A) * op(B) + beta * C; returns dnnl_success (0) on success.
extern "C" int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

namespace mk {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// C[m, n] = op(A) op(B) + beta C; row-major, leading dimensions as stored.
void sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
           float beta, float* c, int64_t ldc) {
    const int status = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    if (status != 0) {  // the message is built only on failure: this runs several times per training step
        throw ShimError(MK_E_TORCH, "oneDNN's dnnl_sgemm failed with status " + std::to_string(status) + " for a " +
                                        std::to_string(m) + "x" + std::to_string(k) + " by " + std::to_string(k) + "x" +
                                        std::to_string(n) + " product");
    }
}

// Column sums of a contiguous float32 matrix g [n, out] (the bias gradient) as a GEMM with a row of ones: parallel on the
// OpenMP team, where libtorch's sum over dimension 0 ran on the calling thread.
at::Tensor column_sums(const at::Tensor& g) {
    const int64_t n = g.size(0), out = g.size(1);
    const at::Tensor ones = at::ones({n}, g.options());
    at::Tensor sums = at::empty({out}, g.options());
    sgemm('N', 'N', 1, out, n, ones.data_ptr<float>(), n, g.data_ptr<float>(), out, 0.0f, sums.data_ptr<float>(), out);
    return sums;
}

// Linear's backward from the gradient of its output g [n, out] (contiguous): dX = g W, dW = g^T X and db = column sums
// of g, each only where the node's input needs it (inputs 0, 1, 2: x, weight, bias). Shared by both Linear nodes.
tensor_list linear_backward(AutogradContext* ctx, const at::Tensor& g, const at::Tensor& x, const at::Tensor& w) {
    const int64_t n = x.size(0), in = w.size(1), out = w.size(0);
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
        dx = at::empty({n, in}, g.options());  // dX[n, in] = dY[n, out] W[out, in]
        sgemm('N', 'N', n, in, out, g.data_ptr<float>(), out, w.data_ptr<float>(), in, 0.0f, dx.data_ptr<float>(), in);
    }
    if (ctx->needs_input_grad(1)) {
        dw = at::empty({out, in}, g.options());  // dW[out, in] = dY^T[out, n] X[n, in]
        sgemm('T', 'N', out, in, n, g.data_ptr<float>(), out, x.data_ptr<float>(), in, 0.0f, dw.data_ptr<float>(), in);
    }
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) {
        db = column_sums(g);
    }
    return {dx, dw, db};
}

// Linear on a contiguous float32 matrix x [n, in]; the caller reshapes other ranks.
class LinearFunction : public torch::autograd::Function<LinearFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
        const at::Tensor w = weight.contiguous();
        const int64_t n = x.size(0), in = w.size(1), out = w.size(0);
        at::Tensor y = at::empty({n, out}, x.options());
        float beta = 0.0f;
        const bool has_bias = bias.numel() > 0;  // a bias-free layer passes an empty placeholder (see mk::linear)
        if (has_bias) {
            y.copy_(bias.expand({n, out}));  // the GEMM then adds onto the bias rows, as addmm does
            beta = 1.0f;
        }
        sgemm('N', 'T', n, out, in, x.data_ptr<float>(), in, w.data_ptr<float>(), in, beta, y.data_ptr<float>(), out);
        ctx->save_for_backward({x, w});
        ctx->saved_data["has_bias"] = has_bias;
        return y;
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
        const auto saved = ctx->get_saved_variables();
        const at::Tensor& x = saved[0];
        const at::Tensor& w = saved[1];
        return linear_backward(ctx, grad_outputs[0].contiguous(), x, w);
    }
};

inline uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

constexpr uint64_t kGoldenGamma = 0x9E3779B97F4A7C15ULL;

// Calls body(i, keep) for every element index i in [0, n) in parallel, with keep drawn as mk_kernels.h describes.
template <typename Body>
void for_each_keep(int64_t n, uint64_t seed, uint64_t threshold, Body body) {
    at::parallel_for(0, (n + 1) / 2, 4096, [&](int64_t begin, int64_t end) {
        for (int64_t j = begin; j < end; ++j) {
            const uint64_t h = splitmix64_mix(seed + static_cast<uint64_t>(j + 1) * kGoldenGamma);
            body(2 * j, (h & 0xFFFFFFFFULL) < threshold);
            if (2 * j + 1 < n) {
                body(2 * j + 1, (h >> 32) < threshold);
            }
        }
    });
}

uint64_t keep_threshold(double p) { return static_cast<uint64_t>(std::llround((1.0 - p) * 4294967296.0)); }

// The element-wise loops, each compiled twice (GCC function multi-versioning, resolved once at load through an ifunc): for
// x86-64-v3 (AVX2, FMA; 8 floats or 4 hashes per instruction) and for the baseline (SSE2), so one shim binary runs on any
// x86-64 CPU and uses AVX2 where the CPU has it. Branch-free selects: a per-element branch on random signs mispredicts.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MK_VECTOR_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MK_VECTOR_KERNEL
#endif

// o = x < 0 ? 0 : x (NaN fails the comparison and propagates, as clamp_min does).
MK_VECTOR_KERNEL void relu_kernel(const float* __restrict x, float* __restrict o, int64_t n) {
    for (int64_t i = 0; i < n; ++i) o[i] = x[i] < 0.0f ? 0.0f : x[i];
}

// d = y > 0 ? g : 0.
MK_VECTOR_KERNEL void relu_backward_kernel(const float* __restrict y, const float* __restrict g, float* __restrict d, int64_t n) {
    for (int64_t i = 0; i < n; ++i) d[i] = y[i] > 0.0f ? g[i] : 0.0f;
}

// d = y <= 0 ? 0 : g * scale (the fused node's backward: dropped or negative outputs are 0; NaN lets the gradient through).
MK_VECTOR_KERNEL void masked_scale_kernel(const float* __restrict y, const float* __restrict g, float* __restrict d, float scale,
                                          int64_t n) {
    for (int64_t i = 0; i < n; ++i) d[i] = (y[i] <= 0.0f ? 0.0f : g[i]) * scale;
}

// Dropout forward on one block: o = x * m; keep = m != 0.
MK_VECTOR_KERNEL void dropout_apply_kernel(const float* __restrict x, const float* __restrict m, float* __restrict o,
                                           uint8_t* __restrict keep, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        o[i] = x[i] * m[i];
        keep[i] = m[i] != 0.0f ? 1 : 0;
    }
}

// Dropout backward: d = g * keep * scale (keep bytes are 0 or 1).
MK_VECTOR_KERNEL void dropout_backward_kernel(const uint8_t* __restrict keep, const float* __restrict g, float* __restrict d,
                                              float scale, int64_t n) {
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] * (static_cast<float>(keep[i]) * scale);
}

// One row of the fused forward: row = max(row + bias, 0) * m.
MK_VECTOR_KERNEL void bias_relu_scale_kernel(float* __restrict row, const float* __restrict bias, const float* __restrict m,
                                             int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float v = row[i] + bias[i];
        row[i] = (v < 0.0f ? 0.0f : v) * m[i];
    }
}

// Dropout multipliers for `pairs` consecutive pairs from pair index first_pair - 1 on (see row_multipliers).
MK_VECTOR_KERNEL void pair_multipliers_kernel(float* __restrict m, uint64_t first_pair, int64_t pairs, uint64_t seed,
                                              uint64_t threshold, float scale) {
    for (int64_t j = 0; j < pairs; ++j) {
        const uint64_t h = splitmix64_mix(seed + (first_pair + static_cast<uint64_t>(j)) * kGoldenGamma);
        m[2 * j] = (h & 0xFFFFFFFFULL) < threshold ? scale : 0.0f;
        m[2 * j + 1] = (h >> 32) < threshold ? scale : 0.0f;
    }
}

// The dropout multipliers (scale where kept, else 0) of the `count` elements from flat index `base` on, with the decisions
// for_each_keep draws. A block that starts on a pair and has whole pairs takes one hash per pair (vectorised); others go element
// by element.
void row_multipliers(float* __restrict m, int64_t base, int64_t count, uint64_t seed, uint64_t threshold, float scale) {
    if ((base & 1) == 0 && (count & 1) == 0) {
        pair_multipliers_kernel(m, static_cast<uint64_t>(base >> 1) + 1, count / 2, seed, threshold, scale);
        return;
    }
    for (int64_t c = 0; c < count; ++c) {
        const uint64_t i = static_cast<uint64_t>(base + c);
        const uint64_t h = splitmix64_mix(seed + ((i >> 1) + 1) * kGoldenGamma);
        m[c] = ((i & 1) != 0 ? (h >> 32) : (h & 0xFFFFFFFFULL)) < threshold ? scale : 0.0f;
    }
}

// Dropout on a contiguous float32 tensor: the forward writes x * scale or 0 while it draws the keep decisions, and keeps them
// as one byte per element for the backward (a quarter of a float mask; drawing them again cost more than reading them).
class DropoutFunction : public torch::autograd::Function<DropoutFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double p, int64_t seed) {
        at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
        at::Tensor keep = at::empty({x.numel()}, x.options().dtype(at::kByte));
        const float scale = static_cast<float>(1.0 / (1.0 - p));
        const float* __restrict in = x.data_ptr<float>();
        float* __restrict o = out.data_ptr<float>();
        uint8_t* __restrict k = keep.data_ptr<uint8_t>();
        const uint64_t threshold = keep_threshold(p);
        // Blocks of kBlock elements (even, so each starts on a pair): the multipliers into a buffer, then one vectorised pass.
        constexpr int64_t kBlock = 1024;
        const int64_t n = x.numel();
        at::parallel_for(0, (n + kBlock - 1) / kBlock, 8, [&](int64_t begin, int64_t end) {
            float m[kBlock];
            for (int64_t b = begin; b < end; ++b) {
                const int64_t base = b * kBlock;
                const int64_t count = std::min(kBlock, n - base);
                row_multipliers(m, base, count, static_cast<uint64_t>(seed), threshold, scale);
                dropout_apply_kernel(in + base, m, o + base, k + base, count);
            }
        });
        ctx->saved_data["p"] = p;
        ctx->save_for_backward({keep});
        return out;
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
        const double p = ctx->saved_data["p"].toDouble();
        const at::Tensor keep = ctx->get_saved_variables()[0];
        const at::Tensor g = grad_outputs[0].contiguous();
        at::Tensor dx = at::empty_like(g, at::MemoryFormat::Contiguous);
        const float scale = static_cast<float>(1.0 / (1.0 - p));
        const uint8_t* __restrict k = keep.data_ptr<uint8_t>();
        const float* __restrict gi = g.data_ptr<float>();
        float* __restrict d = dx.data_ptr<float>();
        at::parallel_for(0, g.numel(), 8192, [&](int64_t begin, int64_t end) {
            dropout_backward_kernel(k + begin, gi + begin, d + begin, scale, end - begin);
        });
        return {dx, at::Tensor(), at::Tensor()};
    }
};

// ReLU on a contiguous float32 tensor, saving its output: the backward passes the gradient where the output is positive
// (what libtorch's ReluBackward0 computes with threshold_backward, in one parallel pass here).
class ReluFunction : public torch::autograd::Function<ReluFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) {
        at::Tensor out = at::empty_like(x, at::MemoryFormat::Contiguous);
        const float* __restrict in = x.data_ptr<float>();
        float* __restrict o = out.data_ptr<float>();
        at::parallel_for(0, x.numel(), 8192, [&](int64_t begin, int64_t end) {
            relu_kernel(in + begin, o + begin, end - begin);
        });
        ctx->save_for_backward({out});
        return out;
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
        const at::Tensor out = ctx->get_saved_variables()[0];
        const at::Tensor g = grad_outputs[0].contiguous();
        at::Tensor dx = at::empty_like(g, at::MemoryFormat::Contiguous);
        const float* __restrict y = out.data_ptr<float>();
        const float* __restrict gi = g.data_ptr<float>();
        float* __restrict d = dx.data_ptr<float>();
        at::parallel_for(0, g.numel(), 8192, [&](int64_t begin, int64_t end) {
            relu_backward_kernel(y + begin, gi + begin, d + begin, end - begin);
        });
        return {dx};
    }
};

// Linear followed by ReLU and, in training, dropout, as one autograd node: the GEMM writes x W^T, then one parallel pass adds
// the bias, applies max(., 0) and the dropout mask (scale or 0) in place. The backward needs only that output: a gradient
// passes where the output is not <= 0 (kept by dropout and positive after ReLU, or NaN, as threshold_backward lets NaN
// through) and is scaled by 1 / (1 - p); then db, dX and dW as Linear's backward.
class LinearReluDropoutFunction : public torch::autograd::Function<LinearReluDropoutFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                              double p, int64_t seed) {
        const at::Tensor w = weight.contiguous();
        const int64_t n = x.size(0), in = w.size(1), out = w.size(0);
        at::Tensor y = at::empty({n, out}, x.options());
        sgemm('N', 'T', n, out, in, x.data_ptr<float>(), in, w.data_ptr<float>(), in, 0.0f, y.data_ptr<float>(), out);
        const bool has_bias = bias.numel() > 0;
        const at::Tensor b = has_bias ? bias.contiguous() : bias;
        const float* bp = has_bias ? b.data_ptr<float>() : nullptr;
        float* yp = y.data_ptr<float>();
        const float scale = p > 0.0 ? static_cast<float>(1.0 / (1.0 - p)) : 1.0f;
        const uint64_t threshold = keep_threshold(p);
        // Rows in parallel. Per row: the dropout multipliers (scale or 0; element i uses the 32-bit half i % 2 of the hash of
        // pair i / 2, as for_each_keep does) into a small buffer, then one branch-free pass max(y + b, 0) * multiplier that
        // the compiler vectorises. A NaN stays NaN (also where dropped: NaN * 0, as x * mask does in libtorch).
        at::parallel_for(0, n, std::max<int64_t>(1, 8192 / out), [&](int64_t begin, int64_t end) {
            std::vector<float> multiplier(static_cast<size_t>(out), 1.0f);
            std::vector<float> zero_bias(bp == nullptr ? static_cast<size_t>(out) : 0, 0.0f);
            const float* __restrict bias_row = bp != nullptr ? bp : zero_bias.data();
            float* __restrict m = multiplier.data();
            for (int64_t r = begin; r < end; ++r) {
                if (p > 0.0) {
                    row_multipliers(m, r * out, out, static_cast<uint64_t>(seed), threshold, scale);
                }
                bias_relu_scale_kernel(yp + r * out, bias_row, m, out);
            }
        });
        ctx->save_for_backward({x, w, y});
        ctx->saved_data["p"] = p;
        ctx->saved_data["has_bias"] = has_bias;
        return y;
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
        const auto saved = ctx->get_saved_variables();
        const at::Tensor& x = saved[0];
        const at::Tensor& w = saved[1];
        const at::Tensor& y = saved[2];
        const double p = ctx->saved_data["p"].toDouble();
        const float scale = p > 0.0 ? static_cast<float>(1.0 / (1.0 - p)) : 1.0f;
        const at::Tensor g = grad_outputs[0].contiguous();
        const int64_t n = x.size(0), out = w.size(0);
        at::Tensor gi = at::empty({n, out}, g.options());
        const float* __restrict yp = y.data_ptr<float>();
        const float* __restrict gp = g.data_ptr<float>();
        float* __restrict gip = gi.data_ptr<float>();
        at::parallel_for(0, n * out, 8192, [&](int64_t begin, int64_t end) {
            masked_scale_kernel(yp + begin, gp + begin, gip + begin, scale, end - begin);
        });
        tensor_list grads = linear_backward(ctx, gi, x, w);
        grads.emplace_back();  // p
        grads.emplace_back();  // seed
        return grads;
    }
};

// Cross-entropy over contiguous float32 logits [N, C]: the forward keeps the softmax probabilities for the backward.
class CrossEntropyFunction : public torch::autograd::Function<CrossEntropyFunction> {
public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& labels, double smoothing) {
        const int64_t n = logits.size(0), classes = logits.size(1);
        at::Tensor probabilities = at::empty({n, classes}, logits.options());
        std::vector<double> row_loss(static_cast<size_t>(n));
        const float* z = logits.data_ptr<float>();
        const int64_t* y = labels.data_ptr<int64_t>();
        float* pr = probabilities.data_ptr<float>();
        const double keep = 1.0 - smoothing, spread = smoothing / static_cast<double>(classes);
        // Rows in parallel only when the work pays for waking the team (a batch of 256 x 10 logits does not).
        at::parallel_for(0, n, std::max<int64_t>(1, 16384 / classes), [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                const float* zi = z + i * classes;
                float* pi = pr + i * classes;
                float max = zi[0];
                for (int64_t c = 1; c < classes; ++c) max = zi[c] > max ? zi[c] : max;
                double sum = 0.0;
                for (int64_t c = 0; c < classes; ++c) {
                    pi[c] = std::exp(zi[c] - max);
                    sum += pi[c];
                }
                const double log_sum = std::log(sum);
                const float inverse = static_cast<float>(1.0 / sum);
                double sum_log_p = 0.0;
                for (int64_t c = 0; c < classes; ++c) {
                    pi[c] *= inverse;
                    sum_log_p += static_cast<double>(zi[c] - max) - log_sum;
                }
                const double log_p_label = static_cast<double>(zi[y[i]] - max) - log_sum;
                row_loss[static_cast<size_t>(i)] = -keep * log_p_label - spread * sum_log_p;
            }
        });
        double total = 0.0;
        for (double v : row_loss) total += v;
        ctx->save_for_backward({probabilities, labels});
        ctx->saved_data["smoothing"] = smoothing;
        return at::scalar_tensor(total / static_cast<double>(n), logits.options());
    }

    static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
        const auto saved = ctx->get_saved_variables();
        const at::Tensor& probabilities = saved[0];
        const at::Tensor& labels = saved[1];
        const double smoothing = ctx->saved_data["smoothing"].toDouble();
        const int64_t n = probabilities.size(0), classes = probabilities.size(1);
        const float g = grad_outputs[0].item<float>() / static_cast<float>(n);
        const float spread = static_cast<float>(smoothing / static_cast<double>(classes));
        const float keep = static_cast<float>(1.0 - smoothing);
        at::Tensor dz = at::empty({n, classes}, probabilities.options());
        const float* pr = probabilities.data_ptr<float>();
        const int64_t* y = labels.data_ptr<int64_t>();
        float* d = dz.data_ptr<float>();
        at::parallel_for(0, n, std::max<int64_t>(1, 16384 / classes), [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) {
                for (int64_t c = 0; c < classes; ++c) {
                    d[i * classes + c] = (pr[i * classes + c] - spread - (c == y[i] ? keep : 0.0f)) * g;
                }
            }
        });
        return {dz, at::Tensor(), at::Tensor()};
    }
};

bool plain_float(const at::Tensor& x) { return x.device().is_cpu() && x.scalar_type() == at::kFloat && x.numel() > 0; }

}  // namespace

at::Tensor linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
    const bool ours = x.dim() >= 1 && x.device().is_cpu() && x.scalar_type() == at::kFloat && weight.dim() == 2 &&
                      weight.device().is_cpu() && weight.scalar_type() == at::kFloat && x.size(-1) == weight.size(1) &&
                      (!bias.defined() || (bias.scalar_type() == at::kFloat && bias.device().is_cpu() && bias.dim() == 1 &&
                                           bias.size(0) == weight.size(0))) &&
                      x.numel() > 0 && weight.numel() > 0;
    if (!ours) {
        return at::linear(x, weight, bias);
    }
    const at::Tensor matrix = x.reshape({-1, x.size(-1)}).contiguous();
    // autograd::Function takes no undefined inputs: a layer without bias passes an empty tensor that needs no gradient.
    const at::Tensor y = LinearFunction::apply(matrix, weight, bias.defined() ? bias : at::empty({0}, weight.options().requires_grad(false)));
    if (x.dim() == 2) {
        return y;
    }
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
    shape.back() = weight.size(0);
    return y.view(shape);
}

at::Tensor linear_relu_dropout(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double p,
                               at::Generator& generator) {
    const bool ours = x.dim() == 2 && plain_float(x) && weight.dim() == 2 && plain_float(weight) && x.size(1) == weight.size(1) &&
                      (!bias.defined() || (bias.dim() == 1 && plain_float(bias) && bias.size(0) == weight.size(0)));
    if (!ours) {
        const at::Tensor h = mk::relu(mk::linear(x, weight, bias));
        return p > 0.0 ? mk::dropout(h, p, generator) : h;
    }
    MK_REQUIRE(p >= 0.0 && p < 1.0, MK_E_INVALID_ARGUMENT, "dropout probability must be in [0, 1), got " + std::to_string(p));
    uint64_t seed = 0;
    if (p > 0.0) {
        std::lock_guard<std::mutex> lock(generator.mutex());
        seed = at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
    }
    return LinearReluDropoutFunction::apply(x.contiguous(), weight,
                                            bias.defined() ? bias : at::empty({0}, weight.options().requires_grad(false)), p,
                                            static_cast<int64_t>(seed));
}

at::Tensor relu(const at::Tensor& x) {
    if (!plain_float(x)) {
        return at::relu(x);
    }
    return ReluFunction::apply(x.contiguous());
}

at::Tensor dropout(const at::Tensor& x, double p, at::Generator& generator) {
    MK_REQUIRE(p > 0.0 && p < 1.0, MK_E_INVALID_ARGUMENT, "dropout probability must be in (0, 1), got " + std::to_string(p));
    uint64_t seed = 0;
    {
        std::lock_guard<std::mutex> lock(generator.mutex());
        seed = at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
    }
    if (plain_float(x)) {
        return DropoutFunction::apply(x.contiguous(), p, static_cast<int64_t>(seed));
    }
    // Other floating types: the same keep decisions as a 0/1 mask, scaled in the tensor's own type (autograd's mul).
    at::Tensor keep = at::empty({x.numel()}, at::TensorOptions().dtype(at::kBool));
    bool* k = keep.data_ptr<bool>();
    for_each_keep(x.numel(), seed, keep_threshold(p), [&](int64_t i, bool kept) { k[i] = kept; });
    at::Tensor mask = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
    mask.copy_(keep.view(x.sizes())).mul_(1.0 / (1.0 - p));
    return x * mask;
}

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels, double label_smoothing) {
    const bool ours = logits.dim() == 2 && plain_float(logits) && labels.dim() == 1 && labels.scalar_type() == at::kLong &&
                      labels.device().is_cpu() && labels.size(0) == logits.size(0);
    if (!ours) {
        return at::cross_entropy_loss(logits, labels, {}, at::Reduction::Mean, -100, label_smoothing);
    }
    return CrossEntropyFunction::apply(logits.contiguous(), labels.contiguous(), label_smoothing);
}

}  // namespace mk
