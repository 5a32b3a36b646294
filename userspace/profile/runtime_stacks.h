// A runtime's part of one traced process on the profile side: its own record kinds, the logical
// stacks it rewrites raw ones into, the group (greenlet, later task) a sample belongs to, what it
// learns from every CPU sample's stack, and what it charges or reports when the process is retired
// or the run ends. The runtime makes one per traced process (Runtime::make_stacks).
#pragma once

#include <cstdint>
#include <optional>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "profile/profile.h"

namespace pyat {

class TracedProcess;

class RuntimeStacks {
public:
    virtual ~RuntimeStacks() = default;

    // A record of a kind only this runtime's hooks send (`size`: the record's, see frames_fit);
    // false: not one of its kinds.
    virtual bool on_record(TracedProcess&, const py_sample&, size_t /*size*/) { return false; }
    // Appends the logical stack (root first) of the sample's frames from frames[first] (innermost)
    // outwards; false: it has none for this process (the frames are taken as they are).
    virtual bool rewrite(TracedProcess&, const py_sample&, size_t /*first*/, Stack&) { return false; }
    // Every CPU sample, with the stack it was charged at.
    virtual void on_cpu_stack(TracedProcess&, const py_sample&, const Stack&) {}
    // The root frame of the sample's group with --group-by greenlet; nullopt: not one of its groups.
    virtual std::optional<uint32_t> group_root(TracedProcess&, const py_sample&) { return std::nullopt; }
    // Now and then while the run goes on (`now_ns`: CLOCK_MONOTONIC, the kernel's clock): a runtime
    // that reads the target's memory on its own schedule (asyncio's task scan) does it here.
    // Returns how many ms it wants to wait at most before the next call (nullopt: no wish).
    virtual std::optional<int> poll(TracedProcess&, uint64_t /*now_ns*/) { return std::nullopt; }
    // The process exec'd another program (its memory is no longer its own), or the run ended.
    virtual void retire(TracedProcess&, uint64_t /*end_ns*/) {}
    virtual void finish(TracedProcess&, uint64_t /*end_ns*/) {}
    // Before the profile is taken: group root frames labelled as they are known now.
    virtual void label_groups(TracedProcess&) {}
};

}  // namespace pyat
