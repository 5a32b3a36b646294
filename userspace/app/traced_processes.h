// The processes a sampling run traces: starting to trace one (the kernel registration, the code
// objects' destructor hook, threads already asleep, the runtimes' looks), and keeping the set in
// step with what the kernel reports (forks, execs, exits) and what discovery finds.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "app/runtime_set.h"
#include "kernel/bpf_sampler.h"
#include "process/target_discovery.h"
#include "profile/stack_aggregator.h"

namespace pyat {

// What the kernel said about processes, queued by the record handler until the loop's next turn.
struct ProcessEvents {
    std::vector<pid_t> exited;
    std::vector<std::pair<pid_t, pid_t>> forks;  // (child, parent), traced by the kernel already
    std::vector<pid_t> replaced;                 // traced processes that exec'd another program
    // EVENT_EXEC, EVENT_FORK, EVENT_EXIT; false: a record of another kind.
    bool on_record(const event_header& header, const StackAggregator& aggregator, TargetDiscovery* discovery);
};

std::string describe(const PythonProcess& p);  // "PID 42 (python3 app.py, CPython 3.11.2)"

class TracedProcesses {
public:
    using Steady = std::chrono::steady_clock;

    TracedProcesses(const Options& options, BpfSampler& sampler, StackAggregator& aggregator, RuntimeSet& runtimes,
                    RuntimeContext& context, TargetDiscovery* discovery);

    // Traces `p` from now. How it was found decides when the kernel samples it: at once if it is a
    // traced process's child (sampled since its fork) or has just exec'd (nothing of its runtimes
    // is loaded yet); a process found running, after its runtimes have looked at it.
    enum class Found { running, at_fork, at_exec };
    void start(const PythonProcess& p, Found found = Found::running);
    // Processes that exec'd, forked or exited since the last turn, and those discovery found.
    void update(ProcessEvents& events, Steady::time_point now);

    const std::set<pid_t>& live() const { return live_; }  // traced and still running
    bool traced(pid_t pid) const { return aggregator_.has_process(pid); }

private:
    void follow_code_objects(const PythonProcess& p, uint64_t code_type, std::string why);

    const Options& options_;
    BpfSampler& sampler_;
    StackAggregator& aggregator_;
    RuntimeSet& runtimes_;
    RuntimeContext& context_;
    TargetDiscovery* discovery_;
    std::set<pid_t> live_;
    Steady::time_point next_liveness_{};
};

}  // namespace pyat
