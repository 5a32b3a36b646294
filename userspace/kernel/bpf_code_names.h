// Reading the kernel's table of named code objects (struct code_set, bpf/lib/code_names.bpf.h).
#pragma once

#include <sys/types.h>

#include <cstdint>

struct bpf_map;

namespace pyat {

// Whether the kernel's table still names `code` of process `pid` by `generation`: the code object
// was named so, and has not been freed since (its destructor empties the slot).
bool code_set_names(const bpf_map* code_sets, pid_t pid, uint64_t code, uint32_t generation);

}  // namespace pyat
