// The awaited-by graph of one process's asyncio tasks, from one registry scan: each task's
// parents (the tasks awaiting it; two or more in a diamond) and its logical ancestry, root first.
// Built from both sides: a task's callbacks (AwaitedByReader) and a parent's fut_waiter (a task,
// or a _GatheringFuture listing its children). Incremental: a rescan re-reads only what changed.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "runtimes/asyncio/asyncio_task.h"
#include "runtimes/asyncio/awaited_by.h"

namespace pyat {

struct TaskParent {
    uint64_t task = 0;
    AwaiterKind kind = AwaiterKind::unknown;  // how it awaits (the child's callback, or its fut_waiter)
    uint64_t via = 0;                         // the _GatheringFuture / TaskGroup / future between, if any
};

struct TaskAncestry {
    enum class Cut : uint8_t {
        none,   // reached a task nobody (known) awaits
        cycle,  // the next primary parent was already in the chain: cut there
        depth,  // longer than the bound: the outermost tasks were left out
    };
    std::vector<uint64_t> tasks;  // root first, ending with the task asked about
    Cut cut = Cut::none;
};

struct TaskGraphUpdate {
    size_t tasks = 0;     // in the scan
    size_t reread = 0;    // tasks whose awaiters were read again
    size_t removed = 0;   // tasks gone since the last scan
};

class TaskGraph {
public:
    static constexpr size_t default_max_depth = 64;

    explicit TaskGraph(AwaitedByReader& reader) : reader_(reader) {}

    // One scan: every task of the process, as read now. A task's awaiters are read again when its
    // callbacks or fut_waiter changed, when a changed task now waits on a future its answer went
    // through (a second awaiter of the same gather or shield), and while its answer went through
    // a future nobody awaits yet; otherwise the last answer stands. Tasks not in the scan are gone.
    TaskGraphUpdate update(const std::vector<AsyncioTask>& scan);
    TaskGraphUpdate update(const std::vector<const AsyncioTask*>& scan);  // the same, without copies

    // One task read between scans (TaskScan::adopt), new or in place of the one at its address:
    // its awaiters read, linked to the tasks in the graph that it names (what awaits it through
    // its fut_waiter is left to the next update).
    void put(const AsyncioTask& task);

    // Every task of the last scan that awaits `task`, the primary parent first: the child's
    // callbacks in the order they were added (fut_callback0 first), then parents found only by
    // their fut_waiter, by address. Parents not in the scan are left out (counted below).
    const std::vector<TaskParent>& parents(uint64_t task) const;
    // How many awaiters of `task` named a task that was not in the scan.
    size_t missing_parents(uint64_t task) const;
    // The tasks awaiting `task` through primary parents, root first: A awaits B awaits C gives
    // C's ancestry A;B;C. At most max_depth tasks (the innermost kept).
    TaskAncestry ancestry(uint64_t task, size_t max_depth = default_max_depth) const;
    bool contains(uint64_t task) const { return tasks_.count(task) != 0; }

private:
    struct Entry {
        std::vector<uint64_t> callbacks;
        uint64_t fut_waiter = 0;
        std::vector<TaskParent> awaiters;      // from the child's callbacks, in order
        std::vector<uint64_t> followed;        // futures those answers went through
        bool unresolved = false;               // one went through a future nobody awaits (yet)
        std::vector<uint64_t> children;        // from its fut_waiter: the tasks it awaits
        AwaiterKind children_kind = AwaiterKind::unknown;
    };
    void read_awaiters(uint64_t address, Entry& entry);
    // `read_gather`: the task changed: read what its fut_waiter is (a gather lists children).
    void read_children(Entry& entry, bool read_gather);
    void link();
    // `address`'s parents from its own callbacks: those in the graph, the rest counted missing.
    void link_awaiters(uint64_t address, const Entry& e);

    AwaitedByReader& reader_;
    std::unordered_map<uint64_t, Entry> tasks_;
    std::unordered_map<uint64_t, std::vector<TaskParent>> parents_;
    std::unordered_map<uint64_t, size_t> missing_;
};

}  // namespace pyat
