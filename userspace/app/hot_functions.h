// The end-of-run table: the functions with the most self time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "profile/profile.h"

namespace pyat {

struct HotFunction {
    std::string label;
    uint64_t self = 0;
    uint64_t total = 0;  // samples whose stack contains the function (once per stack)
    double self_pct = 0;
    double total_pct = 0;
};

// The n functions with the most self weight across all processes (merged by frame label);
// ties broken by total weight, then by label.
std::vector<HotFunction> hottest_functions(const Profile& profile, size_t n);

// "  self%  total%  function" and one row per function.
std::string format_hot_table(const std::vector<HotFunction>& rows);

}  // namespace pyat
