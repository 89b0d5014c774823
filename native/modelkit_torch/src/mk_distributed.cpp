// Data-parallel training over c10d's ProcessGroupGloo: rendezvous through a TCPStore, parameter broadcast,
// bucketed gradient all-reduce launched from autograd hooks, collectives bounded by the group's timeout.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/csrc/autograd/grad_mode.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "mk_distributed_impl.h"
#include "mk_network_impl.h"

struct mk_process_group {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
    int rank = 0;
    int world_size = 1;
    std::chrono::milliseconds timeout{0};

    std::string where() const {
        char seconds[32];
        std::snprintf(seconds, sizeof(seconds), "%.1f", static_cast<double>(timeout.count()) / 1000.0);
        return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (collective timeout " + seconds + " s)";
    }

    // Waits for `work` within the timeout; a failure becomes a ShimError naming the operation, the rank and the timeout.
    void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& operation) const {
        try {
            work->wait(timeout);
        } catch (const c10::Error& e) {
            fail(operation, e.what_without_backtrace());
        } catch (const std::exception& e) {
            fail(operation, e.what());
        }
    }

    [[noreturn]] void fail(const std::string& operation, const std::string& cause) const {
        throw mk::ShimError(MK_E_TORCH, operation + " failed on " + where() + ": " + cause +
                                            ". Another rank has probably exited, hung or been killed; check its log.");
    }
};

namespace mk {

struct Bucket {
    at::Tensor flat;
    std::vector<size_t> params;
    std::vector<int64_t> offsets;
    std::vector<bool> filled;
    size_t pending = 0;
    c10::intrusive_ptr<c10d::Work> work;
};

struct Reducer {
    const mk_process_group* group = nullptr;
    int64_t cap_bytes = 0;
    std::vector<Bucket> buckets;
    std::vector<std::pair<size_t, size_t>> slot_of;  // parameter -> (bucket, slot)
    std::vector<at::Tensor> params;
    bool active = false;
    size_t next_launch = 0;
    std::exception_ptr error;

    void reset() {
        for (Bucket& b : buckets) {
            std::fill(b.filled.begin(), b.filled.end(), false);
            b.pending = b.params.size();
            b.work.reset();
        }
        next_launch = 0;
        error = nullptr;
    }

    void fill(size_t index, const at::Tensor* grad) {
        auto [b, slot] = slot_of[index];
        Bucket& bucket = buckets[b];
        if (bucket.filled[slot]) {
            return;
        }
        const at::Tensor& p = params[index];
        at::Tensor view = bucket.flat.narrow(0, bucket.offsets[slot], p.numel());
        const at::Tensor& accumulated = p.grad();
        if (grad != nullptr) {
            view.copy_(grad->reshape({-1}));
            if (accumulated.defined()) {
                view.add_(accumulated.reshape({-1}));
            }
        } else if (accumulated.defined()) {
            view.copy_(accumulated.reshape({-1}));
        } else {
            view.zero_();
        }
        bucket.filled[slot] = true;
        --bucket.pending;
    }

    // Launches the full buckets in bucket order, so that every rank issues the same collectives in the same order.
    void launch_ready() {
        while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
            std::vector<at::Tensor> tensors{buckets[next_launch].flat};
            buckets[next_launch].work = group->pg->allreduce(tensors);
            ++next_launch;
        }
    }

    void on_grad(size_t index, const at::Tensor& grad) {
        if (!active || error) {
            return;
        }
        try {
            fill(index, &grad);
            launch_ready();
        } catch (...) {
            error = std::current_exception();  // rethrown by reducer_finish (never thrown through autograd)
        }
    }
};

