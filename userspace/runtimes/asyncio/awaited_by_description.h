// What the awaited-by reader relies on in asyncio, per CPython minor version range, loaded from
// probes/asyncio/awaited_by/*.conf: the Python-level names (types, functions, closure cells,
// attributes) that tell who awaits a task from its callbacks. Names only, plus one _asyncio offset.
#pragma once

#include <cstdint>

namespace pyat {

struct AwaitedByDescription {
    int major = 0, minor = 0;  // the first CPython version described (up to the next file's)
    const char* source = "";
    const char* tasks_file = "";         // co_filename suffixes of the defining modules
    const char* base_events_file = "";
    const char* taskgroups_file = "";
    const char* function_type = "";      // tp_name of the callback types
    const char* method_type = "";
    const char* builtin_type = "";
    const char* partial_type = "";
    const char* wakeup_wrapper_type = "";  // 3.8/3.9: the C Task's wakeup object ("" from 3.10)
    uint16_t wakeup_wrapper_task = 0;      // its ww_task
    const char* wakeup_builtin = "";       // 3.10+: ml_name of the C Task's wakeup builtin
    const char* python_wakeup = "";        // a pure-Python task's wakeup method
    const char* gather_callback = "";
    const char* gather_outer = "";          // its closure cell: the _GatheringFuture
    const char* gathering_future_type = "";
    const char* gathering_children = "";    // that future's attribute: the children
    const char* shield_callback = "";
    const char* shield_outer = "";
    const char* shield_outer_callback = "";  // on shield's outer future: names no awaiter
    const char* wait_callback = "";
    const char* wait_waiter = "";
    const char* release_waiter = "";          // the function in partial(_release_waiter, waiter)
    const char* run_until_complete_callback = "";
    const char* task_group_callback = "";    // "" before 3.11
    const char* task_group_parent = "";
};

// The description for CPython major.minor: the newest file whose version is not above it.
const AwaitedByDescription* find_awaited_by_description(int major, int minor);

}  // namespace pyat
