#include "kernel/bpf_code_names.h"

#include <bpf/libbpf.h>

#include "abi/code_names.h"

namespace pyat {

bool code_set_names(const bpf_map* code_sets, pid_t pid, uint64_t code, uint32_t generation) {
    uint32_t index = code_set_index(code, uint32_t(pid));
    code_set set{};
    if (bpf_map__lookup_elem(code_sets, &index, sizeof(index), &set, sizeof(set), 0)) return false;
    for (const code_slot& slot : set.way)
        if (slot.code == code && slot.tgid == uint32_t(pid) && slot.generation == generation) return true;
    return false;
}

}  // namespace pyat
