// One-pass Adam/AdamW update (see mk_fused_adam.h). Built with -O3 -fno-math-errno so that the loop vectorises.
#include "mk_fused_adam.h"

#include <cmath>
#include <memory>
#include <string>

#include <ATen/Parallel.h>
#include <c10/util/string_utils.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/autograd/variable.h>

namespace mk {

namespace {

// The per-step scalars, in float as libtorch's own kernels apply them to float32 tensors.
struct AdamScalars {
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float sqrt_bias_correction2;
    float eps;
    float step_size;     // lr / bias_correction1
    float weight_decay;  // Adam: L2 term added to the gradient
    float decay;         // AdamW: 1 - lr * weight_decay, applied to the parameter first
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
// Compiled for x86-64-v3 (AVX2: 8 floats per sqrt and division) and for the baseline, chosen once at load (ifunc).
#define MK_ADAM_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MK_ADAM_KERNEL
#endif

// p, g, m, v: `n` floats each. Same formula and order as libtorch 1.13's Adam (L2 = true) and AdamW (decoupled = true):
// m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= step_size * m / (sqrt(v) / sqrt(bc2) + eps). Inlined into each
// clone of adam_kernel, so that it is compiled (and vectorised) for that clone's target.
template <bool L2, bool Decoupled>
inline __attribute__((always_inline)) void adam_loop(float* __restrict p, const float* __restrict g, float* __restrict m,
                                                     float* __restrict v, int64_t n, const AdamScalars& s) {
    const float beta1 = s.beta1, one_minus_beta1 = s.one_minus_beta1, beta2 = s.beta2, one_minus_beta2 = s.one_minus_beta2;
    const float sqrt_bc2 = s.sqrt_bias_correction2, eps = s.eps, step_size = s.step_size;
    const float decay = s.decay, weight_decay = s.weight_decay;
    for (int64_t i = 0; i < n; ++i) {
        float pi = p[i];
        if (Decoupled) {
            pi = pi * decay;
        }
        float gi = g[i];
        if (L2) {
            gi = gi + weight_decay * pi;
        }
        const float mi = m[i] * beta1 + one_minus_beta1 * gi;
        const float vi = v[i] * beta2 + one_minus_beta2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - step_size * (mi / (std::sqrt(vi) / sqrt_bc2 + eps));
    }
}

// One vectorised loop per variant, chosen once per call.
MK_ADAM_KERNEL void adam_kernel(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                                int64_t n, const AdamScalars& s, bool l2, bool decoupled) {
    if (decoupled) {
        adam_loop<false, true>(p, g, m, v, n, s);
    } else if (l2) {
        adam_loop<true, false>(p, g, m, v, n, s);
    } else {
        adam_loop<false, false>(p, g, m, v, n, s);
    }
}

template <bool L2, bool Decoupled>
void update(float* p, const float* g, float* m, float* v, int64_t n, const AdamScalars& s) {
    at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
        adam_kernel(p + begin, g + begin, m + begin, v + begin, end - begin, s, L2, Decoupled);
    });
}

bool fusable(const torch::Tensor& p) {
    if (!p.grad().defined()) {
        return true;  // skipped by the step, as libtorch does
    }
    const torch::Tensor& g = p.grad();
    return p.device().is_cpu() && p.scalar_type() == at::kFloat && p.is_contiguous() && !g.is_sparse() &&
           g.device().is_cpu() && g.scalar_type() == at::kFloat && g.is_contiguous() && g.numel() == p.numel();
}

// The shared step of both classes: State is AdamParamState or AdamWParamState, Options AdamOptions or AdamWOptions.
// Returns false (having changed nothing) when some parameter or option needs libtorch's own step.
template <typename State, typename Options, bool Decoupled>
bool fused_step(std::vector<torch::optim::OptimizerParamGroup>& groups,
                ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>& states) {
    for (auto& group : groups) {
        if (static_cast<Options&>(group.options()).amsgrad()) {
            return false;
        }
        for (const auto& p : group.params()) {
            if (!fusable(p)) {
                return false;
            }
        }
    }
    for (auto& group : groups) {
        auto& options = static_cast<Options&>(group.options());
        for (auto& p : group.params()) {
            if (!p.grad().defined()) {
                continue;
            }
            const std::string key = c10::guts::to_string(p.unsafeGetTensorImpl());
            auto found = states.find(key);
            if (found == states.end()) {
                auto state = std::make_unique<State>();
                state->step(0);
                state->exp_avg(torch::zeros_like(p, at::MemoryFormat::Preserve));
                state->exp_avg_sq(torch::zeros_like(p, at::MemoryFormat::Preserve));
                found = states.emplace(key, std::move(state)).first;
            }
            auto& state = static_cast<State&>(*found->second);
            torch::Tensor& exp_avg = state.exp_avg();
            torch::Tensor& exp_avg_sq = state.exp_avg_sq();
            if (!exp_avg.is_contiguous() || !exp_avg_sq.is_contiguous() || exp_avg.scalar_type() != at::kFloat ||
                exp_avg_sq.scalar_type() != at::kFloat) {
                // A loaded state in another layout: make it ours once.
                exp_avg = exp_avg.to(at::kFloat).contiguous();
                exp_avg_sq = exp_avg_sq.to(at::kFloat).contiguous();
            }
            state.step(state.step() + 1);
            const double beta1 = std::get<0>(options.betas());
            const double beta2 = std::get<1>(options.betas());
            const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
            const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
            AdamScalars s{};
            s.beta1 = static_cast<float>(beta1);
            s.one_minus_beta1 = static_cast<float>(1 - beta1);
            s.beta2 = static_cast<float>(beta2);
            s.one_minus_beta2 = static_cast<float>(1 - beta2);
            s.sqrt_bias_correction2 = static_cast<float>(std::sqrt(bias_correction2));
            s.eps = static_cast<float>(options.eps());
            s.step_size = static_cast<float>(options.lr() / bias_correction1);
            s.weight_decay = static_cast<float>(options.weight_decay());
            s.decay = static_cast<float>(1 - options.lr() * options.weight_decay());
            float* pp = p.data_ptr<float>();
            const float* gp = p.grad().data_ptr<float>();
            float* mp = exp_avg.data_ptr<float>();
            float* vp = exp_avg_sq.data_ptr<float>();
            const int64_t n = p.numel();
            if (Decoupled) {
                if (options.weight_decay() != 0) {
                    update<false, true>(pp, gp, mp, vp, n, s);
                } else {
                    update<false, false>(pp, gp, mp, vp, n, s);
                }
            } else if (options.weight_decay() != 0) {
                update<true, false>(pp, gp, mp, vp, n, s);
            } else {
                update<false, false>(pp, gp, mp, vp, n, s);
            }
            // Written in place like libtorch's in-place ops: keep autograd's version counters right.
            torch::autograd::impl::bump_version(p);
            torch::autograd::impl::bump_version(exp_avg);
            torch::autograd::impl::bump_version(exp_avg_sq);
        }
    }
    return true;
}

template <typename Base, typename State, typename Options, bool Decoupled>
torch::Tensor step_with(Base& self, std::vector<torch::optim::OptimizerParamGroup>& groups,
                        ska::flat_hash_map<std::string, std::unique_ptr<torch::optim::OptimizerParamState>>& states,
                        torch::optim::Optimizer::LossClosure closure) {
    torch::NoGradGuard no_grad;
    if (!fused_step<State, Options, Decoupled>(groups, states)) {
        return self.Base::step(std::move(closure));
    }
    return {};
}

}  // namespace

torch::Tensor FusedAdam::step(LossClosure closure) {
    if (closure != nullptr) {
        return torch::optim::Adam::step(std::move(closure));  // never used by the shim; libtorch's own semantics
    }
    return step_with<torch::optim::Adam, torch::optim::AdamParamState, torch::optim::AdamOptions, false>(*this, param_groups_, state_, nullptr);
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
    if (closure != nullptr) {
        return torch::optim::AdamW::step(std::move(closure));
    }
    return step_with<torch::optim::AdamW, torch::optim::AdamWParamState, torch::optim::AdamWOptions, true>(*this, param_groups_, state_, nullptr);
}

}  // namespace mk
