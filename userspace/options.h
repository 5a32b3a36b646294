// What the user asked for on the command line, after validation.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "profile.h"

namespace pyat {

enum class OutputFormat { callgrind, folded, svg };

struct OutputSpec {
    std::string path;
    OutputFormat format;
};

enum class TargetMode { attach_pid, launch, all_processes };

struct Options {
    TargetMode mode = TargetMode::all_processes;
    int pid = 0;                          // attach_pid
    std::vector<std::string> command;     // launch: argv of the command
    std::optional<double> duration_s;     // unset: until Ctrl-C or every target exited
    std::vector<OutputSpec> outputs;      // empty: defaults are chosen once the PID is known
    unsigned hz = 99;
    Clock clock = Clock::cpu;
    GroupBy group_by = GroupBy::code;
    bool quiet = false;                   // no live status line, no summary table
};

}  // namespace pyat
