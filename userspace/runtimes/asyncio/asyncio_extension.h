// Where a process's _asyncio C extension is: the file it maps (as /proc/PID/maps names it), or
// its interpreter when the module is linked in (or not loaded: only pure-Python tasks then).
#pragma once

#include <string>
#include <vector>

#include "process/proc_maps.h"

namespace pyat {

struct AsyncioExtension {
    std::string path;      // as the maps name it (" (deleted)" kept): open with TargetFile::mapped
    bool separate = true;  // false: `path` is the interpreter
};

AsyncioExtension asyncio_extension(const std::vector<Mapping>& maps, const std::string& interpreter);

}  // namespace pyat
