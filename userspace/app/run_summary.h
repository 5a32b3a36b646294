// The end of a sampling run on stderr: the headline (why it stopped, how much was sampled), what
// the runtimes' hooks cost, what was lost or could not be named, and what could not be followed.
#pragma once

#include <cstdint>
#include <string>

#include "app/runtime_set.h"

namespace pyat {

struct RunCounts {
    uint64_t unresolved_frames = 0;  // frames that could not be named
    uint64_t code_names_lost = 0;    // namings lost to a full ring buffer
    uint64_t not_yet_sampled = 0;    // samples not taken while a process's runtimes were looked for
};

void print_run_summary(const RunEnd& end, const std::string& stop_reason, const RunCounts& counts,
                       const RuntimeSet& runtimes);

}  // namespace pyat
