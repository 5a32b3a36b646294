// The memory map of a process (/proc/PID/maps).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pyat {

struct Mapping {
    uint64_t start = 0, end = 0, offset = 0;
    std::string perms;  // e.g. "r-xp"
    uint64_t inode = 0;
    std::string path;   // file path, "[heap]"-style pseudo path, or "" for anonymous memory
    bool executable() const { return perms.size() > 2 && perms[2] == 'x'; }
};

// Parses the text of /proc/PID/maps; malformed lines are skipped.
std::vector<Mapping> parse_maps(std::string_view text);

// Throws pyat::Error "no process with PID N" when the process does not exist.
std::vector<Mapping> read_maps(int pid);

}  // namespace pyat
