// Checking, before anything is attached, that we may load BPF, open perf events and read
// other processes' memory.
#pragma once

#include <string>
#include <vector>

namespace pyat {

// The capabilities pyasynctrace needs that the process does not have in its effective set
// (CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON). Empty when all is well.
std::vector<std::string> missing_capabilities();

// Throws pyat::Error naming what is missing.
void require_privileges();

}  // namespace pyat
