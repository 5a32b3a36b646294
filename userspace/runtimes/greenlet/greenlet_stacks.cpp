#include "runtimes/greenlet/greenlet_stacks.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "process/process_memory.h"
#include "profile/frame_label.h"

namespace pyat {

namespace {
// Stacks kept per thread for the blocking report: the current slice's, newest last.
constexpr size_t max_slice_samples = 8192;
constexpr uint64_t type_name_offset = 24;  // PyTypeObject.tp_name, every 64-bit CPython
}  // namespace

bool GreenletStacks::on_record(TracedProcess& t, const py_sample& sample, size_t size) {
    if (sample.hdr.kind != EVENT_GREENLET_SWITCH) return false;
    if (frames_fit(sample, size)) on_switch(t, sample);  // never read past the record
    return true;
}

void GreenletStacks::on_cpu_stack(TracedProcess& t, const py_sample& sample, const Stack& frames) {
    uint64_t greenlet = greenlet_of(sample);
    if (!greenlet) return;
    const uint32_t tid = sample.hdr.tid;
    note_run_function(t, greenlet, frames);
    note_hub(t, greenlet, tid, frames);
    if (t.config.block_threshold_ns) {
        auto& kept = slice_samples_[tid];
        if (kept.size() >= max_slice_samples) kept.pop_front();
        kept.push_back(frames);
    }
}

std::optional<uint32_t> GreenletStacks::group_root(TracedProcess& t, const py_sample& sample) {
    uint64_t greenlet = greenlet_of(sample);
    if (!greenlet) return std::nullopt;
    return greenlet_frame(t, greenlet);
}

void GreenletStacks::retire(TracedProcess& t, uint64_t end_ns) {
    parked_.clear();  // their stacks are in memory that is no longer theirs
    std::vector<std::pair<uint32_t, uint64_t>> running(current_.begin(), current_.end());
    for (const auto& [tid, greenlet] : running) end_slice(t, tid, greenlet, end_ns, true);
    current_.clear();
}

void GreenletStacks::finish(TracedProcess& t, uint64_t end_ns) {
    charge_parked(t, end_ns);
    parked_.clear();
    charge_idle_main_greenlets(t, end_ns);
    std::vector<std::pair<uint32_t, uint64_t>> running(current_.begin(), current_.end());
    for (const auto& [tid, greenlet] : running) end_slice(t, tid, greenlet, end_ns, true);
}

// Greenlets grouped before their run function was known.
void GreenletStacks::label_groups(TracedProcess& t) {
    for (const auto& [serial, index] : frames_) {
        auto name = run_name_.find(serial);
        if (name != run_name_.end()) t.profile.groups[index].name = name->second;
    }
}

// Greenlets still parked: charged up to the end, like threads still off-CPU, at the stack they
// are parked at (read from the process, which is still there).
void GreenletStacks::charge_parked(TracedProcess& t, uint64_t end_ns) {
    if (t.config.clock != Clock::wall || !layout_) return;
    const ProcessMemory memory(t.process.pid);
    const auto& gl = layout_->bpf;
    for (auto& [greenlet, parked] : parked_) {
        if (end_ns <= parked.since_ns) continue;
        uint64_t impl = memory.read_value<uint64_t>(greenlet + gl.pygreenlet_pimpl).value_or(0);
        uint64_t frame = impl ? memory.read_value<uint64_t>(impl + gl.suspended_frame).value_or(0) : 0;
        if (!frame) continue;
        auto saved = t.read_stack(memory, frame, parked.tid);
        if (!saved->hdr.nframes) continue;
        Stack frames = t.frames_of(*saved);
        std::optional<uint32_t> root;
        if (t.config.group_by == GroupBy::greenlet) root = greenlet_frame(t, greenlet);
        if (t.config.group_by == GroupBy::thread) root = t.thread_frame(parked.tid);
        t.add(root, frames, t.ticks(end_ns - parked.since_ns, remainder_[greenlet]));
    }
}

// A thread's main greenlet that stayed parked through the whole run (gevent's main greenlet in
// serve_forever() or joinall()) never switches while we watch: read where it waits and charge it
// from the start of tracing.
void GreenletStacks::charge_idle_main_greenlets(TracedProcess& t, uint64_t end_ns) {
    if (!layout_ || t.config.clock != Clock::wall || !t.added_ns || end_ns <= t.added_ns) return;
    const ProcessMemory memory(t.process.pid);
    for (const auto& [tid, main_impl] : thread_main_) {
        uint64_t main = memory.read_value<uint64_t>(main_impl + layout_->bpf.impl_self).value_or(0);
        if (!main || serial_.count(main)) continue;  // seen switching: already accounted for
        uint64_t frame = memory.read_value<uint64_t>(main_impl + layout_->bpf.suspended_frame).value_or(0);
        if (!frame) continue;
        auto saved = t.read_stack(memory, frame, tid);
        if (!saved->hdr.nframes) continue;
        Stack frames = t.frames_of(*saved);
        note_run_function(t, main, frames);
        std::optional<uint32_t> root;
        if (t.config.group_by == GroupBy::greenlet) root = greenlet_frame(t, main);
        if (t.config.group_by == GroupBy::thread) root = t.thread_frame(tid);
        t.add(root, frames, t.ticks(end_ns - t.added_ns, remainder_[main]));
    }
}

uint32_t GreenletStacks::serial_of(uint64_t greenlet) {
    auto [it, added] = serial_.try_emplace(greenlet, next_serial_);
    if (added) next_serial_++;
    return it->second;
}

std::string GreenletStacks::label(uint32_t serial) const {
    auto name = run_name_.find(serial);
    return group_label({SampleGroup::Kind::greenlet, serial, name == run_name_.end() ? "" : name->second});
}

uint32_t GreenletStacks::greenlet_frame(TracedProcess& t, uint64_t greenlet) {
    uint32_t serial = serial_of(greenlet);
    auto it = frames_.find(serial);
    if (it != frames_.end()) return it->second;
    uint32_t index = t.profile.add_group({SampleGroup::Kind::greenlet, serial, ""});  // named at the end
    frames_.emplace(serial, index);
    return index;
}

// Remembers the function a greenlet runs: the outermost frame of its stack, past the frames of a
// library's own wrapper (gevent's Greenlet.run when gevent runs uncompiled).
void GreenletStacks::note_run_function(TracedProcess& t, uint64_t greenlet, const Stack& frames) {
    uint32_t serial = serial_of(greenlet);
    if (run_name_.count(serial)) return;
    for (const auto& f : frames) {
        const Function& fn = t.profile.functions[f.function];
        if (fn.file.empty()) continue;  // a marker such as [truncated ...]
        if (gevent_.is_run_wrapper(fn.file)) continue;
        run_name_[serial] = fn.name;
        return;
    }
}

uint64_t GreenletStacks::greenlet_of(const py_sample& sample) const {
    if (sample.hdr.base_frame) {
        auto known = by_base_.find(sample.hdr.base_frame);
        if (known != by_base_.end()) return known->second;
    }
    auto current = current_.find(sample.hdr.tid);
    return current == current_.end() ? 0 : current->second;
}

void GreenletStacks::note_hub(TracedProcess& t, uint64_t greenlet, uint32_t tid, const Stack& frames) {
    const Function& bottom = t.profile.functions[frames.front().function];
    if (gevent_.is_hub_run(bottom.file, bottom.name)) {
        hubs_.insert(greenlet);
        hub_threads_.insert(tid);
    }
}

// A slice of `greenlet` on thread `tid` ended (or the run did): report it if it was too long.
void GreenletStacks::end_slice(TracedProcess& t, uint32_t tid, uint64_t greenlet, uint64_t end_ns, bool ongoing) {
    auto start = slice_start_.find(tid);
    auto samples = std::move(slice_samples_[tid]);
    slice_samples_.erase(tid);
    const uint64_t threshold = t.config.block_threshold_ns;
    if (start == slice_start_.end() || !threshold || end_ns <= start->second) return;
    uint64_t duration = end_ns - start->second;
    if (duration < threshold) return;
    if (greenlet && is_hub(t, greenlet)) {  // the hub waiting for events is idle, not blocking
        hubs_.insert(greenlet);
        hub_threads_.insert(tid);
        return;
    }
    // With gevent, only a thread that runs a hub has a loop to block; its other threads (the
    // threadpool's workers) wait on real locks by design.
    if (!hub_threads_.empty() && !hub_threads_.count(tid)) return;

    t.report_slice(tid, greenlet ? label(serial_of(greenlet)) : fmt::format("thread [{}]", tid), "without switching",
                   start->second, duration, ongoing, samples);
}

// Greenlet::g_switchstack: `origin` leaves the CPU to `target` at this moment. The event carries
// how long the target was parked and, when the kernel picked it, the stack it was parked at.
void GreenletStacks::on_switch(TracedProcess& t, const py_sample& e) {
    const uint32_t tid = e.hdr.tid;
    const uint64_t now = e.hdr.ktime_ns;
    uint64_t origin = e.hdr.greenlet_switch.origin;
    if (!origin) {
        auto current = current_.find(tid);
        if (current != current_.end()) origin = current->second;
    }
    end_slice(t, tid, origin, now, false);
    if (origin) {
        if (e.hdr.flags & SAMPLE_ORIGIN_FINISHED) {
            // Gone: its number may be handed to a new greenlet at the same address.
            if (t.config.group_by != GroupBy::greenlet) {  // its label is no longer needed
                auto serial = serial_.find(origin);
                if (serial != serial_.end()) run_name_.erase(serial->second);
            }
            parked_.erase(origin);
            if (auto base = base_of_.find(origin); base != base_of_.end()) {
                by_base_.erase(base->second);
                base_of_.erase(base);
            }
            serial_.erase(origin);
            remainder_.erase(origin);
            hubs_.erase(origin);
        } else {
            parked_[origin] = Parked{tid, now};
        }
    }
    if (e.hdr.greenlet_switch.main_impl) thread_main_[tid] = e.hdr.greenlet_switch.main_impl;

    const uint64_t target = e.hdr.greenlet_switch.target;
    parked_.erase(target);
    if (e.hdr.nframes) {
        Stack frames = t.frames_of(e);
        note_run_function(t, target, frames);
        if (e.hdr.base_frame) {
            auto old = base_of_.find(target);
            if (old != base_of_.end() && old->second != e.hdr.base_frame) by_base_.erase(old->second);
            base_of_[target] = e.hdr.base_frame;
            by_base_[e.hdr.base_frame] = target;
        }
        if (t.config.clock == Clock::wall) {
            // A stack picked with probability (time parked x hz) stands for one tick.
            uint64_t weight = (e.hdr.flags & SAMPLE_PARK_SAMPLED) ? 1 : t.ticks(e.hdr.weight_ns, remainder_[target]);
            std::optional<uint32_t> root;
            if (t.config.group_by == GroupBy::greenlet) root = greenlet_frame(t, target);
            if (t.config.group_by == GroupBy::thread) root = t.thread_frame(tid);
            t.add(root, frames, weight);
        }
    }
    serial_of(target);
    current_[tid] = target;
    slice_start_[tid] = now;
}

// gevent's hub: its greenlet is of the hub's type (read only for slices past the threshold).
bool GreenletStacks::is_hub(TracedProcess& t, uint64_t greenlet) {
    if (hubs_.count(greenlet)) return true;
    const ProcessMemory memory(t.process.pid);
    uint64_t type = memory.read_value<uint64_t>(greenlet + t.process.layout->object_type).value_or(0);
    uint64_t name_ptr = type ? memory.read_value<uint64_t>(type + type_name_offset).value_or(0) : 0;
    char name[64] = {};
    if (!name_ptr || !memory.read(name_ptr, name, sizeof(name) - 1)) return false;
    return gevent_.is_hub_type(std::string(name, strnlen(name, sizeof(name) - 1)));
}

}  // namespace pyat
