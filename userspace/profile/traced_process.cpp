#include "profile/traced_process.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "cpython/python_stack_reader.h"
#include "profile/frame_label.h"

namespace pyat {

namespace {
constexpr uint64_t ns_per_s = 1'000'000'000ULL;
// How often thread names are re-read from the target while grouping by thread.
constexpr auto thread_names_interval = std::chrono::milliseconds(250);
constexpr size_t max_reported_stacks = 5;
}  // namespace

TracedProcess::TracedProcess(const PythonProcess& p, const AggregatorConfig& c, std::vector<BlockingSlice>& blocking,
                             uint64_t added, uint64_t code_type, CodeResolver::StillNamed still_named)
    : process(p), config(c), resolver(ProcessMemory(p.pid), *p.layout, code_type, std::move(still_named)),
      thread_names(ProcessMemory(p.pid), *p.layout, p.runtime_address), added_ns(added), blocking_(blocking) {
    profile.pid = p.pid;
    profile.program = p.program;
    profile.command_line = p.command_line;
    profile.python_version = p.version;
    for (const auto& make : config.runtime_stacks) runtimes.push_back(make());
}

uint64_t TracedProcess::ticks(uint64_t ns, uint64_t& remainder) const {
    unsigned __int128 scaled = (unsigned __int128)ns * config.hz + remainder;
    remainder = uint64_t(scaled % ns_per_s);
    return uint64_t(scaled / ns_per_s);
}

StackFrame TracedProcess::resolve(const py_frame& frame) {
    ResolvedFrame f = resolver.resolve(frame);
    return StackFrame{profile.intern({*f.name, *f.file, f.first_line}), f.line};
}

void TracedProcess::refresh_thread_names() {
    thread_names.refresh();
    names_read = std::chrono::steady_clock::now();
}

uint32_t TracedProcess::thread_frame(uint32_t tid) {
    auto it = thread_frames.find(tid);
    if (it != thread_frames.end()) return it->second;
    // A thread seen for the first time: its name is likely new too.
    if (std::chrono::steady_clock::now() - names_read >= thread_names_interval / 5) refresh_thread_names();
    std::string name = thread_names.name(tid);
    if (name.empty() && tid == uint32_t(process.pid)) name = "MainThread";
    if (name.empty()) name = thread_names.os_name(tid);
    uint32_t index = profile.add_group({SampleGroup::Kind::thread, tid, name});
    thread_frames.emplace(tid, index);
    return index;
}

std::optional<uint32_t> TracedProcess::root_for(const py_sample& sample) {
    switch (config.group_by) {
        case GroupBy::code: return std::nullopt;
        case GroupBy::thread: return thread_frame(sample.hdr.tid);
        case GroupBy::greenlet:
        case GroupBy::task:
            for (auto& r : runtimes)
                if (auto root = r->group_root(*this, sample)) return root;
            return thread_frame(sample.hdr.tid);  // no switch seen (yet)
    }
    return std::nullopt;
}

Stack TracedProcess::frames_of(const py_sample& sample, size_t first) {
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    // The last nawaiting frames are generators waiting for the resumed one, not on the stack.
    size_t physical = n - std::min<size_t>(sample.hdr.nawaiting, n);
    first = std::min(first, physical);  // frames before `first` are not the stack (see EVENT_DEFERRED)
    Stack stack;
    stack.reserve(n - first + 1);
    if (sample.hdr.flags & SAMPLE_TRUNCATED)
        stack.push_back({profile.intern({"[truncated: deeper frames not recorded]", "", 0}), 0});
    else if (n > first && (sample.hdr.flags & SAMPLE_READ_FAULT))
        stack.push_back({profile.intern({"[partial stack: unreadable frame]", "", 0}), 0});
    if (!std::any_of(runtimes.begin(), runtimes.end(), [&](auto& r) { return r->rewrite(*this, sample, first, stack); }))
        for (size_t i = physical; i-- > first;) stack.push_back(resolve(sample.frames[i]));  // kernel order: innermost first
    if (stack.empty()) {
        const char* what = (sample.hdr.flags & SAMPLE_NO_THREAD) ? "[non-Python thread]" : "[no Python frame]";
        stack.push_back({profile.intern({what, "", 0}), 0});
    }
    return stack;
}

void TracedProcess::add(std::optional<uint32_t> group, const Stack& frames, uint64_t weight) {
    if (!weight) return;
    profile.add(frames, weight, group.value_or(no_group));
    samples += weight;
}

std::unique_ptr<py_sample> TracedProcess::read_stack(const ProcessMemory& memory, uint64_t frame, uint32_t tid) {
    auto saved = std::make_unique<py_sample>();
    saved->hdr.kind = EVENT_OFFCPU;
    saved->hdr.pid = uint32_t(process.pid);
    saved->hdr.tid = tid;
    read_stack_from(memory, process.layout->bpf, frame, *saved, resolver);
    return saved;
}

void TracedProcess::report_slice(uint32_t tid, std::string who, const char* what, uint64_t start_ns,
                                 uint64_t duration_ns, bool ongoing, const std::deque<Stack>& samples_in_slice) {
    BlockingSlice b;
    b.pid = process.pid;
    b.tid = tid;
    b.who = std::move(who);
    b.what = what;
    b.start_ns = start_ns;
    b.duration_ns = duration_ns;
    b.ongoing = ongoing;
    b.samples = samples_in_slice.size();
    std::map<Stack, uint64_t> counts;
    for (const auto& s : samples_in_slice) counts[s]++;
    std::vector<std::pair<const Stack*, uint64_t>> sorted;
    for (const auto& [stack, n] : counts) sorted.emplace_back(&stack, n);
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (size_t i = 0; i < sorted.size() && i < max_reported_stacks; i++) {
        std::vector<std::string> labels;
        for (const auto& f : *sorted[i].first) labels.push_back(frame_label(profile.functions[f.function], f.line));
        b.stacks.emplace_back(std::move(labels), sorted[i].second);
    }
    blocking_.push_back(std::move(b));
}

}  // namespace pyat
