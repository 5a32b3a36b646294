// Finding every asyncio task of a process in its memory: asyncio.tasks' registries (3.8-3.11
// _all_tasks; 3.12/3.13 _scheduled_tasks and _eager_tasks), the running task of each loop
// (_current_tasks), and 3.14's per-thread task lists. Defensive: torn or freed memory gives fewer
// or bogus addresses (the reader checks each one's type), never an endless walk.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"
#include "process/process_memory.h"
#include "runtimes/asyncio/asyncio_debug.h"
#include "runtimes/asyncio/asyncio_layout.h"

namespace pyat {

// Bounds on what is believed of a target's containers.
inline constexpr uint64_t max_set_slots = uint64_t(1) << 22;  // 4M slots, 64 MiB of table
inline constexpr uint64_t max_listed_tasks = uint64_t(1) << 20;

// The keys of a set object (PySetObject: used, mask, table of {key, hash}), NULL and dummy
// (hash -1) slots skipped; empty when the header is implausible or the table unreadable.
std::vector<uint64_t> set_keys(const ProcessMemory& memory, const AsyncioLayout& layout, uint64_t set);

// The referents of the weakrefs in a set (a WeakSet's `.data`): wr_object of each key.
std::vector<uint64_t> weakref_referents(const ProcessMemory& memory, const AsyncioLayout& layout,
                                        const std::vector<uint64_t>& weakrefs);

// 3.14: the tasks on a circular llist (struct llist_node {next, prev}) whose head is at `head`
// (in a thread state or the interpreter), each task's node at task + task_node. Stops at the head,
// at an unreadable node, or after `limit` nodes (a torn list never loops forever).
std::vector<uint64_t> llist_tasks(const ProcessMemory& memory, uint64_t head, uint16_t task_node,
                                  uint64_t limit = max_listed_tasks);

struct RunningTask {
    uint64_t loop = 0;
    uint64_t task = 0;
};

class TaskRegistry {
public:
    TaskRegistry(PythonObjects objects, const CpythonLayout& cpython, const AsyncioLayout& asyncio,
                 uint64_t runtime_address);

    // 3.14+: the native tasks are on the per-thread lists that the _asyncio extension's
    // .AsyncioDebug section locates (asyncio_debug.h), and each thread's running task there.
    void use_thread_lists(const AsyncioDebugOffsets& debug) { debug_ = debug; }

    // Whether asyncio.tasks is imported and its registries found (retried on each call until
    // then: a program imports asyncio when it likes). 3.14 without use_thread_lists(): false.
    bool find();

    // Every task listed (candidates: a freed one may still show; check its type before use).
    std::vector<uint64_t> tasks();
    // The task each loop runs now ({loop: task} of _current_tasks; 3.14+: each thread's, as the
    // last tasks() read them, loop 0).
    std::vector<RunningTask> running();
    // asyncio.tasks._PyTask (the pure-Python Task class), 0 if not found.
    uint64_t py_task_class() const { return py_task_class_; }
    uint64_t tasks_module() const { return module_; }

private:
    PythonObjects objects_;
    const CpythonLayout& cpython_;
    const AsyncioLayout& asyncio_;
    uint64_t runtime_address_;
    uint64_t module_ = 0;
    uint64_t weakset_data_ = 0;  // the set inside _all_tasks / _scheduled_tasks
    uint64_t eager_tasks_ = 0;
    uint64_t current_tasks_ = 0;
    uint64_t py_task_class_ = 0;
    std::optional<AsyncioDebugOffsets> debug_;
    std::vector<uint64_t> thread_running_;
};

}  // namespace pyat
