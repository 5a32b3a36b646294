// One asyncio task as read out of a target's memory (process_vm_readv, never code run in the
// target): what the asyncio runtime builds logical stacks and wall time from. The readers fill it
// (task_reader.h: fields, name, the await chain of a suspended task), the awaited-by side reads
// its callbacks into parents (awaited_by.h), and the task graph links them (task_graph.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "abi/cpython.h"

namespace pyat {

enum class TaskState : uint8_t { pending = 0, cancelled = 1, finished = 2 };

// What a suspended task's innermost awaited object is (the end of its await chain).
enum class AwaitLeaf : uint8_t {
    none,        // not suspended at an await (running, not started, done, or unreadable)
    future,      // a Future (or FutureIter of one) that is not a task: sleep, I/O, an Event...
    task,        // another task: `await other_task`
    gathering,   // a gather's _GatheringFuture: the children carry the time
    other,       // something else awaitable (a custom __await__ object)
};

struct AsyncioTask {
    uint64_t address = 0;        // the Task object
    uint64_t serial = 0;         // which read made this record (a new one for every read anew)
    uint64_t found_ns = 0;       // read alone between scans (monotonic): it waited no earlier than that
    uint64_t coro = 0;           // its coroutine object
    uint64_t coro_frame = 0;     // its coroutine's frame: the address a stack walk meets it at
    uint64_t coro_code = 0;      // that frame's code object (a walk's frame with another is not this task's)
    TaskState state = TaskState::pending;
    uint64_t fut_waiter = 0;     // the future it waits on (0: none: running or ready to run)
    std::string name;            // "poller-2"; a 3.12/3.13 task never asked its name: "Task-<n>"
    std::string coro_function;   // qualified name of its coroutine's code ("poller")
    // The callbacks added to it, in order (fut_callback0 first, then fut_callbacks' callables):
    // what awaits it (task_wakeup of a parent, gather's _done_callback, TaskGroup._on_task_done...).
    std::vector<uint64_t> callbacks;
    // Suspended: the frames of its await chain, outermost (the task's coroutine) first, down to
    // the innermost coroutine or generator, each at its current instruction. Empty otherwise.
    std::vector<py_frame> await_frames;
    AwaitLeaf leaf = AwaitLeaf::none;
    uint64_t leaf_object = 0;    // the Future / Task / _GatheringFuture awaited (0: none)
};

}  // namespace pyat