namespace {

mk_process_group* checked(mk_process_group* group) {
    require_not_null(group, "group");
    return group;
}

at::Tensor flatten(const std::vector<at::Tensor>& tensors) {
    std::vector<at::Tensor> flat;
    flat.reserve(tensors.size());
    for (const at::Tensor& t : tensors) {
        flat.push_back(t.detach().reshape({-1}));
    }
    return at::cat(flat);
}

void unflatten_into(const at::Tensor& flat, const std::vector<at::Tensor>& tensors) {
    torch::NoGradGuard no_grad;
    int64_t offset = 0;
    for (const at::Tensor& t : tensors) {
        const int64_t n = t.numel();
        t.view({-1}).copy_(flat.narrow(0, offset, n));
        offset += n;
    }
}

void broadcast_tensors(mk_process_group* group, const std::vector<at::Tensor>& tensors, const std::string& what) {
    if (tensors.empty()) {
        return;
    }
    at::Tensor flat = flatten(tensors);
    std::vector<at::Tensor> list{flat};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    group->wait(group->pg->broadcast(list, options), "broadcast of " + what + " (" + std::to_string(flat.numel()) + " floats)");
    if (group->rank != 0) {
        unflatten_into(flat, tensors);
    }
}

std::shared_ptr<Reducer> build_reducer(mk_process_group* group, mk_network* network, int64_t cap_bytes) {
    auto reducer = std::make_shared<Reducer>();
    reducer->group = group;
    reducer->cap_bytes = cap_bytes;
    reducer->params = network->parameters;
    reducer->slot_of.resize(network->parameters.size());
    // Reverse order: backward produces the last layers' gradients first (as PyTorch DDP's default bucketing).
    Bucket current;
    int64_t bytes = 0;
    auto close = [&]() {
        if (current.params.empty()) return;
        current.flat = at::zeros({bytes / static_cast<int64_t>(sizeof(float))}, at::TensorOptions().dtype(at::kFloat));
        current.filled.assign(current.params.size(), false);
        current.pending = current.params.size();
        reducer->buckets.push_back(std::move(current));
        current = Bucket();
        bytes = 0;
    };
    for (size_t k = network->parameters.size(); k-- > 0;) {
        const at::Tensor& p = network->parameters[k];
        reducer->slot_of[k] = {reducer->buckets.size(), current.params.size()};
        current.params.push_back(k);
        current.offsets.push_back(bytes / static_cast<int64_t>(sizeof(float)));
        int64_t add = 0;
        MK_REQUIRE(!__builtin_mul_overflow(p.numel(), static_cast<int64_t>(sizeof(float)), &add) &&
                    !__builtin_add_overflow(bytes, add, &bytes),
                MK_E_INVALID_ARGUMENT, "the gradient bucket size overflows a 64-bit byte count");
        if (bytes >= cap_bytes) close();
    }
    close();
    std::weak_ptr<Reducer> weak = reducer;
    for (size_t k = 0; k < network->parameters.size(); ++k) {
        network->parameters[k].register_hook([weak, k](const at::Tensor& grad) {
            if (auto r = weak.lock()) {
                r->on_grad(k, grad);
            }
        });
    }
    return reducer;
}

}  // namespace

void reducer_prepare(mk_process_group* group, mk_network* network, int64_t bucket_cap_bytes) {
    if (!network->reducer || network->reducer->group != group || network->reducer->cap_bytes != bucket_cap_bytes) {
        network->reducer = build_reducer(group, network, bucket_cap_bytes);
    }
    network->reducer->reset();
    network->reducer->active = true;
}

