// Reading a per-CPU array of counters that BPF programs bump: the sum over CPUs.
#pragma once

#include <cstdint>

struct bpf_map;

namespace pyat {

uint64_t sum_percpu_counter(const bpf_map* map, uint32_t index);

}  // namespace pyat
