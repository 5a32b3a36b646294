// CPython 3.14+'s own description of _asyncio (Py_AsyncioModuleDebugOffsets, in the extension's
// .AsyncioDebug section): parsing it, checking our probes/asyncio data against it, and listing
// the tasks it locates (per-thread and per-interpreter linked lists, each thread's running task).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cpython/cpython_layout.h"
#include "process/process_memory.h"
#include "runtimes/asyncio/asyncio_layout.h"

namespace pyat {

class ElfFile;

struct AsyncioDebugOffsets {
    // asyncio_task_object
    uint64_t task_size = 0, task_name = 0, task_awaited_by = 0, task_is_task = 0, task_awaited_by_is_set = 0,
             task_coro = 0, task_node = 0;
    // asyncio_interpreter_state: tasks of threads that have exited
    uint64_t interp_size = 0, interp_tasks_head = 0;
    // asyncio_thread_state (of _PyThreadStateImpl)
    uint64_t tstate_size = 0, tstate_running_loop = 0, tstate_running_task = 0, tstate_tasks_head = 0;
};

inline constexpr size_t asyncio_debug_bytes = 13 * 8;

// The section's bytes as the struct; nullopt when too short or implausible (an offset outside its
// object's size, sizes nobody has).
std::optional<AsyncioDebugOffsets> parse_asyncio_debug(std::string_view bytes);

// The section of the _asyncio extension file (3.14+), if it has one.
std::optional<AsyncioDebugOffsets> read_asyncio_debug(const ElfFile& asyncio_extension);

// "" when the section agrees with `layout` on every field both describe; else one line naming
// each disagreement (the tracer then trusts neither).
std::string check_asyncio_debug(const AsyncioDebugOffsets& debug, const AsyncioLayout& layout);

struct ThreadTasks {
    std::vector<uint64_t> tasks;    // every listed task (candidates: check their type before use)
    std::vector<uint64_t> running;  // each thread's running task (0s left out)
};

// 3.14+: the tasks on every thread's list and the main interpreter's, from _PyRuntime.
ThreadTasks list_thread_tasks(const ProcessMemory& memory, const CpythonLayout& cpython, uint64_t runtime_address,
                              const AsyncioDebugOffsets& debug);

}  // namespace pyat
