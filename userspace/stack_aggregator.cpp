#include "stack_aggregator.h"

#include <algorithm>

namespace pyat {

namespace {
constexpr uint64_t ns_per_s = 1'000'000'000ULL;
}

void StackAggregator::add_process(const PythonProcess& process) {
    if (processes_.count(process.pid)) return;
    auto t = std::make_unique<Traced>(Traced{process, CodeResolver(ProcessMemory(process.pid), *process.layout),
                                             ProcessProfile{}, {}});
    t->profile.pid = process.pid;
    t->profile.program = process.program;
    t->profile.command_line = process.command_line;
    t->profile.python_version = process.version;
    processes_.emplace(process.pid, std::move(t));
    order_.push_back(process.pid);
}

uint64_t StackAggregator::weight_of(Traced& t, const py_sample& sample) {
    if (sample.hdr.kind == EVENT_CPU_SAMPLE) return 1;
    // Off-CPU: the number of --hz ticks that fell into the interval, carrying the
    // fraction over to the thread's next interval so nothing is lost to rounding.
    uint64_t& remainder = t.offcpu_remainder[sample.hdr.tid];
    unsigned __int128 scaled = (unsigned __int128)sample.hdr.weight_ns * hz_ + remainder;
    remainder = uint64_t(scaled % ns_per_s);
    return uint64_t(scaled / ns_per_s);
}

void StackAggregator::add_sample(const py_sample& sample) {
    auto it = processes_.find(pid_t(sample.hdr.pid));
    if (it == processes_.end()) return;
    Traced& t = *it->second;
    if (sample.hdr.kind == EVENT_OFFCPU && clock_ != Clock::wall) return;
    uint64_t weight = weight_of(t, sample);
    if (weight == 0) return;

    ProcessProfile& profile = t.profile;
    Stack stack;
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    stack.reserve(n + 1);
    if (sample.hdr.flags & SAMPLE_TRUNCATED)
        stack.push_back({profile.intern({"[truncated: deeper frames not recorded]", "", 0}), 0});
    else if (n && (sample.hdr.flags & SAMPLE_READ_FAULT))
        stack.push_back({profile.intern({"[partial stack: unreadable frame]", "", 0}), 0});
    for (size_t i = n; i-- > 0;) {  // kernel order is innermost first
        ResolvedFrame f = t.resolver.resolve(sample.frames[i]);
        stack.push_back({profile.intern({*f.name, *f.file, f.first_line}), f.line});
    }
    if (stack.empty()) {
        const char* what = (sample.hdr.flags & SAMPLE_NO_THREAD) ? "[non-Python thread]"
                                                                  : "[no Python frame]";
        stack.push_back({profile.intern({what, "", 0}), 0});
    }
    profile.add(stack, weight);
    samples_ += weight;
}

std::vector<ProcessProfile> StackAggregator::take_profiles() {
    std::vector<ProcessProfile> out;
    for (pid_t pid : order_) out.push_back(std::move(processes_.at(pid)->profile));
    return out;
}

}  // namespace pyat
