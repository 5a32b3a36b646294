// asyncio's internals per CPython minor version (the C Task and Future, coroutine frames, the
// registries, every Python-level name), loaded from probes/asyncio/*.conf; and the self-check that
// a process's tasks really are laid out so.
#pragma once

#include <cstdint>
#include <string>

#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"

namespace pyat {

// What a suspended coroutine awaits (CPython's _PyGen_yf), by version.
enum class AwaitedRule : uint8_t {
    yield_from = 1,            // 3.8-3.10: the instruction after f_lasti is YIELD_FROM
    resume_arg = 2,            // 3.11/3.12: SUSPENDED, and the code unit after prev_instr is RESUME with oparg >= 2
    suspended_yield_from = 3,  // 3.13+: the frame state alone (FRAME_SUSPENDED_YIELD_FROM)
};

// Where the top of a frame's value stack is.
enum class FrameStack : uint8_t {
    stacktop_pointer = 1,  // 3.8/3.9: f_stacktop, a pointer past the top (NULL while running)
    valuestack_depth = 2,  // 3.10: f_valuestack[f_stackdepth - 1]
    stacktop_index = 3,    // 3.11-3.13: localsplus[stacktop - 1]
    stackpointer = 4,      // 3.14: stackpointer[-1], a tagged _PyStackRef
};

struct AsyncioLayout {
    int major = 0, minor = 0;
    const char* source = "";
    // TaskObj / FutureObj.
    uint16_t fut_callback0 = 0, fut_callbacks = 0, fut_state = 0;
    uint16_t task_fut_waiter = 0, task_coro = 0, task_name = 0;
    uint8_t task_name_lazy = 0;  // 3.12+: an int counter until get_name() is called
    uint16_t task_awaited_by = 0, task_is_task = 0, task_node = 0;  // 3.14 only (0: none)
    // Other objects.
    uint16_t futureiter_future = 0, coro_wrapper_coroutine = 0, asend_gen = 0;
    uint16_t gen_qualname = 0, type_base = 0;
    uint16_t set_used = 0, set_mask = 0, set_table = 0, set_entry_size = 0, weakref_object = 0;
    // Coroutine frames (with CpythonLayout's gen_frame, gen_frame_state, frame_localsplus, bpf.frame_*).
    AwaitedRule awaited_rule = AwaitedRule::suspended_yield_from;
    FrameStack frame_stack = FrameStack::stacktop_index;
    uint16_t frame_stack_at = 0;    // f_stacktop / f_valuestack / stacktop / stackpointer
    uint16_t frame_stackdepth = 0;  // 3.10
    uint16_t frame_state = 0;       // 3.10: f_state in the frame (3.11+: CpythonLayout::gen_frame_state)
    uint8_t stack_tag_mask = 0;
    int8_t state_suspended = 0, state_suspended_yield_from = 0;
    uint16_t code_code = 0;  // before 3.11: co_code, a bytes object
    uint8_t yield_from_opcode = 0, resume_opcode = 0, resume_alt_opcode = 0;
    // Python-level names.
    const char* tasks_module = "";
    const char* all_tasks = "";        // 3.8-3.11
    const char* scheduled_tasks = "";  // 3.12-3.13
    const char* eager_tasks = "";      // 3.12-3.13
    const char* current_tasks = "";
    const char* weakset_data = "";
    const char* py_task_class = "";
    const char* task_type = "";
    const char* future_type = "";
    const char* future_iter_type = "";
    const char* py_task_type = "";
    const char* py_future_type = "";
    const char* gathering_future_type = "";
    const char* coroutine_type = "";
    const char* generator_type = "";
    const char* coroutine_wrapper_type = "";
    const char* asend_type = "";
    const char* str_type = "";
    const char* int_type = "";
    const char* default_name_prefix = "";
    const char* py_task_coro = "";
    const char* py_task_fut_waiter = "";
    const char* py_task_name = "";
    const char* py_future_state = "";
    const char* py_future_callbacks = "";
    const char* py_state_pending = "";
    const char* py_state_cancelled = "";
    const char* py_state_finished = "";
    // --asyncio-steps: where the C Task begins a step (task_step_sites.h). With the module's symbol
    // table: `step_function`, the task its argument `step_task_argument` (1 or 2). Stripped
    // (3.8-3.11, static types): tp_call (`type_call`) of `step_wrapper_type` and of
    // `wakeup_wrapper_type` (3.8/3.9), or the ml_meth of the PyMethodDef named `wakeup_method`.
    const char* step_function = "";
    uint8_t step_task_argument = 0;
    uint16_t type_call = 0;
    const char* step_wrapper_type = "";
    const char* wakeup_wrapper_type = "";
    const char* wakeup_method = "";

    std::string version() const;
};

// The layout for CPython major.minor, or nullptr.
const AsyncioLayout* find_asyncio_layout(int major, int minor);

// The self-check at attach: `task` (an address from the registry) is a C Task or a subclass of
// it, or a pure-Python task, and its coroutine a coroutine or generator. "" when it holds, else
// what did not (one line, for the log).
std::string check_asyncio_layout(const PythonObjects& objects, const CpythonLayout& cpython,
                                 const AsyncioLayout& asyncio, uint64_t task, uint64_t py_task_class = 0);

}  // namespace pyat
