// One --mode trace run: every call of one process (-p PID or a launched command) from the
// interpreter's function probes, into exactly counted and timed profiles.
#pragma once

#include "app/options.h"

namespace pyat {

// Returns the process exit code (the launched command's in launch mode). Throws pyat::Error for
// anything the user must fix (no probes, an interpreter without function probes...).
int run_trace_session(const Options& options);

}  // namespace pyat
