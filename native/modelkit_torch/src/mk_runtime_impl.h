// Process-wide state owned by mk_runtime.cpp.
#pragma once

#include <mutex>

namespace mk {

// Serialises every use of the default CPU generator's seed (mk_runtime_manual_seed, mk_network_create).
std::mutex& seed_mutex() noexcept;

}  // namespace mk
