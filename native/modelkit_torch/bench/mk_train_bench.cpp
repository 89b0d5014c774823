// mk_train_bench: the raw libtorch C++ baseline of benchmarks/ModelKit.Benchmarks/TrainingBenchmarks.cs as a separate
// program (no .NET, no ModelKit code in the process), and the GEMM lower bound of the quick start's MLP.
//
//   Every mode takes --threads N (libtorch's intra-op threads, default 2) and --blas-threads N (OpenBLAS's pool; default
//   the same as --threads, as the shim sets it).
//   mk_train_bench train --network mlp|cnn [--batch 256] [--threads 2] [--steps 50] [--warmup 3]
//       Adam steps of mk_bench_raw.h's network on one fixed batch; prints one JSON line with seconds and samples/s.
//   mk_train_bench serve --network mlp|cnn [--batch 256] [--threads 2]
//       Builds the network, warms it up, prints "ready"; then for every line "N" on stdin trains N steps and prints
//       the seconds they took ("q" or end of input stops); for "gN" it runs N times the five GEMMs of one MLP training
//       step at this batch size in oneDNN (the GEMM lower bound, see gemm) and prints the seconds. TrainingBenchmarks
//       drives this mode.
//   mk_train_bench gemm [--batch 256] [--threads 2] [--repeat 200]
//       Times the MLP's five training GEMMs per step (forward 784-256 and 256-10; backward dW2, dH, dW1) with libtorch's
//       at::mm (OpenBLAS here) and with oneDNN's dnnl_sgemm (libdnnl.so.2, the library libtorch links for its mkldnn
//       paths), takes the median of each, and prints one JSON line with both and the per-step lower bound (the best of
//       the two per GEMM, summed).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include "mk_bench_raw.h"

extern "C" {
// oneDNN 2.x C API (dnnl.h is not packaged by Debian; these are its declarations): row-major single-precision GEMM
// C = alpha * op(A) * op(B) + beta * C. Returns dnnl_success (0) on success.
int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
// OpenBLAS: the kernel set it selected for this CPU (OPENBLAS_CORETYPE overrides it) and its thread count.
char* openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);
}

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
    std::string mode;
    std::string network = "mlp";
    int batch = 256;
    int threads = 2;
    int steps = 50;
    int warmup = 3;
    int repeat = 200;
    int blas_threads = 0;  // 0: the same as threads (what the shim's mk_runtime_set_num_threads does)
};

[[noreturn]] void usage(const std::string& problem) {
    std::fprintf(stderr,
                 "mk_train_bench: %s\nusage: mk_train_bench train|serve --network mlp|cnn [--batch N] [--threads N] [--steps N] [--warmup N] [--blas-threads N]\n"
                 "       mk_train_bench gemm [--batch N] [--threads N] [--repeat N]\n",
                 problem.c_str());
    std::exit(2);
}

int positive(const char* name, const char* text) {
    char* end = nullptr;
    const long v = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > 1 << 20) {
        usage(std::string(name) + " must be an integer in [1, 1048576], got '" + text + "'");
    }
    return static_cast<int>(v);
}

