// The fused training step (see mk_fused_step.h).
#include "mk_fused_step.h"

#include <string>

#include <ATen/Functions.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/nn/modules/linear.h>

#include "mk_network_impl.h"

// oneDNN 2.x's C API (libdnnl.so.2, which libtorch itself links; Debian packages no dnnl.h): row-major single-precision
// GEMM C = alpha * op(A) * op(B) + beta * C; returns dnnl_success (0) on success.
extern "C" int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                          const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

namespace mk {

namespace {

constexpr int64_t kMeanReduction = 1;  // at::Reduction::Mean
constexpr int64_t kIgnoreIndex = -100;  // cross_entropy's default, as the autograd path passes it

bool supported_kind(int32_t kind) {
    return kind == MK_LAYER_LINEAR || kind == MK_LAYER_RELU || kind == MK_LAYER_DROPOUT || kind == MK_LAYER_FLATTEN;
}

// Walks the layers over the input's shape; true when every Linear gets a 2-D input of its in_features and the network
// ends in 2-D logits (the cases where the autograd path's kernels are addmm / mm on matrices).
bool shapes_fit(const mk_network& network, const at::Tensor& input) {
    int64_t dims = input.dim();
    int64_t features = dims >= 2 ? input.size(1) : -1;
    if (dims >= 2) {
        for (int64_t d = 2; d < dims; ++d) features *= input.size(d);
    }
    bool flat = dims == 2;
    for (const Layer& layer : network.layers) {
        switch (layer.kind) {
            case MK_LAYER_FLATTEN:
                if (dims < 2) return false;
                dims = 2;
                flat = true;
                break;
            case MK_LAYER_LINEAR:
                if (!flat || features != layer.ints[0] || !layer.linear->weight.is_contiguous() ||
                    (layer.linear->bias.defined() && !layer.linear->bias.is_contiguous())) {
                    return false;
                }
                features = layer.ints[1];
                break;
            default:
                break;
        }
    }
    return flat && dims == 2;
}

at::Tensor rows(const at::Tensor& buffer, int64_t n) { return buffer.narrow(0, 0, n); }

// c[m, n] = op(a) op(b) + beta * c for contiguous row-major float32 matrices, with oneDNN's sgemm. Why not at::mm: libtorch
// runs fp32 GEMMs in OpenBLAS, whose own pthread pool then shares the cores with libtorch's OpenMP team (each spinning while
// the other works), and whose small-GEMM path costs 50-90 us where oneDNN's takes 15-20 us (mk_train_bench gemm). oneDNN
// threads with the same OpenMP runtime (libgomp) and team size as libtorch: one pool for the whole step.
void sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, const at::Tensor& a, const at::Tensor& b, float beta, const at::Tensor& c) {
    const int status = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a.data_ptr<float>(), ta == 'N' ? k : m, b.data_ptr<float>(),
                                  tb == 'N' ? n : k, beta, c.data_ptr<float>(), n);
    require(status == 0, MK_E_TORCH, "oneDNN's dnnl_sgemm failed with status " + std::to_string(status) + " for a " +
                                         std::to_string(m) + "x" + std::to_string(k) + " by " + std::to_string(k) + "x" +
                                         std::to_string(n) + " product");
}

}  // namespace

bool fused_step_supported(const mk_network& network) {
    bool any_linear = false;
    for (const Layer& layer : network.layers) {
        if (!supported_kind(layer.kind)) return false;
        any_linear = any_linear || layer.kind == MK_LAYER_LINEAR;
    }
    return any_linear && network.layers.back().kind == MK_LAYER_LINEAR;
}

int64_t fused_step_classes(const mk_network& network) { return network.layers.back().ints[1]; }

bool fused_step_fits(const mk_network& network, const at::Tensor& input) { return shapes_fit(network, input); }

