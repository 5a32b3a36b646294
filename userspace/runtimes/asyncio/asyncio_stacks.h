// asyncio's part of one traced process on the profile side: CPU samples rooted at the running task
// and, above it, the tasks that await it (the loop's plumbing hidden); with --clock wall, the
// suspended tasks' waits charged at their awaits from a periodic scan of the task registries;
// --group-by task roots.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpython/python_process.h"
#include "profile/runtime_stacks.h"
#include "profile/traced_process.h"
#include "runtimes/asyncio/asyncio_description.h"
#include "runtimes/asyncio/task_scan.h"

namespace pyat {

class AsyncioStacks final : public RuntimeStacks {
public:
    // The process has imported asyncio: its stacks are made logical and its tasks read.
    void follow(const AsyncioDescription& description, const PythonProcess& process);
    // --asyncio-steps: the kernel reports each task step's start (EVENT_TASK_STEP): a task's wait
    // ends then, exactly, instead of at the next scan.
    void time_steps() { steps_ = true; }

    bool on_record(TracedProcess& t, const py_sample& sample, size_t size) override;
    bool rewrite(TracedProcess& t, const py_sample& sample, size_t first, Stack& stack) override;
    void on_cpu_stack(TracedProcess& t, const py_sample& sample, const Stack& frames) override;
    std::optional<uint32_t> group_root(TracedProcess& t, const py_sample& sample) override;
    std::optional<int> poll(TracedProcess& t, uint64_t now_ns) override;
    void retire(TracedProcess& t, uint64_t end_ns) override;
    void finish(TracedProcess& t, uint64_t end_ns) override;
    void label_groups(TracedProcess& t) override;

    // Whether a sample showed an asyncio event loop running (a task, a callback or its plumbing).
    bool loop_ran() const { return loop_ran_; }
    // What the scans cost, for the end-of-run summary.
    const TaskScanCost& scan_cost() const { return cost_; }
    // Why its tasks cannot be read ("" while they can or before it follows asyncio).
    std::string unusable() const { return scan_ ? scan_->unusable() : ""; }

private:
    bool is_plumbing(TracedProcess& t, uint32_t function);
    // The task whose coroutine frame the kernel recorded in `sample` (nullptr: none known, e.g. a
    // plain callback), scanning again first when no scan since the sample has seen it.
    const AsyncioTask* running_task(TracedProcess& t, const py_sample& sample);
    // The logical frames of the awaiters of `sample`'s running task (`task`, nullptr: not known),
    // root first, each at its await.
    void append_awaiters(TracedProcess& t, const py_sample& sample, const AsyncioTask* task, Stack& stack);
    // A task's own await chain (suspended), root first.
    void append_await_frames(TracedProcess& t, const AsyncioTask& task, Stack& stack);
    uint32_t task_group(TracedProcess& t, const AsyncioTask& task);
    // The blocking report: a loop thread ran `duration_ns` from `start_ns` without polling.
    void on_loop_busy(TracedProcess& t, uint32_t tid, uint64_t start_ns, uint64_t duration_ns);
    // Scans the registries now unless the budget says not yet (with --clock wall, charging the
    // waits since the last scan first); false: not now.
    bool scan_now(TracedProcess& t, uint64_t now_ns);
    // --clock wall: charge every suspended or ready task from `from_ns` to `to_ns`.
    void charge_waits(TracedProcess& t, uint64_t from_ns, uint64_t to_ns);
    // One task's wait from `from_ns` to `to_ns`, at its await chain (or ready) under its awaiters.
    void charge_task(TracedProcess& t, const AsyncioTask& task, uint64_t from_ns, uint64_t to_ns);
    // --asyncio-steps: `task` began a step at `ns`: its wait ends.
    void on_step(TracedProcess& t, uint64_t task, uint64_t ns);

    struct CachedTask {  // the last sample's answer (asked for by rewrite, group_root, on_cpu_stack)
        const py_sample* sample = nullptr;
        uint64_t ktime_ns = 0;
        uint32_t tid = 0;
        uint64_t task = 0;
    } cached_;
    bool following_ = false;
    bool loop_ran_ = false;
    std::vector<std::pair<std::string, std::string>> plumbing_;  // (file suffix, co_name)
    std::unordered_map<uint32_t, bool> plumbing_functions_;      // function index -> hidden
    std::unique_ptr<TaskScan> scan_;
    TaskScanCost cost_;
    uint64_t last_charge_ns_ = 0;        // the waits are charged up to here
    uint64_t next_scan_ns_ = 0;          // the next periodic scan
    uint64_t next_allowed_scan_ns_ = 0;  // no scan before (the budget)
    double typical_scan_ns_ = 0;         // the scans' recent time (a moving average)
    std::minstd_rand pause_draws_{std::random_device{}()};  // how long each pause between scans is
    // Blocking report: recent CPU samples per loop thread (when, stack, the task running: its label).
    struct RecentSample {
        uint64_t ktime_ns;
        Stack stack;
        std::string task;
    };
    std::unordered_map<uint32_t, std::deque<RecentSample>> recent_samples_;
    // --clock wall: each task's stack as last charged (rebuilt when it or its awaiters are read anew).
    // Per (group, stack) charged with waits: ns*hz not yet a whole sample. Kept by where it is
    // charged, not by task: a per-request task lives a few charges, and what each leaves short of
    // a sample (half of one on average) adds up on the stack such tasks share instead of being
    // dropped with the task.
    std::map<std::pair<uint32_t, Stack>, uint64_t> wait_remainders_;
    struct Charged {
        uint64_t serial = 0, awaiters = 0;
        Stack stack;
        std::optional<uint32_t> group;
        uint64_t* remainder = nullptr;  // in wait_remainders_ (its nodes never move)
    };
    std::unordered_map<uint64_t, Charged> charged_;
    // --asyncio-steps: per task, its wait charged up to `charged_to` (its last step, or a scan since),
    // and the read of it current at that step (`serial`: whether a scan saw its new wait since).
    bool steps_ = false;
    struct Stepped {
        uint64_t charged_to = 0;
        uint64_t serial = 0;
    };
    std::unordered_map<uint64_t, Stepped> stepped_;
    // --group-by task: task address -> (group index, serial); serials in order of appearance.
    std::unordered_map<uint64_t, uint32_t> task_groups_;
    uint32_t next_task_serial_ = 1;
};

}  // namespace pyat
