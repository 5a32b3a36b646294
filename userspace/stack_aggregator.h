// Turns kernel events into the aggregated Profile: one ProcessProfile per traced process,
// code objects resolved while the process is alive, off-CPU time converted to samples.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>

#include "code_resolver.h"
#include "profile.h"
#include "pysample.h"
#include "python_process.h"
#include "thread_names.h"

namespace pyat {

class StackAggregator {
public:
    StackAggregator(Clock clock, unsigned hz, GroupBy group_by = GroupBy::code)
        : clock_(clock), hz_(hz), group_by_(group_by) {}

    void add_process(const PythonProcess& process);
    bool has_process(pid_t pid) const { return processes_.count(pid) != 0; }

    // One EVENT_CPU_SAMPLE or EVENT_OFFCPU record (header plus hdr.nframes frames).
    void add_sample(const py_sample& sample);

    // Periodic upkeep while the run goes on (re-reads thread names now and then).
    void poll();

    uint64_t samples() const { return samples_; }
    size_t process_count() const { return processes_.size(); }

    // The processes in the order they were added; moves the data out.
    std::vector<ProcessProfile> take_profiles();

private:
    struct Traced {
        PythonProcess process;
        CodeResolver resolver;
        ProcessProfile profile;
        std::unordered_map<uint32_t, uint64_t> offcpu_remainder;  // tid -> ns*hz not yet a sample
        ThreadNames thread_names;
        std::unordered_map<uint32_t, uint32_t> thread_frames;  // tid -> its root frame (group by thread)
        std::chrono::steady_clock::time_point names_read{};
    };

    uint64_t weight_of(Traced& t, const py_sample& sample);
    uint32_t thread_frame(Traced& t, uint32_t tid);
    void refresh_thread_names(Traced& t);

    Clock clock_;
    unsigned hz_;
    GroupBy group_by_;
    uint64_t samples_ = 0;
    std::map<pid_t, std::unique_ptr<Traced>> processes_;
    std::vector<pid_t> order_;
};

}  // namespace pyat
