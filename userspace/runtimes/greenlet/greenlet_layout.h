// greenlet's internals the switch hook reads, per greenlet major version and CPython minor
// version, loaded from probes/greenlet/*.conf; and finding greenlet in a process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "process/proc_maps.h"
#include "greenlet/greenlet_abi.h"

namespace pyat {

struct GreenletLayout {
    int major = 0, minor = 0;  // the CPython version the extension is built for
    int greenlet_major = 0;
    const char* source = "";
    const char* switch_symbol = "";
    greenlet_layout bpf{};
};

const std::vector<GreenletLayout>& known_greenlet_layouts();

// greenlet's extension module as loaded in one process.
struct GreenletModule {
    std::string path;     // as in /proc/PID/maps (open it with TargetFile::mapped)
    std::string version;  // greenlet's __version__, "" if unknown
    const GreenletLayout* layout = nullptr;  // nullptr: this greenlet/CPython pair is not described
};

// The greenlet extension mapped by PID, if any (it appears when the program imports greenlet).
std::optional<GreenletModule> find_greenlet_module(pid_t pid, const std::vector<Mapping>& maps,
                                                   int python_major, int python_minor);

}  // namespace pyat
