// Turns kernel events into the aggregated Profile: one ProcessProfile per traced process,
// code objects resolved while the process is alive, off-CPU time converted to samples. The
// records of the runtimes' own kinds go to their parts of each process (RuntimeStacks): the
// greenlet tracker, Twisted's logical stacks and Deferred log.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "cpython/code_resolver.h"
#include "cpython/python_process.h"
#include "profile/profile.h"
#include "profile/traced_process.h"

namespace pyat {

class StackAggregator {
public:
    explicit StackAggregator(AggregatorConfig config) : config_(std::move(config)) {}

    // `added_ns`: when tracing it began (CLOCK_MONOTONIC); `code_type` and `still_named`: see
    // CodeResolver.
    void add_process(const PythonProcess& process, uint64_t added_ns = 0, uint64_t code_type = 0,
                     CodeResolver::StillNamed still_named = {});
    // A code object named by the kernel (PYAT_EVENT_CODE_NAME); `size`: the record's.
    void learn_code(const code_name_event& event, size_t size);
    // The process's code resolver (nullptr: not traced), e.g. to name stacks read from userspace.
    CodeResolver* resolver_of(pid_t pid);
    // Frames that could not be named, over every process (placeholders such as "[code object ...]").
    uint64_t unresolved_frames() const;
    bool has_process(pid_t pid) const { return processes_.count(pid) != 0; }
    // The traced process's description (nullptr: not traced).
    const PythonProcess* process_of(pid_t pid) const;
    // The live traced process (nullptr: not traced), e.g. for a runtime to reach its part of it.
    TracedProcess* traced(pid_t pid);
    template <typename T>
    T* stacks_of(pid_t pid) {
        TracedProcess* t = traced(pid);
        return t ? t->stacks<T>() : nullptr;
    }
    // Every process traced, in the order they were added (retired ones too).
    std::vector<TracedProcess*> in_order();
    // The process no longer runs what it was traced as (it exec'd another program): what was
    // collected is kept as it is, nothing more is read from its memory, and the PID is free to be
    // traced again as the new program.
    void retire(pid_t pid, uint64_t end_ns);

    // A ring-buffer record of a kind the profile is made from (samples, code namings, and the
    // kinds a traced process's runtime parts take); false: another kind. Malformed records are
    // dropped.
    bool add_record(const void* data, size_t size);
    // One EVENT_CPU_SAMPLE or EVENT_OFFCPU record (header plus hdr.nframes frames).
    void add_sample(const py_sample& sample);

    // Periodic upkeep while the run goes on (re-reads thread names now and then, lets the runtimes'
    // parts read what they read on their own schedule).
    void poll();
    // How long the run may wait for records before the next poll (ms), at most `longest`.
    int wait_ms(int longest) const { return std::min(longest, next_poll_ms_); }
    // Blocking slices found since the last call (to show them as they happen).
    std::vector<BlockingSlice> take_new_blocking();

    // End of the run at `end_ns` (CLOCK_MONOTONIC): what is still parked or running is charged
    // or reported up to it.
    void finish(uint64_t end_ns);

    uint64_t samples() const;

    // The processes in the order they were added; moves the data out.
    std::vector<ProcessProfile> take_profiles();
    std::vector<BlockingSlice> take_blocking() { return std::move(blocking_); }

private:
    AggregatorConfig config_;
    // Live processes by PID; retired ones (see retire) under negative keys, so the PID is free.
    std::map<pid_t, std::unique_ptr<TracedProcess>> processes_;
    std::vector<pid_t> order_;
    pid_t retired_keys_ = 0;
    std::vector<BlockingSlice> blocking_;
    size_t blocking_taken_ = 0;
    int next_poll_ms_ = 1000;
};

}  // namespace pyat
