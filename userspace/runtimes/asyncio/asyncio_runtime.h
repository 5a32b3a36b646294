// asyncio behind the runtime contract: finds asyncio in a traced process, tells the kernel which
// code objects call a task's coroutine (so every stack walk records the running task's frame),
// and hands its part of the process (AsyncioStacks) what it needs to read the tasks.
#pragma once

#include <cstddef>
#include <map>

#include "runtimes/asyncio/task_scan.h"
#include "runtimes/runtime.h"

namespace pyat {

class AsyncioRuntime final : public Runtime {
public:
    std::string_view name() const override { return "asyncio"; }
    bool wanted(const Options& options) const override;
    std::unique_ptr<RuntimeStacks> make_stacks() const override;
    void configure(const Options& options, SamplerConfig& config) const override;
    std::vector<std::string_view> kernel_names() const override;
    Look look(const PythonProcess& process, RuntimeContext& context) override;
    std::chrono::milliseconds look_every(const Options& options) const override;
    // Only once a loop ran (Twisted imports asyncio without running its loop, for one).
    std::string blocking_end() const override { return loop_ran_ ? "a return to the asyncio event loop" : ""; }
    void finish(RuntimeContext& context, uint64_t end_ns) override;
    void summarize_costs(const RunEnd& end, std::vector<std::string>& lines) const override;
    void summarize_misses(const RunEnd& end, std::vector<std::string>& lines) const override;

private:
    // --asyncio-steps: hooks where the process's C Task begins a step; "" or why not.
    std::string hook_steps(const PythonProcess& p, RuntimeContext& context);

    size_t found_ = 0;  // processes whose tasks are followed
    size_t steps_hooked_ = 0;  // processes whose task steps are hooked
    std::vector<std::string> steps_missing_;  // --asyncio-steps: processes not hooked, and why
    bool loop_ran_ = false;
    // Looks that found asyncio half imported (some task entries not there yet), per process.
    static constexpr int max_partial_looks = 25;
    std::map<pid_t, int> partial_looks_;  // some process ran an asyncio event loop (as seen by the end)
    TaskScanCost cost_;  // every process's scans, summed at the end
    std::vector<std::string> unreadable_;  // processes whose tasks could not be read, and why
};

}  // namespace pyat
