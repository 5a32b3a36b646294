#include "profile/stack_aggregator.h"

#include <algorithm>
#include <cstddef>

#include "base/run_clock.h"

namespace pyat {

namespace {
// How often thread names are re-read from the target while grouping by thread.
constexpr auto thread_names_interval = std::chrono::milliseconds(250);
}  // namespace

void StackAggregator::add_process(const PythonProcess& process, uint64_t added_ns, uint64_t code_type,
                                  CodeResolver::StillNamed still_named) {
    if (processes_.count(process.pid)) return;
    auto t = std::make_unique<TracedProcess>(process, config_, blocking_, added_ns, code_type, std::move(still_named));
    // Names now, before the first sample: a thread waiting at the start may end before the
    // first periodic look, and be charged (its wait) unnamed.
    if (config_.group_by == GroupBy::thread) t->refresh_thread_names();
    processes_.emplace(process.pid, std::move(t));
    order_.push_back(process.pid);
}

const PythonProcess* StackAggregator::process_of(pid_t pid) const {
    auto it = processes_.find(pid);
    return it == processes_.end() ? nullptr : &it->second->process;
}

TracedProcess* StackAggregator::traced(pid_t pid) {
    auto it = processes_.find(pid);
    return it == processes_.end() ? nullptr : it->second.get();
}

std::vector<TracedProcess*> StackAggregator::in_order() {
    std::vector<TracedProcess*> out;
    for (pid_t pid : order_) out.push_back(processes_.at(pid).get());
    return out;
}

void StackAggregator::retire(pid_t pid, uint64_t end_ns) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return;
    TracedProcess& t = *it->second;
    for (auto& r : t.runtimes) r->retire(t, end_ns);
    t.retired = true;
    pid_t key = --retired_keys_;
    processes_.emplace(key, std::move(it->second));
    processes_.erase(it);
    std::replace(order_.begin(), order_.end(), pid, key);
}

void StackAggregator::learn_code(const code_name_event& event, size_t size) {
    auto it = processes_.find(pid_t(event.pid));
    if (it != processes_.end()) it->second->resolver.learn(event, size);
}

CodeResolver* StackAggregator::resolver_of(pid_t pid) {
    auto it = processes_.find(pid);
    return it == processes_.end() ? nullptr : &it->second->resolver;
}

uint64_t StackAggregator::unresolved_frames() const {
    uint64_t n = 0;
    for (const auto& [pid, t] : processes_) n += t->resolver.unresolved();
    return n;
}

uint64_t StackAggregator::samples() const {
    uint64_t n = 0;
    for (const auto& [pid, t] : processes_) n += t->samples;
    return n;
}

bool StackAggregator::add_record(const void* data, size_t size) {
    const auto* hdr = static_cast<const event_header*>(data);
    const auto& sample = *static_cast<const py_sample*>(data);
    switch (hdr->kind) {
        case EVENT_CPU_SAMPLE:
        case EVENT_OFFCPU:
            if (frames_fit(sample, size)) add_sample(sample);  // never read past the record
            return true;
        case PYAT_EVENT_CODE_NAME:
            if (size >= offsetof(code_name_event, table)) learn_code(*static_cast<const code_name_event*>(data), size);
            return true;
    }
    // A runtime's own kind, for its part of the process.
    auto it = processes_.find(pid_t(hdr->pid));
    if (it == processes_.end()) return false;
    TracedProcess& t = *it->second;
    for (auto& r : t.runtimes)
        if (r->on_record(t, sample, size)) return true;
    return false;
}

void StackAggregator::add_sample(const py_sample& sample) {
    auto it = processes_.find(pid_t(sample.hdr.pid));
    if (it == processes_.end()) return;
    TracedProcess& t = *it->second;
    switch (sample.hdr.kind) {
        case EVENT_CPU_SAMPLE: {
            Stack frames = t.frames_of(sample);
            for (auto& r : t.runtimes) r->on_cpu_stack(t, sample, frames);
            t.add(t.root_for(sample), frames, 1);
            return;
        }
        case EVENT_OFFCPU: {
            if (config_.clock != Clock::wall) return;
            uint64_t weight = t.ticks(sample.hdr.weight_ns, t.offcpu_remainder[sample.hdr.tid]);
            if (weight) t.add(t.root_for(sample), t.frames_of(sample), weight);
            return;
        }
    }
}

void StackAggregator::poll() {
    next_poll_ms_ = 1000;
    const uint64_t now_ns = monotonic_ns();
    for (auto& [pid, t] : processes_) {
        if (t->retired) continue;
        for (auto& r : t->runtimes)
            if (auto ms = r->poll(*t, now_ns)) next_poll_ms_ = std::min(next_poll_ms_, std::max(*ms, 1));
    }
    if (config_.group_by != GroupBy::thread) return;
    auto now = std::chrono::steady_clock::now();
    for (auto& [pid, t] : processes_)
        if (!t->retired && now - t->names_read >= thread_names_interval) t->refresh_thread_names();
}

std::vector<BlockingSlice> StackAggregator::take_new_blocking() {
    std::vector<BlockingSlice> fresh(blocking_.begin() + long(blocking_taken_), blocking_.end());
    blocking_taken_ = blocking_.size();
    return fresh;
}

void StackAggregator::finish(uint64_t end_ns) {
    for (pid_t pid : order_) {
        TracedProcess& t = *processes_.at(pid);
        if (t.retired) continue;  // finished when it was retired
        for (auto& r : t.runtimes) r->finish(t, end_ns);
    }
}

std::vector<ProcessProfile> StackAggregator::take_profiles() {
    std::vector<ProcessProfile> out;
    for (pid_t pid : order_) {
        TracedProcess& t = *processes_.at(pid);
        if (!t.thread_frames.empty() && !t.retired) {
            // Names given or changed after a thread's first sample: label every thread as it is now.
            t.refresh_thread_names();
            for (const auto& [tid, index] : t.thread_frames) {
                const std::string& name = t.thread_names.name(tid);
                if (!name.empty()) t.profile.groups[index].name = name;
            }
        }
        for (auto& r : t.runtimes) r->label_groups(t);
        out.push_back(std::move(t.profile));
    }
    return out;
}

}  // namespace pyat