Args parse(int argc, char** argv) {
    if (argc < 2) usage("no mode given");
    Args a;
    a.mode = argv[1];
    if (a.mode != "train" && a.mode != "serve" && a.mode != "gemm") usage("unknown mode '" + a.mode + "'");
    for (int i = 2; i < argc; i += 2) {
        const std::string key = argv[i];
        if (i + 1 >= argc) usage(key + " needs a value");
        const char* value = argv[i + 1];
        if (key == "--network") {
            a.network = value;
            if (a.network != "mlp" && a.network != "cnn") usage("--network must be mlp or cnn, got '" + a.network + "'");
        } else if (key == "--batch") {
            a.batch = positive("--batch", value);
        } else if (key == "--threads") {
            a.threads = positive("--threads", value);
        } else if (key == "--steps") {
            a.steps = positive("--steps", value);
        } else if (key == "--warmup") {
            a.warmup = positive("--warmup", value);
        } else if (key == "--blas-threads") {
            a.blas_threads = positive("--blas-threads", value);
        } else if (key == "--repeat") {
            a.repeat = positive("--repeat", value);
        } else {
            usage("unknown option '" + key + "'");
        }
    }
    return a;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// The five GEMMs of one training step of Linear 784-256 -> ReLU -> Linear 256-10 at batch b (the input needs no gradient),
// row-major, as op(A)[m,k] op(B)[k,n].
struct Gemm {
    const char* name;
    char ta, tb;
    int64_t m, n, k;
};

std::vector<Gemm> mlp_gemms(int64_t b) {
    return {
        {"forward 784-256: Y1[b,256] = X[b,784] W1^T", 'N', 'T', b, 256, 784},
        {"forward 256-10: Y2[b,10] = H[b,256] W2^T", 'N', 'T', b, 10, 256},
        {"backward dW2[10,256] = G2^T[10,b] H[b,256]", 'T', 'N', 10, 256, b},
        {"backward dH[b,256] = G2[b,10] W2[10,256]", 'N', 'N', b, 256, 10},
        {"backward dW1[256,784] = G1^T[256,b] X[b,784]", 'T', 'N', 256, 784, b},
    };
}

// Operands for one GEMM: A and B stored as the transpose flags say, C [m, n].
struct GemmOperands {
    at::Tensor a, b, c;
    explicit GemmOperands(const Gemm& g)
        : a(g.ta == 'N' ? torch::rand({g.m, g.k}) : torch::rand({g.k, g.m})),
          b(g.tb == 'N' ? torch::rand({g.k, g.n}) : torch::rand({g.n, g.k})),
          c(torch::empty({g.m, g.n})) {}
    int run_dnnl(const Gemm& g) {
        return dnnl_sgemm(g.ta, g.tb, g.m, g.n, g.k, 1.f, a.data_ptr<float>(), a.size(1), b.data_ptr<float>(), b.size(1), 0.f,
                          c.data_ptr<float>(), g.n);
    }
};

int train(const Args& a, bool serve) {
    mk::bench::RawState state(a.network == "mlp" ? 0 : 1, a.batch);
    for (int i = 0; i < a.warmup; ++i) state.step();
    if (serve) {
        std::cout << "ready" << std::endl;
        std::string line;
        std::vector<Gemm> gemms;
        std::vector<GemmOperands> operands;
        while (std::getline(std::cin, line) && line != "q") {
            if (!line.empty() && line[0] == 'g') {
                const int sets = positive("gemm sets", line.c_str() + 1);
                if (gemms.empty()) {
                    gemms = mlp_gemms(a.batch);
                    for (const Gemm& g : gemms) operands.emplace_back(g);
                }
                int status = 0;
                const auto start = Clock::now();
                for (int s = 0; s < sets; ++s) {
                    for (size_t i = 0; i < gemms.size(); ++i) status |= operands[i].run_dnnl(gemms[i]);
                }
                const double seconds = seconds_since(start);
                if (status != 0) {
                    std::fprintf(stderr, "mk_train_bench: dnnl_sgemm failed\n");
                    return 1;
                }
                std::printf("%.9f\n", seconds);
                std::fflush(stdout);
                continue;
            }
            const int steps = positive("steps", line.c_str());
            const auto start = Clock::now();
            for (int s = 0; s < steps; ++s) state.step();
            std::printf("%.9f\n", seconds_since(start));
            std::fflush(stdout);
        }
        return 0;
    }
    const auto start = Clock::now();
    float loss = 0;
    for (int s = 0; s < a.steps; ++s) loss = state.step();
    const double seconds = seconds_since(start);
    std::printf("{\"mode\":\"train\",\"network\":\"%s\",\"batch\":%d,\"threads\":%d,\"steps\":%d,\"seconds\":%.6f,"
                "\"samples_per_second\":%.1f,\"last_loss\":%.6f}\n",
                a.network.c_str(), a.batch, a.threads, a.steps, seconds, static_cast<double>(a.steps) * a.batch / seconds, loss);
    return 0;
}

// Median seconds of `repeat` timed calls (after 5 untimed ones).
template <typename F>
double median_seconds(int repeat, F&& call) {
    for (int i = 0; i < 5; ++i) call();
    std::vector<double> t(static_cast<size_t>(repeat));
    for (double& x : t) {
        const auto start = Clock::now();
        call();
        x = seconds_since(start);
    }
    std::nth_element(t.begin(), t.begin() + repeat / 2, t.end());
    return t[static_cast<size_t>(repeat / 2)];
}

int gemm(const Args& a) {
    const std::vector<Gemm> gemms = mlp_gemms(a.batch);
    std::printf("{\"mode\":\"gemm\",\"batch\":%d,\"threads\":%d,\"openblas_core\":\"%s\",\"has_mkldnn\":%s,\"gemms\":[", a.batch, a.threads,
                openblas_get_corename(), at::hasMKLDNN() ? "true" : "false");
    double total_torch = 0, total_dnnl = 0, total_best = 0, flops = 0;
    bool first = true;
    for (const Gemm& g : gemms) {
        // op(A) is m x k and op(B) is k x n; stored row-major as given by the transpose flags.
        at::Tensor A = g.ta == 'N' ? torch::rand({g.m, g.k}) : torch::rand({g.k, g.m});
        at::Tensor B = g.tb == 'N' ? torch::rand({g.k, g.n}) : torch::rand({g.n, g.k});
        at::Tensor C = torch::empty({g.m, g.n});
        at::Tensor opA = g.ta == 'N' ? A : A.t();
        at::Tensor opB = g.tb == 'N' ? B : B.t();
        const double t_torch = median_seconds(a.repeat, [&] { at::mm_out(C, opA, opB); });
        at::Tensor reference = C.clone();
        const int64_t lda = A.size(1), ldb = B.size(1), ldc = g.n;
        int status = 0;
        const double t_dnnl = median_seconds(a.repeat, [&] {
            status |= dnnl_sgemm(g.ta, g.tb, g.m, g.n, g.k, 1.f, A.data_ptr<float>(), lda, B.data_ptr<float>(), ldb, 0.f,
                                 C.data_ptr<float>(), ldc);
        });
        const double diff = (C - reference).abs().max().item<double>();
        if (status != 0 || diff > 1e-3 * g.k) {
            std::fprintf(stderr, "mk_train_bench: dnnl_sgemm disagrees with at::mm for '%s' (status %d, max abs diff %g)\n", g.name, status, diff);
            return 1;
        }
        const double best = std::min(t_torch, t_dnnl);
        total_torch += t_torch;
        total_dnnl += t_dnnl;
        total_best += best;
        flops += 2.0 * static_cast<double>(g.m) * g.n * g.k;
        std::printf("%s{\"gemm\":\"%s\",\"at_mm_us\":%.2f,\"dnnl_sgemm_us\":%.2f,\"gflops_best\":%.1f}", first ? "" : ",", g.name,
                    t_torch * 1e6, t_dnnl * 1e6, 2.0 * g.m * g.n * g.k / best * 1e-9);
        first = false;
    }
    std::printf("],\"step_at_mm_us\":%.2f,\"step_dnnl_sgemm_us\":%.2f,\"step_lower_bound_us\":%.2f,\"step_gflop\":%.4f}\n", total_torch * 1e6,
                total_dnnl * 1e6, total_best * 1e6, flops * 1e-9);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Args a = parse(argc, argv);
    try {
        // Same allocator setting as the shim (mk::tune_allocator_once, applied by mk_runtime_set_num_threads): freeing one
        // 16 MiB block moves glibc's dynamic mmap threshold up now, so the step's >= 128 KiB tensors come from the heap
        // instead of fresh zero-filled mmaps (without it this loop paid ~390 page faults per MLP step). Both sides of the
        // comparison then run on the same allocator behaviour.
        if (void* block = std::malloc(std::size_t(16) << 20)) {
            static_cast<volatile char*>(block)[0] = 0;
            std::free(block);
        }
        // Same thread settings as the shim: libtorch's intra-op (OpenMP) threads, and OpenBLAS's own pthread pool.
        at::set_num_threads(a.threads);
        openblas_set_num_threads(a.blas_threads > 0 ? a.blas_threads : a.threads);
        torch::manual_seed(1);
        return a.mode == "gemm" ? gemm(a) : train(a, a.mode == "serve");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mk_train_bench: %s\n", e.what());
        return 1;
    }
}
