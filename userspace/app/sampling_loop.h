// The poll step of a sampling run: reads the ring buffer, follows processes as they come and go,
// lets the runtimes look again, shows the status line, until a signal, the duration or the
// targets' end stops it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "app/blocking_report.h"
#include "app/runtime_set.h"
#include "app/status_line.h"
#include "app/stop_signals.h"
#include "app/traced_processes.h"
#include "kernel/bpf_sampler.h"
#include "process/launched_command.h"

namespace pyat {

// What the loop drives, all set up before it starts.
struct SamplingParts {
    const Options& options;
    BpfSampler& sampler;
    StackAggregator& aggregator;
    StopSignals& signals;
    LaunchedCommand* launched;  // nullptr unless the run launched its command
    const TargetDiscovery* discovery;
    ProcessEvents& events;
    TracedProcesses& targets;
    RuntimeSet& runtimes;
    RuntimeContext& context;
    StatusLine& status;
    BlockingReport& blocking;
    const RunInfo& clock_offsets;
};

struct LoopEnd {
    std::string reason;                   // "duration reached", a signal's description, ...
    std::optional<StopSignal> signal;     // the signal that stopped it, if one did
};

LoopEnd poll_until_stopped(SamplingParts& run, std::chrono::steady_clock::time_point start);

}  // namespace pyat
