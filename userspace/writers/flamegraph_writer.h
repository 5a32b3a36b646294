// A self-contained interactive SVG flame graph: tooltips, click to zoom, search.
#pragma once

#include <ostream>

#include "profile/profile.h"

namespace pyat {

void write_flamegraph(const Profile& profile, std::ostream& out);

}  // namespace pyat
