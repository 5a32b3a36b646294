// Callgrind profiles (kcachegrind, callgrind_annotate): one process per file.
#pragma once

#include <ostream>

#include "profile/profile.h"

namespace pyat {

void write_callgrind(const ProcessProfile& process, const RunInfo& run, std::ostream& out);

}  // namespace pyat
