// What the user asked for on the command line, after validation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "profile/profile.h"
#include "writers/registry.h"

namespace pyat {

enum class TargetMode { attach_pid, launch, all_processes };

constexpr unsigned default_block_threshold_ms = 100;  // gevent's own monitor uses 100 ms

struct Options {
    TargetMode mode = TargetMode::all_processes;
    int pid = 0;                          // attach_pid
    std::vector<std::string> command;     // launch: argv of the command
    std::optional<double> duration_s;     // unset: until Ctrl-C or every target exited
    std::vector<OutputSpec> outputs;      // empty: defaults are chosen once the PID is known
    unsigned hz = 99;
    Clock clock = Clock::cpu;
    GroupBy group_by = GroupBy::code;
    // --block-threshold: report greenlets running longer than this without switching. Given or
    // not, the report is on whenever greenlet switches are hooked (--clock wall, --group-by greenlet).
    std::optional<unsigned> block_threshold_ms;
    bool quiet = false;                   // no live status line, no summary table
    bool raw_stacks = false;              // no logical inlineCallbacks stacks
    bool subprocesses = false;            // -p: also the processes it forks or execs (--subprocesses)
    bool deferred_log = false;            // Twisted Deferred lifecycle into -o *.jsonl
    bool deferred_log_by_default = false; // on because an event log without a blocking report was asked for
    bool asyncio_steps = false;           // --asyncio-steps: an entry hook on every asyncio task step
    bool trace = false;                   // --mode trace: every call from the function probes
    std::vector<std::string> filters;     // --filter GLOB (--mode trace)
};

}  // namespace pyat
