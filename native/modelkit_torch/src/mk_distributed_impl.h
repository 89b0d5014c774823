// What mk_training.cpp needs from mk_distributed.cpp (which alone includes the c10d/Gloo headers).
#pragma once

#include <cstdint>

#include "mk_network_impl.h"

namespace mk {

// Arms the network's gradient reducer for the next backward: autograd hooks copy each gradient into its
// bucket and launch the bucket's all-reduce as soon as the bucket is full.
void reducer_prepare(mk_process_group* group, mk_network* network, int64_t bucket_cap_bytes);

// After backward: launches the buckets still open, waits for every all-reduce (bounded by the group's timeout),
// writes the averaged gradients into the parameters' .grad and disarms the hooks. Returns the seconds waited.
double reducer_finish(mk_process_group* group, mk_network* network);

// Disarms the hooks after a failed step (no collective is started).
void reducer_abort(mk_network* network) noexcept;

// Copies rank 0's float buffers (BatchNorm running statistics) into this rank's network.
void broadcast_buffers(mk_process_group* group, mk_network* network);

}  // namespace mk
