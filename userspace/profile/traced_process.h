// One traced process on the profile side: its code resolver, its profile, its thread names, and
// the steps every record goes through on its way into the profile (frames to a root-first stack,
// time to ticks, the group root, a blocking slice); the runtimes' parts keep the rest.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "cpython/code_resolver.h"
#include "cpython/python_process.h"
#include "cpython/thread_names.h"
#include "profile/profile.h"
#include "profile/runtime_stacks.h"

namespace pyat {

struct AggregatorConfig {
    Clock clock = Clock::cpu;
    unsigned hz = 99;
    GroupBy group_by = GroupBy::code;
    uint64_t block_threshold_ns = 0;  // 0: no blocking report
    bool raw_stacks = false;          // --raw-stacks: no logical inlineCallbacks stacks
    // The runtimes' parts of every process (Runtime::make_stacks), in registry order.
    std::vector<std::function<std::unique_ptr<RuntimeStacks>()>> runtime_stacks;
};

// Whether the record holds the hdr.nframes frames its header claims.
inline bool frames_fit(const py_sample& sample, size_t size) {
    return sample.hdr.nframes <= (size - sizeof(event_header)) / sizeof(py_frame);
}


class TracedProcess {
public:
    TracedProcess(const PythonProcess& process, const AggregatorConfig& config, std::vector<BlockingSlice>& blocking,
                  uint64_t added_ns, uint64_t code_type, CodeResolver::StillNamed still_named);

    // The runtime part of type T (nullptr: that runtime is not in this run).
    template <typename T>
    T* stacks() {
        for (auto& r : runtimes)
            if (auto* s = dynamic_cast<T*>(r.get())) return s;
        return nullptr;
    }

    // The number of --hz ticks in `ns`, carrying the fraction over in `remainder`.
    uint64_t ticks(uint64_t ns, uint64_t& remainder) const;
    StackFrame resolve(const py_frame& frame);
    // The sample's stack (root first) from its frames, starting at frames[first] (innermost).
    Stack frames_of(const py_sample& sample, size_t first = 0);
    // Charges `weight` to the stack, under the group root `root` if any.
    void add(std::optional<uint32_t> root, const Stack& frames, uint64_t weight);
    // The group root of the sample with --group-by (nullopt: --group-by code).
    std::optional<uint32_t> root_for(const py_sample& sample);
    uint32_t thread_frame(uint32_t tid);
    void refresh_thread_names();
    // The stack at `frame` (a frame of the process, innermost), as an off-CPU record of thread `tid`.
    std::unique_ptr<py_sample> read_stack(const ProcessMemory& memory, uint64_t frame, uint32_t tid);
    // A slice of thread `tid` that ran too long: `who` ran `duration_ns` `what` ("without switching").
    void report_slice(uint32_t tid, std::string who, const char* what, uint64_t start_ns, uint64_t duration_ns,
                      bool ongoing, const std::deque<Stack>& samples);

    PythonProcess process;
    const AggregatorConfig& config;
    CodeResolver resolver;
    ProcessProfile profile;
    ThreadNames thread_names;
    std::unordered_map<uint32_t, uint64_t> offcpu_remainder;  // tid -> ns*hz not yet a sample
    std::unordered_map<uint32_t, uint32_t> thread_frames;     // tid -> its root frame (group by thread)
    std::chrono::steady_clock::time_point names_read{};
    std::vector<std::unique_ptr<RuntimeStacks>> runtimes;
    uint64_t added_ns = 0;
    uint64_t samples = 0;
    bool retired = false;  // exec'd another program: its memory is no longer this process's

private:
    std::vector<BlockingSlice>& blocking_;
};

}  // namespace pyat
