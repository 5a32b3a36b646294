// Turns kernel events into the aggregated Profile: one ProcessProfile per traced process,
// code objects resolved while the process is alive, off-CPU time converted to samples.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>

#include "code_resolver.h"
#include "profile.h"
#include "pysample.h"
#include "python_process.h"

namespace pyat {

class StackAggregator {
public:
    StackAggregator(Clock clock, unsigned hz) : clock_(clock), hz_(hz) {}

    void add_process(const PythonProcess& process);
    bool has_process(pid_t pid) const { return processes_.count(pid) != 0; }

    // One EVENT_CPU_SAMPLE or EVENT_OFFCPU record (header plus hdr.nframes frames).
    void add_sample(const py_sample& sample);

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
    };

    uint64_t weight_of(Traced& t, const py_sample& sample);

    Clock clock_;
    unsigned hz_;
    uint64_t samples_ = 0;
    std::map<pid_t, std::unique_ptr<Traced>> processes_;
    std::vector<pid_t> order_;
};

}  // namespace pyat
