// Folded stacks ("root;...;leaf COUNT"), as read by flamegraph.pl and speedscope.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "profile/profile.h"

namespace pyat {

// Stacks as lists of frame labels (root first) with their weights, merged by label; with more
// than one process each stack starts with the process's label, and a grouped stack with its
// group's label below it. Shared by the folded and flame-graph writers.
std::map<std::vector<std::string>, uint64_t> labelled_stacks(const Profile& profile);

void write_folded(const Profile& profile, std::ostream& out);

}  // namespace pyat