void fused_forward_backward(mk_network& network, const at::Tensor& input, const int64_t* labels, double loss_scale,
                            bool zero_grad, float* out_loss) {
    torch::NoGradGuard no_grad;
    const int64_t n = input.size(0);
    const size_t count = network.layers.size();
    if (!network.fused) {
        network.fused = std::make_shared<FusedStep>();
    }
    FusedStep& s = *network.fused;
    const auto options = at::TensorOptions().dtype(at::kFloat);
    if (s.capacity < n) {
        // (Re)allocate every per-row buffer for n rows; smaller batches later use the first rows (contiguous views).
        s.outputs.assign(count, at::Tensor());
        s.masks.assign(count, at::Tensor());
        s.gradients.assign(count, at::Tensor());
        int64_t features = 0;
        for (size_t i = 0; i < count; ++i) {
            const Layer& layer = network.layers[i];
            if (layer.kind == MK_LAYER_LINEAR) {
                features = layer.ints[1];
                s.outputs[i] = at::empty({n, features}, options);
                s.gradients[i] = at::empty({n, layer.ints[0]}, options);
            } else if (layer.kind == MK_LAYER_RELU && features > 0) {
                s.outputs[i] = at::empty({n, features}, options);
                s.gradients[i] = at::empty({n, features}, options);
            } else if (layer.kind == MK_LAYER_DROPOUT && features > 0) {
                s.outputs[i] = at::empty({n, features}, options);
                s.masks[i] = at::empty({n, features}, options);
                s.gradients[i] = at::empty({n, features}, options);
            }
        }
        const int64_t classes = fused_step_classes(network);
        s.log_probabilities = at::empty({n, classes}, options);
        s.loss_gradient = at::empty({n, classes}, options);
        s.logits_gradient = at::empty({n, classes}, options);
        s.loss = at::empty({}, options);
        s.total_weight = at::empty({}, options);
        s.grad_output = at::empty({}, options);
        s.capacity = n;
    }

    // Forward. Layers before the first Linear see the input itself (no gradient needed there): ReLU and Dropout on the
    // raw input get their own [n, features] buffers lazily sized from the input.
    std::vector<at::Tensor> inputs(count);  // the input of each layer (views; kept for the backward)
    at::Tensor x = input;
    bool seen_linear = false;
    for (size_t i = 0; i < count; ++i) {
        const Layer& layer = network.layers[i];
        inputs[i] = x;
        switch (layer.kind) {
            case MK_LAYER_FLATTEN:
                x = x.flatten(1);
                break;
            case MK_LAYER_LINEAR: {
                at::Tensor out = rows(s.outputs[i], n);
                const at::Tensor& weight = layer.linear->weight;
                // out = x W^T (+ b): the bias rows first, then the GEMM adds onto them (what addmm computes).
                const at::Tensor xc = x.contiguous();
                if (layer.linear->bias.defined()) {
                    out.copy_(layer.linear->bias.expand_as(out));
                }
                sgemm('N', 'T', n, layer.ints[1], layer.ints[0], xc, weight, layer.linear->bias.defined() ? 1.0f : 0.0f, out);
                x = out;
                seen_linear = true;
                break;
            }
            case MK_LAYER_RELU: {
                at::Tensor out = seen_linear ? rows(s.outputs[i], n) : at::empty_like(x);
                if (seen_linear) {
                    // at::relu's clamp_min(x, 0) in one serial pass (NaN propagates, -0 stays -0, as its kernel does):
                    // a 2-thread parallel region for 65k floats costs more in hand-offs than the pass itself.
                    const float* src = x.data_ptr<float>();
                    float* dst = out.data_ptr<float>();
                    for (int64_t k = 0, m = out.numel(); k < m; ++k) {
                        const float v = src[k];
                        dst[k] = (v != v || !(v < 0.0f)) ? v : 0.0f;
                    }
                } else {
                    at::clamp_min_out(out, x, 0);  // at::relu's kernel
                }
                x = out;
                break;
            }
            case MK_LAYER_DROPOUT: {
                const double p = layer.reals[0];
                if (p > 0.0) {
                    // The same draws as the autograd path (mk_network::run_layer): one Bernoulli per element, in order,
                    // from the network's generator, then the mask scaled in place and multiplied in.
                    at::Tensor keep = seen_linear ? rows(s.masks[i], n) : at::empty_like(x);
                    keep.bernoulli_(1.0 - p, network.dropout_generator);
                    at::Tensor out = seen_linear ? rows(s.outputs[i], n) : at::empty_like(x);
                    if (seen_linear) {
                        // keep.mul_(scale) then x * keep, in one serial pass (float scale, as ATen applies a double
                        // scalar to a float tensor).
                        const float scale = static_cast<float>(1.0 / (1.0 - p));
                        const float* src = x.data_ptr<float>();
                        float* mask = keep.data_ptr<float>();
                        float* dst = out.data_ptr<float>();
                        for (int64_t k = 0, m = out.numel(); k < m; ++k) {
                            mask[k] = mask[k] * scale;
                            dst[k] = src[k] * mask[k];
                        }
                    } else {
                        keep.mul_(1.0 / (1.0 - p));
                        at::mul_out(out, x, keep);
                    }
                    x = out;
                }
                break;
            }
            default:
                break;
        }
    }

    // Loss: cross_entropy = nll_loss(log_softmax(logits)), mean over the batch.
    const at::Tensor targets = at::from_blob(const_cast<int64_t*>(labels), {n}, at::TensorOptions().dtype(at::kLong));
    at::Tensor log_probabilities = rows(s.log_probabilities, n);
    at::_log_softmax_out(log_probabilities, x, 1, false);
    at::nll_loss_forward_out(s.loss, s.total_weight, log_probabilities, targets, {}, kMeanReduction, kIgnoreIndex);
    *out_loss = s.loss.data_ptr<float>()[0];

    // Backward: d(loss * scale)/d(logits), then the layers in reverse; the same kernels autograd's nodes call.
    s.grad_output.fill_(loss_scale);
    at::Tensor g = rows(s.loss_gradient, n);
    at::nll_loss_backward_out(g, s.grad_output, log_probabilities, targets, {}, kMeanReduction, kIgnoreIndex, s.total_weight);
    at::Tensor logits_gradient = rows(s.logits_gradient, n);
    at::_log_softmax_backward_data_out(logits_gradient, g, log_probabilities, 1, at::kFloat);
    g = logits_gradient;

    // The first layer whose input needs a gradient is the one after the first Linear; nothing earlier has parameters.
    size_t first_linear = count;
    for (size_t i = 0; i < count; ++i) {
        if (network.layers[i].kind == MK_LAYER_LINEAR) {
            first_linear = i;
            break;
        }
    }
    for (size_t j = count; j-- > first_linear;) {
        const Layer& layer = network.layers[j];
        const at::Tensor& in = inputs[j];
        switch (layer.kind) {
            case MK_LAYER_FLATTEN:
                g = g.view(in.sizes());
                break;
            case MK_LAYER_LINEAR: {
                at::Tensor& weight = layer.linear->weight;
                // dW = g^T x and db = sum of g over the batch, written into .grad (autograd's AccumulateGrad adds into the
                // zeroed .grad; writing directly gives the same values).
                at::Tensor& weight_grad = weight.mutable_grad();
                if (!weight_grad.defined()) {
                    weight_grad = at::zeros_like(weight);
                }
                const at::Tensor in2 = in.dim() == 2 ? in.contiguous() : in.flatten(1).contiguous();
                if (!weight_grad.is_contiguous()) {
                    weight_grad = weight_grad.contiguous();
                }
                sgemm('T', 'N', layer.ints[1], layer.ints[0], n, g, in2, zero_grad ? 0.0f : 1.0f, weight_grad);
                if (layer.linear->bias.defined()) {
                    at::Tensor& bias_grad = layer.linear->bias.mutable_grad();
                    if (!bias_grad.defined()) {
                        bias_grad = at::zeros_like(layer.linear->bias);
                    }
                    if (zero_grad) {
                        at::sum_out(bias_grad, g, at::IntArrayRef{0});
                    } else {
                        bias_grad.add_(g.sum(0));
                    }
                }
                if (j > first_linear) {
                    at::Tensor dx = rows(s.gradients[j], n);
                    sgemm('N', 'N', n, layer.ints[0], layer.ints[1], g, weight, 0.0f, dx);
                    g = dx;
                }
                break;
            }
            case MK_LAYER_RELU: {
                // threshold_backward(g, relu output, 0): g where the output is > 0, else 0; one serial pass.
                at::Tensor dx = rows(s.gradients[j], n);
                const float* grad = g.data_ptr<float>();
                const float* output = rows(s.outputs[j], n).data_ptr<float>();
                float* dst = dx.data_ptr<float>();
                for (int64_t k = 0, m = dx.numel(); k < m; ++k) {
                    dst[k] = output[k] <= 0.0f ? 0.0f : grad[k];
                }
                g = dx;
                break;
            }
            case MK_LAYER_DROPOUT:
                if (layer.reals[0] > 0.0) {
                    // g * scaled mask (the backward of x * mask), one serial pass.
                    at::Tensor dx = rows(s.gradients[j], n);
                    const float* grad = g.data_ptr<float>();
                    const float* mask = rows(s.masks[j], n).data_ptr<float>();
                    float* dst = dx.data_ptr<float>();
                    for (int64_t k = 0, m = dx.numel(); k < m; ++k) {
                        dst[k] = grad[k] * mask[k];
                    }
                    g = dx;
                }
                break;
            default:
                break;
        }
    }
}

}  // namespace mk
