// Reading one asyncio task out of a target's memory into an AsyncioTask: its fields, name,
// coroutine function, callbacks and, when suspended, its await chain down to the awaited future
// (CPython's _PyGen_yf rule per version, asyncio_layout.h); and a cheap check of whether a task
// has moved since it was read, so a periodic rescan re-walks only tasks that changed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpython/code_resolver.h"
#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"
#include "runtimes/asyncio/asyncio_layout.h"
#include "runtimes/asyncio/asyncio_task.h"
#include "runtimes/asyncio/asyncio_types.h"

namespace pyat {

inline constexpr int max_await_depth = 32;
inline constexpr size_t max_task_callbacks = 1024;

// Where a task was when read: what changed() compares.
struct TaskSnapshot {
    uint64_t task = 0;
    bool pure_python = false;      // a _PyTask: its fields are attributes (a slower check)
    uint64_t callbacks_list = 0;   // fut_callbacks when read (its length is part of fields_hash)
    uint64_t fields_hash = 0;      // state, fut_waiter, coro, callbacks, name (the TaskObj's words)
    uint64_t coro = 0, outer_frame = 0;
    uint64_t outer_code = 0;       // the code object its coroutine's frame runs
    uint64_t outer_position = 0;   // the task coroutine's frame state and instruction (0: none)
    uint64_t inner_coro = 0, inner_frame = 0;  // the innermost coroutine of the await chain (0: none)
    uint64_t inner_position = 0;
    bool valid = false;
};

// One coroutine (or generator) frame as the await-chain walk sees it.
struct CoroutineFrame {
    uint64_t frame = 0;      // where a stack walk meets it
    uint64_t code = 0;
    int32_t instr = -1;      // byte offset of the current instruction, as py_frame::instr
    bool suspended = false;  // parked at a yield or await (not running, not started, not done)
    uint64_t awaited = 0;    // suspended at `await` / `yield from`: the object it awaits, else 0
    uint64_t position = 0;   // its state and instruction, mixed (what TaskSnapshot compares)
};

class TaskReader {
public:
    TaskReader(ProcessMemory memory, const CpythonLayout& cpython, const AsyncioLayout& asyncio,
               CodeResolver& resolver, uint64_t py_task_class = 0);

    // The task at `task`; nullopt when it is not (or no longer) a readable task. `snapshot`, when
    // given, is filled from the very bytes the read used (a task that moves during the read shows
    // as changed next time, never the other way round).
    std::optional<AsyncioTask> read(uint64_t task, TaskSnapshot* snapshot = nullptr);
    // Whether the task may have moved since the snapshot (also true when unreadable). One
    // process_vm_readv of a C task's fields, its callbacks list's length and the outer and
    // innermost frames' state and instruction (a pure-Python task: its attributes, many reads).
    bool changed(const TaskSnapshot& snapshot);

    // One coroutine's frame (exposed for tests and the runtime's frame identity).
    std::optional<CoroutineFrame> coroutine_frame(uint64_t coro) const;
    // The frame a stack walk meets coroutine `coro` at (0: none: done, or unreadable).
    uint64_t frame_of(uint64_t coro) const;

    AsyncioTypes& types() { return types_; }
    void set_py_task_class(uint64_t type) { types_.set_py_task_class(type); }

private:
    struct RawPosition {
        uint64_t frame = 0;
        int64_t state = 0;       // frame state (3.10+), else whether f_stacktop is set
        uint64_t instr_raw = 0;  // prev_instr / instr_ptr, or f_lasti
        uint64_t code_word = 0, stack_word = 0;  // 3.11+: read with them (words_read)
        bool words_read = false;
        uint64_t key() const;
    };
    std::optional<RawPosition> raw_position(uint64_t coro) const;
    std::optional<uint64_t> top_of_stack(const RawPosition& p) const;
    bool at_await(const RawPosition& p, uint64_t code) const;
    // An attribute of a pure-Python object: its own, else its class's (through the bases).
    uint64_t attribute(uint64_t object, const char* name) const;
    std::string task_name(uint64_t name_object);
    void read_callbacks(uint64_t callback0, uint64_t list, AsyncioTask& out) const;
    // Appends the callables of a list of (callback, context) tuples; returns the length read (-1: none).
    int64_t list_callbacks(uint64_t list, AsyncioTask& out) const;
    // The generation naming `code`: the one learnt before while its name and file are unchanged.
    uint32_t generation_of(uint64_t code);
    // Walks the await chain of a pending task; returns the innermost coroutine's (address, position).
    struct ChainEnds {
        uint64_t outer_position = 0, inner_coro = 0, inner_frame = 0, inner_position = 0;
    };
    ChainEnds walk_await_chain(AsyncioTask& task);
    bool changed_c_task(const TaskSnapshot& snapshot) const;
    // The TaskObj's fields (one read) and their hash (with the callbacks list's length).
    std::optional<std::vector<uint8_t>> c_task_fields(uint64_t address) const;
    size_t c_task_bytes() const;
    uint64_t c_task_hash(const uint8_t* fields, size_t size, int64_t callbacks_length) const;
    std::optional<uint64_t> read_c_task(uint64_t address, AsyncioTask& out, uint64_t* callbacks_list);  // -> fields hash
    std::optional<uint64_t> read_py_task(uint64_t address, AsyncioTask& out);
    uint64_t none_to_zero(uint64_t object);

    PythonObjects objects_;
    const CpythonLayout& cpython_;
    const AsyncioLayout& asyncio_;
    CodeResolver& resolver_;
    AsyncioTypes types_;
    struct KnownCode {
        uint64_t name_and_file = 0;  // code_tag of its name and file pointers
        uint32_t generation = 0;
    };
    std::unordered_map<uint64_t, KnownCode> known_code_;
};

}  // namespace pyat
