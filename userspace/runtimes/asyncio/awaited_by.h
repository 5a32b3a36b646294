// Who awaits an asyncio task, read from one of its callbacks (CPython 3.8-3.13 record no
// awaited-by: FACTS 8.5): the C Task's wakeup of an awaiting task, gather's, TaskGroup's,
// shield's, wait()'s and wait_for's callbacks, followed through the futures between to the
// awaiting tasks. Read-only through process_vm_readv; bounded depth; unreadable means unknown.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cpython/cpython_layout.h"
#include "cpython/python_objects.h"
#include "runtimes/asyncio/awaited_by_description.h"

namespace pyat {

// Where a C Future (and Task) keeps its callbacks (FACTS 8.1): fut_callback0, then the list
// fut_callbacks of (callback, context) tuples. Given by the caller (probes/asyncio/<minor>.conf).
struct FutureCallbackOffsets {
    uint16_t callback0 = 0;
    uint16_t callbacks = 0;
};

enum class AwaiterKind : uint8_t {
    unknown,             // not an asyncio callback this reader knows (a user's add_done_callback)
    task_wakeup,         // `await task` (the C Task's wakeup, or a pure-Python Task.__wakeup)
    gather,              // a gather child: through the _GatheringFuture
    task_group,          // a TaskGroup child: the group's _parent_task
    shield,              // shielded: through the outer future
    wait,                // asyncio.wait(): through its waiter future
    release_waiter,      // wait_for (3.8-3.11) / _cancel_and_wait: through the waiter future
    run_until_complete,  // the root task of run_until_complete: nobody awaits it
    no_awaiter,          // an asyncio callback that names no awaiter (shield's _outer_done_callback)
};

const char* awaiter_kind_name(AwaiterKind kind);

struct Awaiter {
    AwaiterKind kind = AwaiterKind::unknown;
    uint64_t via = 0;               // the object between: _GatheringFuture, TaskGroup, outer, waiter
    std::vector<uint64_t> parents;  // the awaiting tasks, in callback order, without repeats
    // Every future followed on the way (via, and further ones for nested gathers): the answer
    // can change when one of them gets a new awaiter.
    std::vector<uint64_t> followed;
    bool depth_exceeded = false;    // a chain of futures deeper than max_follow_depth was cut
};

class AwaitedByReader {
public:
    static constexpr int max_follow_depth = 8;     // futures followed from one callback
    static constexpr size_t max_callbacks = 256;   // callbacks read from one future

    AwaitedByReader(const PythonObjects& objects, const CpythonLayout& layout,
                    const AwaitedByDescription& description, FutureCallbackOffsets offsets)
        : o_(objects), l_(layout), d_(description), offsets_(offsets) {}

    // Who awaits the task (or future) that holds `callback`.
    Awaiter classify(uint64_t callback);
    // The callables added to a C Future or Task: fut_callback0 first, then fut_callbacks' in order.
    std::vector<uint64_t> future_callbacks(uint64_t future) const;
    // The children of a _GatheringFuture (nested gathers flattened), nullopt when `future` is
    // not one.
    std::optional<std::vector<uint64_t>> gathering_children(uint64_t future);

private:
    enum class TypeKind : uint8_t { other, function, method, builtin, partial, wakeup_wrapper, gathering };
    enum class CodeKind : uint8_t { other, gather, shield, shield_outer, wait, release_waiter, root,
                                    python_wakeup, task_group };
    struct CodeInfo {
        CodeKind kind = CodeKind::other;
        std::optional<uint16_t> cell;  // the closure cell read (gather's outer, shield's outer, waiter)
    };

    // The kind of `callback`; adds the tasks it leads to to out.parents; `via` gets the object between.
    AwaiterKind resolve(uint64_t callback, int depth, Awaiter& out, uint64_t& via);
    void follow(uint64_t future, int depth, Awaiter& out);
    void gather_children_into(uint64_t future, int depth, std::vector<uint64_t>& out);
    TypeKind type_kind(uint64_t object);
    CodeInfo code_info(uint64_t code);
    bool is_wakeup_builtin(uint64_t method_def);
    uint64_t closure_cell(uint64_t function, uint16_t index) const;
    uint64_t attribute(uint64_t object, std::string_view name) const;

    const PythonObjects& o_;
    const CpythonLayout& l_;
    const AwaitedByDescription& d_;
    FutureCallbackOffsets offsets_;
    // Types, code objects and method definitions are asyncio's or CPython's own, living as long as
    // the module: what each one is, read once.
    std::unordered_map<uint64_t, TypeKind> types_;
    std::unordered_map<uint64_t, CodeInfo> codes_;
    std::unordered_map<uint64_t, bool> method_defs_;
};

}  // namespace pyat
