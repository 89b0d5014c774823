// Runtime-wide exports: last error, threads, seeding, version.
#include <atomic>
#include <dlfcn.h>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <string>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include "mk_error.h"
#include "mk_runtime_impl.h"

namespace {
thread_local std::string t_last_error;
thread_local int t_applied_threads = 0;
std::mutex g_seed_mutex;
std::atomic<int> g_requested_threads{0};

// One thread pool per process: libtorch's OpenMP team. Debian's libtorch runs the fp32 GEMMs it does itself (at::mm) in
// OpenBLAS (libopenblas0-pthread), which keeps its own pthread pool sized by OPENBLAS_NUM_THREADS or the core count; its
// workers spin for ~0.1 s after each GEMM, and libgomp's spin for the team, so the two pools took turns starving each
// other (quick start's MLP, 2 threads on 2 cores: 8-13 ms per step with libgomp's default wait policy, 2.8 ms with
// OMP_WAIT_POLICY=PASSIVE, where every parallel region then pays a futex wake-up). Linear's GEMMs now run in oneDNN on the
// OpenMP team (mk_kernels.h) and OpenBLAS is kept at one thread, so whatever libtorch still sends it runs on the calling
// thread: 1.9 ms per step with the default policy. Looked up in the already loaded libopenblas (RTLD_NOLOAD), so the shim
// does not depend on OpenBLAS being the BLAS.
void set_blas_threads(int threads) noexcept {
    using SetThreads = void (*)(int);
    static SetThreads set = [] {
        void* handle = dlopen("libopenblas.so.0", RTLD_LAZY | RTLD_NOLOAD);
        return handle != nullptr ? reinterpret_cast<SetThreads>(dlsym(handle, "openblas_set_num_threads")) : nullptr;
    }();
    if (set != nullptr) {
        set(threads);
    }
}
}  // namespace

namespace mk {

void clear_error() noexcept { t_last_error.clear(); }

int fail(int status, const char* message) noexcept {
    try {
        t_last_error.assign(message != nullptr ? message : "(no message)");
    } catch (...) {
        // Out of memory while recording the message: keep whatever fits (possibly nothing).
    }
    return status;
}

std::string format_shape(const int64_t* shape, int64_t rank) {
    std::ostringstream text;
    text << '[';
    for (int64_t i = 0; i < rank; ++i) {
        if (i > 0) {
            text << ", ";
        }
        text << shape[i];
    }
    text << ']';
    return text.str();
}

std::mutex& seed_mutex() noexcept { return g_seed_mutex; }

void tune_allocator_once() noexcept {
    // The quick start's slow first epoch: glibc serves every allocation of 128 KiB or more (libtorch's activations,
    // gradients and Adam state) with a fresh mmap until its dynamic threshold has adapted, so the first epoch paid
    // ~110k zero-fill page faults (measured) that later epochs do not. glibc raises the threshold to the size of the
    // first mmapped chunk that is freed (up to 32 MiB; trim threshold = twice that): freeing one 16 MiB block once moves
    // it now. Only malloc/free, which are thread-safe (mallopt and MALLOC_* variables would change process state unsafely
    // or need the environment at start).
    static std::once_flag once;
    std::call_once(once, [] {
        void* block = std::malloc(std::size_t(16) << 20);
        if (block != nullptr) {
            static_cast<volatile char*>(block)[0] = 0;
            std::free(block);
        }
    });
}

void apply_num_threads() {
    const int requested = g_requested_threads.load(std::memory_order_relaxed);
    if (requested > 0 && t_applied_threads != requested) {
        at::set_num_threads(requested);
        t_applied_threads = requested;
    }
}

}  // namespace mk

extern "C" {

MK_API const char* mk_last_error(void) { return t_last_error.c_str(); }

MK_API int mk_runtime_version(const char** out_version) {
    MK_GUARD(
        mk::require_not_null(out_version, "out_version");
        *out_version = TORCH_VERSION;
        return MK_OK;)
}

MK_API int mk_runtime_set_num_threads(int32_t num_threads) {
    MK_GUARD(
        MK_REQUIRE(num_threads >= 1, MK_E_INVALID_ARGUMENT,
                    "num_threads must be 1 or greater, got " + std::to_string(num_threads));
        mk::tune_allocator_once();
        g_requested_threads.store(num_threads, std::memory_order_relaxed);
        set_blas_threads(1);
        t_applied_threads = 0;
        mk::apply_num_threads();
        return MK_OK;)
}

MK_API int mk_runtime_get_num_threads(int32_t* out_num_threads) {
    MK_GUARD(
        mk::require_not_null(out_num_threads, "out_num_threads");
        *out_num_threads = static_cast<int32_t>(at::get_num_threads());
        return MK_OK;)
}

MK_API int mk_runtime_manual_seed(uint64_t seed) {
    MK_GUARD(
        std::lock_guard<std::mutex> lock(mk::seed_mutex());
        at::manual_seed(seed);
        return MK_OK;)
}

}  // extern "C"
