// Reading every Python thread's current stack from userspace (process_vm_readv), in the same
// form the kernel records it. Used where the kernel cannot look: threads that were already
// blocked when the run started (wall clock) have no switch-out to record their stack.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "cpython/code_resolver.h"
#include "process/process_memory.h"
#include "abi/events.h"
#include "cpython/python_process.h"

namespace pyat {

// host TID -> stack (innermost first, as in py_sample). Threads whose state cannot be read are left
// out. Before 3.11 the TID comes from threading's Thread objects (or glibc's pthread struct); in a
// PID namespace of its own (a container) the process's TIDs are mapped to the host's.
// The code objects met are named at once by `resolver` (its userspace generations).
std::map<uint32_t, std::unique_ptr<py_sample>> read_thread_stacks(const PythonProcess& process,
                                                                  CodeResolver& resolver);

// The frames from `frame` outwards (e.g. a suspended greenlet's saved innermost frame) into s,
// their code objects named at once by `resolver`.
void read_stack_from(const ProcessMemory& memory, const py_layout& layout, uint64_t frame, py_sample& s,
                     CodeResolver& resolver);

}  // namespace pyat