double reducer_finish(mk_process_group* group, mk_network* network) {
    Reducer& r = *network->reducer;
    r.active = false;
    const auto start = std::chrono::steady_clock::now();
    if (r.error) {
        std::rethrow_exception(r.error);
    }
    // Parameters that received no gradient in this backward contribute their current .grad (or zeros).
    for (Bucket& b : r.buckets) {
        for (size_t slot = 0; slot < b.params.size(); ++slot) {
            if (!b.filled[slot]) r.fill(b.params[slot], nullptr);
        }
    }
    r.launch_ready();
    torch::NoGradGuard no_grad;
    const double scale = 1.0 / static_cast<double>(group->world_size);
    for (size_t i = 0; i < r.buckets.size(); ++i) {
        Bucket& b = r.buckets[i];
        group->wait(b.work, "all-reduce of gradient bucket " + std::to_string(i) + " (" + std::to_string(b.flat.numel()) + " floats)");
        b.work.reset();
        b.flat.mul_(scale);
        for (size_t slot = 0; slot < b.params.size(); ++slot) {
            at::Tensor& p = r.params[b.params[slot]];
            at::Tensor averaged = b.flat.narrow(0, b.offsets[slot], p.numel()).view(p.sizes());
            if (p.grad().defined()) {
                p.mutable_grad().copy_(averaged);
            } else {
                p.mutable_grad() = averaged.clone();
            }
        }
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void reducer_abort(mk_network* network) noexcept {
    if (network->reducer) {
        network->reducer->active = false;
        // Collectives already launched must still complete on every rank; the group is unusable after a failed step.
    }
}

void broadcast_buffers(mk_process_group* group, mk_network* network) {
    broadcast_tensors(group, network->buffers, "BatchNorm buffers");
}

}  // namespace mk

extern "C" {

MK_API int mk_dist_init(const char* master_addr, int32_t master_port, int32_t rank, int32_t world_size,
                        int32_t host_store, const char* store_prefix, double timeout_seconds,
                        mk_process_group** out_group) {
    MK_GUARD(
        mk::require_not_null(master_addr, "master_addr");
        mk::require_not_null(out_group, "out_group");
        MK_REQUIRE(world_size >= 1, MK_E_INVALID_ARGUMENT, "world_size must be 1 or greater, got " + std::to_string(world_size));
        MK_REQUIRE(rank >= 0 && rank < world_size, MK_E_INVALID_ARGUMENT,
                    "rank " + std::to_string(rank) + " is outside [0, " + std::to_string(world_size) + ") for world size " +
                        std::to_string(world_size));
        MK_REQUIRE(master_port >= 1 && master_port <= 65535, MK_E_INVALID_ARGUMENT,
                    "master_port must be in [1, 65535], got " + std::to_string(master_port));
        MK_REQUIRE(std::isfinite(timeout_seconds) && timeout_seconds >= 0.1 && timeout_seconds <= 86400.0, MK_E_INVALID_ARGUMENT,
                    "the collective timeout must be between 0.1 and 86400 seconds, got " + std::to_string(timeout_seconds));
        auto group = std::make_unique<mk_process_group>();
        group->rank = rank;
        group->world_size = world_size;
        group->timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000.0));
        const std::string addr(master_addr);
        const std::string endpoint = addr + ":" + std::to_string(master_port);
        try {
            c10d::TCPStoreOptions options;
            options.port = static_cast<std::uint16_t>(master_port);
            options.isServer = host_store != 0;
            options.numWorkers = static_cast<std::size_t>(world_size);
            options.waitWorkers = false;
            options.timeout = group->timeout;
            // libtorch 1.13's TCPStore gives up when a signal interrupts its connect or accept (EINTR; the .NET runtime
            // signals threads to suspend them, for example for a GC) instead of retrying: retry that case alone, within
            // the timeout. Any other failure is reported at once.
            const auto deadline = std::chrono::steady_clock::now() + group->timeout;
            c10::intrusive_ptr<c10d::Store> store;
            for (;;) {
                try {
                    store = c10::make_intrusive<c10d::TCPStore>(addr, options);
                    break;
                } catch (const std::exception& e) {
                    if (std::string(e.what()).find("Interrupted system call") == std::string::npos ||
                        std::chrono::steady_clock::now() >= deadline) {
                        throw;
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(10));
                }
            }
            if (store_prefix != nullptr && store_prefix[0] != '\0') {
                store = c10::make_intrusive<c10d::PrefixStore>(std::string(store_prefix), store);
            }
            group->store = c10::make_intrusive<c10d::PrefixStore>("modelkit_pg", store);
        } catch (const std::exception& e) {
            const std::string what = e.what();
            const bool in_use = what.find("ddress already in use") != std::string::npos;
            throw mk::ShimError(MK_E_TORCH,
                                std::string(host_store != 0 ? "could not host" : "could not reach") + " the rendezvous TCPStore at " +
                                    endpoint + " as rank " + std::to_string(rank) + " of " + std::to_string(world_size) + ": " +
                                    (in_use ? "the port is already in use; choose a free MASTER_PORT" : what.substr(0, what.find('\n'))));
        }
        try {
            auto options = c10d::ProcessGroupGloo::Options::create(group->timeout);
            const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
            const bool loopback = addr == "localhost" || addr.rfind("127.", 0) == 0;
            options->devices.push_back(ifname != nullptr && ifname[0] != '\0'
                                           ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                                           : loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                                      : c10d::ProcessGroupGloo::createDefaultDevice());
            group->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, rank, world_size, options);
        } catch (const std::exception& e) {
            const std::string what = e.what();
            group->fail("joining the Gloo process group through " + endpoint, what.substr(0, what.find('\n')));
        }
        *out_group = group.release();
        return MK_OK;)
}

MK_API int mk_dist_free(mk_process_group* group) {
    MK_GUARD(
        delete group;
        return MK_OK;)
}

MK_API int mk_dist_broadcast_network(mk_process_group* group, mk_network* network) {
    MK_GUARD(
        mk::checked(group);
        mk::require_not_null(network, "network");
        mk::broadcast_tensors(group, network->parameters, "parameters");
        mk::broadcast_tensors(group, network->buffers, "buffers");
        return MK_OK;)
}

MK_API int mk_dist_all_reduce_sum(mk_process_group* group, double* values, int64_t count) {
    MK_GUARD(
        mk::checked(group);
        MK_REQUIRE(count >= 1 && count <= (int64_t(1) << 30), MK_E_INVALID_ARGUMENT,
                    "count must be in [1, 2^30], got " + std::to_string(count));
        mk::require_not_null(values, "values");
        std::vector<at::Tensor> list{torch::from_blob(values, {count}, at::TensorOptions().dtype(at::kDouble))};
        group->wait(group->pg->allreduce(list), "all-reduce of " + std::to_string(count) + " metric values");
        return MK_OK;)
}

MK_API int mk_dist_barrier(mk_process_group* group) {
    MK_GUARD(
        mk::checked(group);
        group->wait(group->pg->barrier(), "barrier");
        return MK_OK;)
}

}  // extern "C"
