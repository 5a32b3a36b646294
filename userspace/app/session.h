// One run of the tracer, from validated options to written profiles.
#pragma once

#include "app/options.h"

namespace pyat {

// Returns the process exit code (the launched command's in launch mode).
// Throws pyat::Error for anything the user must fix.
int run_session(const Options& options);

}  // namespace pyat
