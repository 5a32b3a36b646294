// Checking, before any sample is taken, that a process's memory matches the layout we are about
// to walk it with: a wrong guess must fail with a message, never turn into garbage stacks.
#pragma once

#include <cstdint>
#include <string>

#include "cpython/cpython_layout.h"
#include "process/process_memory.h"

namespace pyat {

enum class LayoutVerdict {
    ok,
    not_initialized,  // the interpreter has not set up its thread list yet: try again shortly
    mismatch,         // the process is not laid out as `layout` says
};

struct LayoutCheck {
    LayoutVerdict verdict = LayoutVerdict::ok;
    std::string problem;  // what did not match (mismatch, not_initialized)
};

// Follows _PyRuntime -> interpreter -> thread list and checks each thread points back at its
// interpreter. On 3.13+ also compares the layout with the interpreter's own _Py_DebugOffsets
// (cookie "xdebugpy" at the start of _PyRuntime), and refuses free-threaded builds.
LayoutCheck check_layout(const ProcessMemory& memory, uint64_t runtime_address, const CpythonLayout& layout);

}  // namespace pyat
