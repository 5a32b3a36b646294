#include "kernel/bpf_counters.h"

#include <bpf/libbpf.h>

#include <vector>

namespace pyat {

uint64_t sum_percpu_counter(const bpf_map* map, uint32_t index) {
    int ncpu = libbpf_num_possible_cpus();
    if (ncpu <= 0) return 0;
    std::vector<uint64_t> values(size_t(ncpu), 0);
    if (bpf_map__lookup_elem(map, &index, sizeof(index), values.data(), values.size() * sizeof(uint64_t), 0))
        return 0;
    uint64_t sum = 0;
    for (uint64_t v : values) sum += v;
    return sum;
}

}  // namespace pyat
