// What the tracer relies on in asyncio's own Python code, per CPython minor version, loaded from
// probes/asyncio/names/*.conf: where a task's coroutine is called from (the stack walk's task
// entries) and which frames of the loop's plumbing logical stacks hide. Names only: they are
// looked up in the target's objects.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pyat {

struct AsyncioDescription {
    int major = 0, minor = 0;  // the first CPython version described
    const char* source = "";
    const char* task_entries = "";     // space-separated module:Class.attribute
    const char* plumbing_frames = "";  // space-separated file-suffix:function (co_name)
};

// The description for CPython major.minor: the newest file not above it; nullptr before the first.
const AsyncioDescription* asyncio_description_for(int major, int minor);

// One `module:Class.attribute` of task_entries.
struct AttributePath {
    std::string module;
    std::vector<std::string> attributes;  // {"Handle", "_run"}
};
std::vector<AttributePath> task_entry_paths(const AsyncioDescription& d);

}  // namespace pyat
