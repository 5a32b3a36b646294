// One traced process's asyncio tasks as of the last scan of its registries: each task read out of
// its memory (re-reading only those that changed), indexed by the coroutine frame a stack walk
// meets it at, and linked to the tasks that await it. What AsyncioStacks roots stacks at and
// charges waits to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "cpython/code_resolver.h"
#include "cpython/python_process.h"
#include "runtimes/asyncio/asyncio_task.h"

namespace pyat {

// What the scans cost the tracer (they cost the target nothing: process_vm_readv).
struct TaskScanCost {
    uint64_t scans = 0;
    uint64_t tasks_seen = 0;   // summed over the scans
    uint64_t tasks_read = 0;   // read anew (new or changed since the scan before)
    uint64_t ns = 0;           // the scans' own time, with charging the waits they saw
    uint64_t most_tasks = 0;   // the most tasks one scan saw
    uint64_t first_ns = 0;     // the first scan's time (it reads every task anew)
    uint64_t first_tasks = 0;  // how many tasks it read
    uint64_t adopted = 0;      // sampled tasks read one by one between scans (TaskScan::adopt)
    uint64_t by_callback = 0;  // samples of tasks gone or done before they were read, put under
                               // the awaiter their callback named
    uint64_t steps = 0;         // --asyncio-steps: task steps reported
    uint64_t steps_unread = 0;  // of them, ending a wait no scan had read (charged at the chain read before)
};

class TaskScan {
public:
    explicit TaskScan(const PythonProcess& process);
    ~TaskScan();

    // Reads the registries now (tasks' frames named through `resolver`); false when asyncio's
    // registries could not be read (not imported yet, or torn).
    bool scan(CodeResolver& resolver, TaskScanCost& cost);
    // Why this process's tasks cannot be read ("" while they can).
    const std::string& unusable() const;
    // Whether the last scan began at or after `ns` (CLOCK_MONOTONIC): every task it saw was alive then.
    bool scanned_after(uint64_t ns) const { return last_scan_start_ns_ && last_scan_start_ns_ >= ns; }
    // Whether `frame` was looked up without a task since the last scan (remembers it if not).
    bool tried_frame(uint64_t frame);
    // Reads the one task at `address` (a sample's running task, taken at `sampled_ns`, that no
    // read since then saw there: started since, perhaps where an ended one was, or last read
    // before the sample) into the last scan, linked to the tasks of that scan awaiting it; one it
    // replaces is kept as gone. Far cheaper than a scan (one task, not all), so a short-lived task
    // keeps its parents and a known one its name when the budget holds the next scan back. False
    // when it is not a readable task, or was tried at or after `sampled_ns`.
    bool adopt(uint64_t address, uint64_t sampled_ns, TaskScanCost& cost);
    // Whether the task at `address` was read (by a scan or alone) at or after `ns`: what is known
    // of it held then.
    bool read_after(uint64_t address, uint64_t ns) const;

    // The task a stack walk at `sampled_ns` met running `code` at coroutine frame `frame` (the
    // kernel's `address` for it, 0: unknown): one of the last scan seen there running that code,
    // or one gone since that was; nullptr: none known.
    const AsyncioTask* running_task(uint64_t address, uint64_t frame, uint64_t code, uint64_t sampled_ns) const;
    // The task at `address` in the last scan, or one that ended since and was there at `sampled_ns`.
    const AsyncioTask* task(uint64_t address, uint64_t sampled_ns = UINT64_MAX) const;
    const std::vector<const AsyncioTask*>& tasks() const { return order_; }
    // The task of the last scan that a task's done-callback `callback` (the kernel's
    // event_header.task_callback) says awaits it: the parent of a task gone before it could be
    // read. Read anew each time: once the callback is freed its address names another's.
    const AsyncioTask* awaiter_by_callback(uint64_t callback, TaskScanCost& cost);
    // The tasks awaiting `task`, root first (its primary awaiter path; none for a root task).
    std::vector<const AsyncioTask*> awaiters(const AsyncioTask& task) const;
    // Whether `task` waits for other tasks (a gather's, a TaskGroup's children, or `await task`).
    bool awaits_tasks(const AsyncioTask& task) const;
    // Whether `task` was running (a loop's current task) at the scan.
    bool running(const AsyncioTask& task) const { return running_.count(task.address) != 0; }

private:
    // Keeps `task` (ended, or replaced by another at its address) for samples taken before it went.
    void bury(const AsyncioTask& task, uint64_t absent_since);
    // Moves what bury() kept into gone_.
    void flush_buried();
    // `fresh`, just read where `old` was: the same task (keeping the frame its ended coroutine
    // dropped), or another, `old` being buried (true).
    bool follow_on(const AsyncioTask& old, AsyncioTask& fresh, uint64_t now_ns);
    // What awaits pending `task`, copied for when it is done (its callbacks are then cleared).
    void keep_awaiters(const AsyncioTask& task);

    struct Impl;
    std::unique_ptr<Impl> impl_;
    uint64_t last_scan_start_ns_ = 0;
    uint64_t reads_ = 0;  // tasks read anew so far: their records' serials
    std::unordered_map<uint64_t, AsyncioTask> tasks_;
    std::vector<const AsyncioTask*> order_;
    std::unordered_map<uint64_t, const AsyncioTask*> by_frame_;
    std::unordered_set<uint64_t> running_;
    std::unordered_set<uint64_t> waiting_on_tasks_;  // tasks some other task of the scan names as parent
    std::unordered_set<uint64_t> tried_frames_;
    // Since the last scan: when adopt() last tried each address, and when it last read a task there.
    std::unordered_map<uint64_t, uint64_t> tried_tasks_;
    std::unordered_map<uint64_t, uint64_t> adopted_at_;
    // Tasks gone from the registries (by their coroutine frame), with their awaiters as last seen.
    struct Gone {
        AsyncioTask task;
        std::vector<AsyncioTask> awaiters;
        uint64_t absent_since = 0;  // the start of the first scan that did not list it
    };
    std::unordered_map<uint64_t, Gone> buried_;  // during a scan: what goes into gone_ once it is over
    static constexpr uint64_t gone_kept_ns = 1'000'000'000;
    std::unordered_map<uint64_t, Gone> gone_;              // by task
    // Pending tasks' awaiters as last seen (copies), for when they are done.
    std::unordered_map<uint64_t, std::vector<AsyncioTask>> pending_awaiters_;
    std::unordered_map<uint64_t, uint64_t> gone_by_frame_;  // coroutine frame -> task
};

}  // namespace pyat
