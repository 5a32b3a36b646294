#include "stack_aggregator.h"

#include <fmt/format.h>

#include <algorithm>

namespace pyat {

namespace {
constexpr uint64_t ns_per_s = 1'000'000'000ULL;
// How often thread names are re-read from the target while grouping by thread.
constexpr auto thread_names_interval = std::chrono::milliseconds(250);

std::string thread_label(uint32_t tid, const std::string& name) {
    return name.empty() ? fmt::format("thread [{}]", tid) : fmt::format("thread \"{}\" [{}]", name, tid);
}
}  // namespace

void StackAggregator::add_process(const PythonProcess& process) {
    if (processes_.count(process.pid)) return;
    ProcessMemory memory(process.pid);
    auto t = std::make_unique<Traced>(Traced{process, CodeResolver(memory, *process.layout), ProcessProfile{}, {},
                                             ThreadNames(memory, *process.layout, process.runtime_address),
                                             {}, {}});
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

void StackAggregator::refresh_thread_names(Traced& t) {
    t.thread_names.refresh();
    t.names_read = std::chrono::steady_clock::now();
}

uint32_t StackAggregator::thread_frame(Traced& t, uint32_t tid) {
    auto it = t.thread_frames.find(tid);
    if (it != t.thread_frames.end()) return it->second;
    // A thread seen for the first time: its name is likely new too.
    if (std::chrono::steady_clock::now() - t.names_read >= thread_names_interval / 5) refresh_thread_names(t);
    std::string name = t.thread_names.name(tid);
    if (name.empty() && tid == uint32_t(t.process.pid)) name = "MainThread";
    uint32_t index = t.profile.intern({thread_label(tid, name), "", 0});
    t.thread_frames.emplace(tid, index);
    return index;
}

void StackAggregator::poll() {
    if (group_by_ != GroupBy::thread) return;
    auto now = std::chrono::steady_clock::now();
    for (auto& [pid, t] : processes_)
        if (now - t->names_read >= thread_names_interval) refresh_thread_names(*t);
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
    stack.reserve(n + 2);
    if (group_by_ == GroupBy::thread) stack.push_back({thread_frame(t, sample.hdr.tid), 0});
    if (sample.hdr.flags & SAMPLE_TRUNCATED)
        stack.push_back({profile.intern({"[truncated: deeper frames not recorded]", "", 0}), 0});
    else if (n && (sample.hdr.flags & SAMPLE_READ_FAULT))
        stack.push_back({profile.intern({"[partial stack: unreadable frame]", "", 0}), 0});
    for (size_t i = n; i-- > 0;) {  // kernel order is innermost first
        ResolvedFrame f = t.resolver.resolve(sample.frames[i]);
        stack.push_back({profile.intern({*f.name, *f.file, f.first_line}), f.line});
    }
    if (stack.size() == (group_by_ == GroupBy::thread ? 1u : 0u)) {
        const char* what = (sample.hdr.flags & SAMPLE_NO_THREAD) ? "[non-Python thread]"
                                                                  : "[no Python frame]";
        stack.push_back({profile.intern({what, "", 0}), 0});
    }
    profile.add(stack, weight);
    samples_ += weight;
}

std::vector<ProcessProfile> StackAggregator::take_profiles() {
    std::vector<ProcessProfile> out;
    for (pid_t pid : order_) {
        Traced& t = *processes_.at(pid);
        if (!t.thread_frames.empty()) {
            // Names given or changed after a thread's first sample: label every thread as it is now.
            refresh_thread_names(t);
            for (const auto& [tid, index] : t.thread_frames) {
                const std::string& name = t.thread_names.name(tid);
                if (!name.empty()) t.profile.rename(index, thread_label(tid, name));
            }
        }
        out.push_back(std::move(t.profile));
    }
    return out;
}

}  // namespace pyat
