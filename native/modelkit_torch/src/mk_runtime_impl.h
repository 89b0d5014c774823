// Process-wide state owned by mk_runtime.cpp.
#pragma once

#include <mutex>

namespace mk {

// Serialises every use of the default CPU generator's seed (mk_runtime_manual_seed, mk_network_create).
std::mutex& seed_mutex() noexcept;

// Applies the thread count of the last mk_runtime_set_num_threads to the calling thread's OpenMP setting,
// once per thread and change. (at::set_num_threads only affects the calling thread's OpenMP team size, and
// calling it on every step would rebuild libtorch's pthreadpool each time, which is very slow.)
void apply_num_threads();

// Moves glibc's dynamic mmap threshold up once per process (see mk_runtime.cpp); called by mk_runtime_set_num_threads.
void tune_allocator_once() noexcept;

}  // namespace mk
