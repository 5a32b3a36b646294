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
    uint32_t dev_major = 0, dev_minor = 0;  // the device of the mapped file ("fd:01")
    uint64_t inode = 0;
    // As the kernel shows it: a file path (spaces kept, " (deleted)" kept when the file was
    // removed or replaced since it was mapped), a pseudo path such as "[heap]" or "[vdso]", or ""
    // for anonymous memory.
    std::string path;

    bool executable() const { return perms.size() > 2 && perms[2] == 'x'; }
    // The mapped file no longer exists under `path` (e.g. the package was upgraded): opening
    // `path` without the suffix would give another file, or none. /proc/PID/map_files/START-END
    // still reaches the mapped one (see TargetFile).
    bool deleted() const;
};

// Parses the text of /proc/PID/maps; malformed lines are skipped.
std::vector<Mapping> parse_maps(std::string_view text);

// Throws pyat::Error "no process with PID N" when the process does not exist, and
// "cannot read the memory map of PID N: reason" when it cannot be read (e.g. not permitted).
std::vector<Mapping> read_maps(int pid);

}  // namespace pyat
