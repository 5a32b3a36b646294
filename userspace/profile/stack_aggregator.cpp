#include "profile/stack_aggregator.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "profile/frame_label.h"
#include "cpython/python_stack_reader.h"

namespace pyat {

namespace {
constexpr uint64_t ns_per_s = 1'000'000'000ULL;
// How often thread names are re-read from the target while grouping by thread.
constexpr auto thread_names_interval = std::chrono::milliseconds(250);
// Stacks kept per thread for the blocking report: the current slice's, newest last.
constexpr size_t max_slice_samples = 8192;
constexpr size_t max_reported_stacks = 5;
constexpr size_t max_waiting_generators = 65536;
constexpr uint64_t type_name_offset = 24;  // PyTypeObject.tp_name, every 64-bit CPython

std::string thread_label(uint32_t tid, const std::string& name) {
    return name.empty() ? fmt::format("thread [{}]", tid) : fmt::format("thread \"{}\" [{}]", name, tid);
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

void StackAggregator::add_process(const PythonProcess& process, uint64_t added_ns, uint64_t code_type,
                                  CodeResolver::StillNamed still_named) {
    if (processes_.count(process.pid)) return;
    ProcessMemory memory(process.pid);
    auto t = std::make_unique<Traced>(Traced{process,
                                             CodeResolver(memory, *process.layout, code_type, std::move(still_named)),
                                             ProcessProfile{}, {},
                                             ThreadNames(memory, *process.layout, process.runtime_address),
                                             {}, {}, {}});
    t->profile.pid = process.pid;
    t->profile.program = process.program;
    t->profile.command_line = process.command_line;
    t->profile.python_version = process.version;
    t->added_ns = added_ns;
    // Names now, before the first sample: a thread waiting at the start may end before the
    // first periodic look, and be charged (its wait) unnamed.
    if (config_.group_by == GroupBy::thread) refresh_thread_names(*t);
    processes_.emplace(process.pid, std::move(t));
    order_.push_back(process.pid);
}

const PythonProcess* StackAggregator::process_of(pid_t pid) const {
    auto it = processes_.find(pid);
    return it == processes_.end() ? nullptr : &it->second->process;
}

void StackAggregator::retire(pid_t pid, uint64_t end_ns) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return;
    Traced& t = *it->second;
    auto& g = t.greenlets;
    g.parked.clear();  // their stacks are in memory that is no longer theirs
    t.waiting_generators.clear();
    if (t.deferred_log) t.deferred_log->finish(end_ns);
    std::vector<std::pair<uint32_t, uint64_t>> running(g.current.begin(), g.current.end());
    for (const auto& [tid, greenlet] : running) end_slice(t, tid, greenlet, end_ns, true);
    g.current.clear();
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

void StackAggregator::set_twisted(pid_t pid, const TwistedDescription& description) {
    auto it = processes_.find(pid);
    if (it == processes_.end()) return;
    it->second->inline_callbacks.emplace(description);
    it->second->defer_file = description.defer_file;
}

void StackAggregator::enable_deferred_log(pid_t pid) {
    auto it = processes_.find(pid);
    if (it != processes_.end() && !it->second->deferred_log)
        it->second->deferred_log.emplace(pid, *it->second->process.layout);
}

// A lifecycle event's stack, as labels: Twisted's own defer.py frames (the Deferred's methods and
// the inlineCallbacks machinery) are left out unless --raw-stacks.
void StackAggregator::on_deferred_event(Traced& t, const py_sample& event) {
    if (!t.deferred_log) return;
    // The stack follows the callables the kernel recorded first.
    Stack frames = frames_of(t, event, event.hdr.deferred_detail.callables);
    if (!config_.raw_stacks && !t.defer_file.empty())
        std::erase_if(frames, [&](const StackFrame& f) { return t.profile.functions[f.function].file.ends_with(t.defer_file); });
    auto& labels = t.lifecycle_stacks[frames];
    if (!labels) {
        std::vector<std::string> text;
        text.reserve(frames.size());
        for (const auto& f : frames) {
            const Function& fn = t.profile.functions[f.function];
            text.push_back(fn.file.empty() ? fn.name : fmt::format("{} ({}:{})", fn.name, short_path(fn.file), f.line));
        }
        labels = std::make_shared<const std::vector<std::string>>(std::move(text));
    }
    t.deferred_log->add(event, labels, t.resolver);
}

std::vector<DeferredEvent> StackAggregator::take_deferred_events(uint64_t* dropped) {
    std::vector<DeferredEvent> out;
    uint64_t lost = 0;
    for (pid_t pid : order_) {
        Traced& t = *processes_.at(pid);
        if (!t.deferred_log) continue;
        auto events = t.deferred_log->take_events();
        lost += t.deferred_log->dropped();
        std::move(events.begin(), events.end(), std::back_inserter(out));
    }
    if (dropped) *dropped = lost;
    return out;
}

void StackAggregator::set_greenlet_layout(pid_t pid, const GreenletLayout* layout) {
    auto it = processes_.find(pid);
    if (it != processes_.end()) it->second->greenlet_layout = layout;
}

// A thread's main greenlet that stayed parked through the whole run (gevent's main greenlet in
// serve_forever() or joinall()) never switches while we watch: read where it waits and charge it
// from the start of tracing.
void StackAggregator::charge_idle_main_greenlets(Traced& t, uint64_t end_ns) {
    auto& g = t.greenlets;
    if (!t.greenlet_layout || config_.clock != Clock::wall || !t.added_ns || end_ns <= t.added_ns) return;
    const ProcessMemory memory(t.process.pid);
    for (const auto& [tid, main_impl] : g.thread_main) {
        uint64_t main = memory.read_value<uint64_t>(main_impl + t.greenlet_layout->bpf.impl_self).value_or(0);
        if (!main || g.serial.count(main)) continue;  // seen switching: already accounted for
        uint64_t frame = memory.read_value<uint64_t>(main_impl + t.greenlet_layout->bpf.suspended_frame).value_or(0);
        if (!frame) continue;
        auto saved = std::make_unique<py_sample>();
        saved->hdr.kind = EVENT_OFFCPU;
        saved->hdr.pid = uint32_t(t.process.pid);
        saved->hdr.tid = tid;
        read_stack_from(memory, t.process.layout->bpf, frame, *saved, t.resolver);
        if (!saved->hdr.nframes) continue;
        Stack frames = frames_of(t, *saved);
        note_run_function(t, main, frames);
        std::optional<uint32_t> root;
        if (config_.group_by == GroupBy::greenlet) root = greenlet_frame(t, main);
        if (config_.group_by == GroupBy::thread) root = thread_frame(t, tid);
        add(t, root, frames, ticks(end_ns - t.added_ns, g.remainder[main]));
    }
}

// The number of --hz ticks in `ns`, carrying the fraction over in `remainder` so nothing is lost
// to rounding.
uint64_t StackAggregator::ticks(uint64_t ns, uint64_t& remainder) const {
    unsigned __int128 scaled = (unsigned __int128)ns * config_.hz + remainder;
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
    if (name.empty()) name = t.thread_names.os_name(tid);
    uint32_t index = t.profile.intern({thread_label(tid, name), "", 0});
    t.thread_frames.emplace(tid, index);
    return index;
}

uint32_t StackAggregator::greenlet_serial(Traced& t, uint64_t greenlet) {
    auto [it, added] = t.greenlets.serial.try_emplace(greenlet, t.greenlets.next_serial);
    if (added) t.greenlets.next_serial++;
    return it->second;
}

std::string StackAggregator::greenlet_label(Traced& t, uint32_t serial) const {
    auto name = t.greenlets.run_name.find(serial);
    return name == t.greenlets.run_name.end() || name->second.empty()
               ? fmt::format("greenlet {}", serial)
               : fmt::format("greenlet {} ({})", serial, name->second);
}

uint32_t StackAggregator::greenlet_frame(Traced& t, uint64_t greenlet) {
    uint32_t serial = greenlet_serial(t, greenlet);
    auto it = t.greenlets.frames.find(serial);
    if (it != t.greenlets.frames.end()) return it->second;
    uint32_t index = t.profile.intern({greenlet_label(t, serial), "", 0});
    t.greenlets.frames.emplace(serial, index);
    return index;
}

// Remembers the function a greenlet runs: the outermost frame of its stack, past gevent's own
// Greenlet.run when gevent runs uncompiled.
void StackAggregator::note_run_function(Traced& t, uint64_t greenlet, const Stack& frames) {
    uint32_t serial = greenlet_serial(t, greenlet);
    if (t.greenlets.run_name.count(serial)) return;
    for (const auto& f : frames) {
        const Function& fn = t.profile.functions[f.function];
        if (fn.file.empty()) continue;  // a marker such as [truncated ...]
        if (ends_with(fn.file, "gevent/greenlet.py")) continue;
        t.greenlets.run_name[serial] = fn.name;
        return;
    }
}

uint64_t StackAggregator::greenlet_of(Traced& t, const py_sample& sample) const {
    const auto& g = t.greenlets;
    if (sample.hdr.base_frame) {
        auto known = g.by_base.find(sample.hdr.base_frame);
        if (known != g.by_base.end()) return known->second;
    }
    auto current = g.current.find(sample.hdr.tid);
    return current == g.current.end() ? 0 : current->second;
}

std::optional<uint32_t> StackAggregator::root_for(Traced& t, const py_sample& sample) {
    switch (config_.group_by) {
        case GroupBy::code: return std::nullopt;
        case GroupBy::thread: return thread_frame(t, sample.hdr.tid);
        case GroupBy::greenlet: {
            uint64_t greenlet = greenlet_of(t, sample);
            if (!greenlet) return thread_frame(t, sample.hdr.tid);  // no switch seen (yet)
            return greenlet_frame(t, greenlet);
        }
    }
    return std::nullopt;
}

bool StackAggregator::resumed_by_generator_end(Traced& t, const py_sample& sample) {
    if (!(sample.hdr.flags & SAMPLE_RESUMED_GENERATOR)) return false;
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    size_t physical = n - std::min<size_t>(sample.hdr.nawaiting, n);
    if (sample.hdr.awaited_at >= physical) return false;
    Stack raw;
    raw.reserve(physical);
    for (size_t i = physical; i-- > 0;) {
        ResolvedFrame f = t.resolver.resolve(sample.frames[i]);
        raw.push_back({t.profile.intern({*f.name, *f.file, f.first_line}), f.line});
    }
    return t.inline_callbacks->resumed_by_generator_end(t.profile, raw, physical - 1 - sample.hdr.awaited_at);
}

Stack StackAggregator::frames_of(Traced& t, const py_sample& sample, size_t first) {
    ProcessProfile& profile = t.profile;
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    // The last nawaiting frames are generators waiting for the resumed one, not on the stack.
    size_t awaiting = std::min<size_t>(sample.hdr.nawaiting, n);
    size_t physical = n - awaiting;
    first = std::min(first, physical);  // frames before `first` are not the stack (see EVENT_DEFERRED)
    auto resolve = [&](size_t i) {
        ResolvedFrame f = t.resolver.resolve(sample.frames[i]);
        return StackFrame{profile.intern({*f.name, *f.file, f.first_line}), f.line};
    };
    Stack stack;
    stack.reserve(n - first + 1);
    if (sample.hdr.flags & SAMPLE_TRUNCATED)
        stack.push_back({profile.intern({"[truncated: deeper frames not recorded]", "", 0}), 0});
    else if (n > first && (sample.hdr.flags & SAMPLE_READ_FAULT))
        stack.push_back({profile.intern({"[partial stack: unreadable frame]", "", 0}), 0});
    if (t.inline_callbacks && !config_.raw_stacks) {
        Stack raw, waiting;
        raw.reserve(physical - first);
        for (size_t i = physical; i-- > first;) raw.push_back(resolve(i));  // kernel order is innermost first
        for (size_t i = n; i-- > physical;) waiting.push_back(resolve(i));
        std::optional<size_t> resumed;
        if ((sample.hdr.flags & SAMPLE_RESUMED_GENERATOR) && sample.hdr.awaited_at >= first &&
            sample.hdr.awaited_at < physical)
            resumed = physical - 1 - sample.hdr.awaited_at;
        if (config_.block_threshold_ns && t.inline_callbacks->runs_reactor(profile, raw))
            t.reactor_threads.insert(sample.hdr.tid);
        Stack logical = t.inline_callbacks->rewrite(profile, raw, resumed, waiting);
        stack.insert(stack.end(), logical.begin(), logical.end());
    } else {
        for (size_t i = physical; i-- > first;) stack.push_back(resolve(i));
    }
    if (stack.empty()) {
        const char* what = (sample.hdr.flags & SAMPLE_NO_THREAD) ? "[non-Python thread]" : "[no Python frame]";
        stack.push_back({profile.intern({what, "", 0}), 0});
    }
    return stack;
}

void StackAggregator::add(Traced& t, std::optional<uint32_t> root, const Stack& frames, uint64_t weight) {
    if (!weight) return;
    if (root) {
        Stack rooted;
        rooted.reserve(frames.size() + 1);
        rooted.push_back({*root, 0});
        rooted.insert(rooted.end(), frames.begin(), frames.end());
        t.profile.add(rooted, weight);
    } else {
        t.profile.add(frames, weight);
    }
    samples_ += weight;
}

void StackAggregator::note_hub(Traced& t, uint64_t greenlet, uint32_t tid, const Stack& frames) {
    const Function& bottom = t.profile.functions[frames.front().function];
    if (ends_with(bottom.file, "gevent/hub.py") && ends_with(bottom.name, "run")) {
        t.greenlets.hubs.insert(greenlet);
        t.greenlets.hub_threads.insert(tid);
    }
}

void StackAggregator::add_sample(const py_sample& sample) {
    auto it = processes_.find(pid_t(sample.hdr.pid));
    if (it == processes_.end()) return;
    Traced& t = *it->second;
    const uint32_t tid = sample.hdr.tid;
    switch (sample.hdr.kind) {
        case EVENT_CPU_SAMPLE: {
            Stack frames = frames_of(t, sample);
            if (uint64_t greenlet = greenlet_of(t, sample)) {
                note_run_function(t, greenlet, frames);
                note_hub(t, greenlet, tid, frames);
                if (config_.block_threshold_ns) {
                    auto& kept = t.greenlets.slice_samples[tid];
                    if (kept.size() >= max_slice_samples) kept.pop_front();
                    kept.push_back(frames);
                }
            }
            if (config_.block_threshold_ns && t.inline_callbacks) {
                auto& kept = t.recent_samples[tid];
                if (kept.size() >= max_slice_samples) kept.pop_front();
                kept.emplace_back(sample.hdr.ktime_ns, frames);
            }
            add(t, root_for(t, sample), frames, 1);
            break;
        }
        case EVENT_REACTOR_BUSY:
            on_reactor_busy(t, tid, sample.hdr.ktime_ns, sample.hdr.weight_ns);
            break;
        case EVENT_DEFERRED:
            on_deferred_event(t, sample);
            break;
        case EVENT_GENERATOR_WAIT: {
            if (config_.clock != Clock::wall || !t.inline_callbacks) return;
            if (resumed_by_generator_end(t, sample)) return;
            uint64_t weight = (sample.hdr.flags & SAMPLE_PARK_SAMPLED)
                                  ? 1
                                  : ticks(sample.hdr.weight_ns, t.generator_wait_remainder);
            Stack frames = frames_of(t, sample);
            if (t.waiting_generators.size() >= max_waiting_generators) t.waiting_generators.clear();
            t.waiting_generators[sample.hdr.generator_wait.generator] = {tid, Stack(frames.begin(), frames.end() - 1)};
            if (weight) add(t, root_for(t, sample), frames, weight);
            break;
        }
        case EVENT_OFFCPU: {
            if (config_.clock != Clock::wall) return;
            uint64_t weight = ticks(sample.hdr.weight_ns, t.offcpu_remainder[tid]);
            if (weight) add(t, root_for(t, sample), frames_of(t, sample), weight);
            break;
        }
        case EVENT_GREENLET_SWITCH:
            on_greenlet_switch(t, sample);
            break;
    }
}

// A slice of `greenlet` on thread `tid` ended (or the run did): report it if it was too long.
void StackAggregator::end_slice(Traced& t, uint32_t tid, uint64_t greenlet, uint64_t end_ns, bool ongoing) {
    auto& g = t.greenlets;
    auto start = g.slice_start.find(tid);
    auto samples = std::move(g.slice_samples[tid]);
    g.slice_samples.erase(tid);
    if (start == g.slice_start.end() || !config_.block_threshold_ns || end_ns <= start->second) return;
    uint64_t duration = end_ns - start->second;
    if (duration < config_.block_threshold_ns) return;
    if (greenlet && is_hub(t, greenlet)) {  // the hub waiting for events is idle, not blocking
        g.hubs.insert(greenlet);
        g.hub_threads.insert(tid);
        return;
    }
    // With gevent, only a thread that runs a hub has a loop to block; its other threads (the
    // threadpool's workers) wait on real locks by design.
    if (!g.hub_threads.empty() && !g.hub_threads.count(tid)) return;

    report_slice(t, tid, greenlet ? greenlet_label(t, greenlet_serial(t, greenlet)) : fmt::format("thread [{}]", tid),
                 "without switching", start->second, duration, ongoing, samples);
}

void StackAggregator::on_reactor_busy(Traced& t, uint32_t tid, uint64_t start_ns, uint64_t duration_ns) {
    auto it = t.recent_samples.find(tid);
    if (!config_.block_threshold_ns || !t.reactor_threads.count(tid) || it == t.recent_samples.end()) return;
    std::deque<Stack> during;
    auto& kept = it->second;
    while (!kept.empty() && kept.front().first < start_ns) kept.pop_front();  // older: never needed again
    for (const auto& [when, stack] : kept)
        if (when <= start_ns + duration_ns) during.push_back(stack);
    report_slice(t, tid, fmt::format("reactor thread [{}]", tid), "without returning to the reactor", start_ns,
                 duration_ns, false, during);
}

void StackAggregator::report_slice(Traced& t, uint32_t tid, std::string who, const char* what, uint64_t start_ns,
                                   uint64_t duration_ns, bool ongoing, const std::deque<Stack>& samples) {
    BlockingSlice b;
    b.pid = t.process.pid;
    b.tid = tid;
    b.who = std::move(who);
    b.what = what;
    b.start_ns = start_ns;
    b.duration_ns = duration_ns;
    b.ongoing = ongoing;
    b.samples = samples.size();
    std::map<Stack, uint64_t> counts;
    for (const auto& s : samples) counts[s]++;
    std::vector<std::pair<const Stack*, uint64_t>> sorted;
    for (const auto& [stack, n] : counts) sorted.emplace_back(&stack, n);
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    for (size_t i = 0; i < sorted.size() && i < max_reported_stacks; i++) {
        std::vector<std::string> labels;
        for (const auto& f : *sorted[i].first) {
            Function fn = t.profile.functions[f.function];
            labels.push_back(fn.file.empty() ? fn.name
                                             : fmt::format("{} ({}:{})", fn.name, short_path(fn.file), f.line));
        }
        b.stacks.emplace_back(std::move(labels), sorted[i].second);
    }
    blocking_.push_back(std::move(b));
}

// Greenlet::g_switchstack: `origin` leaves the CPU to `target` at this moment. The event carries
// how long the target was parked and, when the kernel picked it, the stack it was parked at.
void StackAggregator::on_greenlet_switch(Traced& t, const py_sample& e) {
    auto& g = t.greenlets;
    const uint32_t tid = e.hdr.tid;
    const uint64_t now = e.hdr.ktime_ns;
    uint64_t origin = e.hdr.greenlet_switch.origin;
    if (!origin) {
        auto current = g.current.find(tid);
        if (current != g.current.end()) origin = current->second;
    }
    end_slice(t, tid, origin, now, false);
    if (origin) {
        if (e.hdr.flags & SAMPLE_ORIGIN_FINISHED) {
            // Gone: its number may be handed to a new greenlet at the same address.
            if (config_.group_by != GroupBy::greenlet) {  // its label is no longer needed
                auto serial = g.serial.find(origin);
                if (serial != g.serial.end()) g.run_name.erase(serial->second);
            }
            g.parked.erase(origin);
            if (auto base = g.base_of.find(origin); base != g.base_of.end()) {
                g.by_base.erase(base->second);
                g.base_of.erase(base);
            }
            g.serial.erase(origin);
            g.remainder.erase(origin);
            g.hubs.erase(origin);
        } else {
            g.parked[origin] = Parked{tid, now};
        }
    }
    if (e.hdr.greenlet_switch.main_impl) g.thread_main[tid] = e.hdr.greenlet_switch.main_impl;

    const uint64_t target = e.hdr.greenlet_switch.target;
    g.parked.erase(target);
    if (e.hdr.nframes) {
        Stack frames = frames_of(t, e);
        note_run_function(t, target, frames);
        if (e.hdr.base_frame) {
            auto old = g.base_of.find(target);
            if (old != g.base_of.end() && old->second != e.hdr.base_frame) g.by_base.erase(old->second);
            g.base_of[target] = e.hdr.base_frame;
            g.by_base[e.hdr.base_frame] = target;
        }
        if (config_.clock == Clock::wall) {
            // A stack picked with probability (time parked x hz) stands for one tick.
            uint64_t weight = (e.hdr.flags & SAMPLE_PARK_SAMPLED) ? 1 : ticks(e.hdr.weight_ns, g.remainder[target]);
            std::optional<uint32_t> root;
            if (config_.group_by == GroupBy::greenlet) root = greenlet_frame(t, target);
            if (config_.group_by == GroupBy::thread) root = thread_frame(t, tid);
            add(t, root, frames, weight);
        }
    }
    greenlet_serial(t, target);
    g.current[tid] = target;
    g.slice_start[tid] = now;
}

// gevent's hub: its greenlet is a gevent.hub.Hub (read only for slices past the threshold).
bool StackAggregator::is_hub(Traced& t, uint64_t greenlet) {
    auto& g = t.greenlets;
    if (g.hubs.count(greenlet)) return true;
    const ProcessMemory memory(t.process.pid);
    uint64_t type = memory.read_value<uint64_t>(greenlet + t.process.layout->object_type).value_or(0);
    uint64_t name_ptr = type ? memory.read_value<uint64_t>(type + type_name_offset).value_or(0) : 0;
    char name[64] = {};
    if (!name_ptr || !memory.read(name_ptr, name, sizeof(name) - 1)) return false;
    std::string type_name(name, strnlen(name, sizeof(name) - 1));
    return type_name == "Hub" || ends_with(type_name, ".Hub");
}

void StackAggregator::poll() {
    if (config_.group_by != GroupBy::thread) return;
    auto now = std::chrono::steady_clock::now();
    for (auto& [pid, t] : processes_)
        if (!t->retired && now - t->names_read >= thread_names_interval) refresh_thread_names(*t);
}

std::vector<BlockingSlice> StackAggregator::take_new_blocking() {
    std::vector<BlockingSlice> fresh(blocking_.begin() + long(blocking_taken_), blocking_.end());
    blocking_taken_ = blocking_.size();
    return fresh;
}

void StackAggregator::charge_suspended_generator(pid_t pid, uint64_t generator, uint64_t since_ns, uint64_t end_ns) {
    auto it = processes_.find(pid);
    if (it == processes_.end() || config_.clock != Clock::wall || end_ns <= since_ns) return;
    Traced& t = *it->second;
    auto known = t.waiting_generators.find(generator);
    if (!t.inline_callbacks || known == t.waiting_generators.end()) return;
    const CpythonLayout& l = *t.process.layout;
    const ProcessMemory memory(pid);
    uint64_t frame = l.gen_frame_embedded ? generator + l.gen_frame
                                          : memory.read_value<uint64_t>(generator + l.gen_frame).value_or(0);
    auto code = frame ? memory.read_value<uint64_t>(frame + l.bpf.frame_code) : std::nullopt;
    if (!code || !*code) return;
    // Its own frame, where it waits now (the yield may differ from the last one seen).
    auto one = std::make_unique<py_sample>();
    one->hdr.kind = EVENT_OFFCPU;
    one->hdr.pid = uint32_t(pid);
    one->hdr.tid = known->second.first;
    read_stack_from(memory, l.bpf, frame, *one, t.resolver);
    if (!one->hdr.nframes) return;
    one->hdr.nframes = 1;  // a suspended generator's frame has no caller
    Stack stack = known->second.second;
    ResolvedFrame f = t.resolver.resolve(one->frames[0]);
    stack.push_back({t.profile.intern({*f.name, *f.file, f.first_line}), f.line});
    add(t, root_for(t, *one), stack, ticks(end_ns - since_ns, t.generator_wait_remainder));
}

void StackAggregator::finish(uint64_t end_ns) {
    for (pid_t pid : order_) {
        Traced& t = *processes_.at(pid);
        if (t.retired) continue;  // finished when it was retired
        auto& g = t.greenlets;
        // Greenlets still parked: charged up to the end, like threads still off-CPU, at the
        // stack they are parked at (read from the process, which is still there).
        if (config_.clock == Clock::wall && t.greenlet_layout) {
            const ProcessMemory memory(t.process.pid);
            const auto& gl = t.greenlet_layout->bpf;
            for (auto& [greenlet, parked] : g.parked) {
                if (end_ns <= parked.since_ns) continue;
                uint64_t impl = memory.read_value<uint64_t>(greenlet + gl.pygreenlet_pimpl).value_or(0);
                uint64_t frame = impl ? memory.read_value<uint64_t>(impl + gl.suspended_frame).value_or(0) : 0;
                if (!frame) continue;
                auto saved = std::make_unique<py_sample>();
                saved->hdr.kind = EVENT_OFFCPU;
                saved->hdr.pid = uint32_t(t.process.pid);
                saved->hdr.tid = parked.tid;
                read_stack_from(memory, t.process.layout->bpf, frame, *saved, t.resolver);
                if (!saved->hdr.nframes) continue;
                Stack frames = frames_of(t, *saved);
                std::optional<uint32_t> root;
                if (config_.group_by == GroupBy::greenlet) root = greenlet_frame(t, greenlet);
                if (config_.group_by == GroupBy::thread) root = thread_frame(t, parked.tid);
                add(t, root, frames, ticks(end_ns - parked.since_ns, g.remainder[greenlet]));
            }
        }
        g.parked.clear();
        if (t.deferred_log) t.deferred_log->finish(end_ns);
        charge_idle_main_greenlets(t, end_ns);
        std::vector<std::pair<uint32_t, uint64_t>> running(g.current.begin(), g.current.end());
        for (const auto& [tid, greenlet] : running) end_slice(t, tid, greenlet, end_ns, true);
    }
}

std::vector<ProcessProfile> StackAggregator::take_profiles() {
    std::vector<ProcessProfile> out;
    for (pid_t pid : order_) {
        Traced& t = *processes_.at(pid);
        if (!t.thread_frames.empty() && !t.retired) {
            // Names given or changed after a thread's first sample: label every thread as it is now.
            refresh_thread_names(t);
            for (const auto& [tid, index] : t.thread_frames) {
                const std::string& name = t.thread_names.name(tid);
                if (!name.empty()) t.profile.rename(index, thread_label(tid, name));
            }
        }
        // Greenlets labelled before their run function was known.
        for (const auto& [serial, index] : t.greenlets.frames) t.profile.rename(index, greenlet_label(t, serial));
        out.push_back(std::move(t.profile));
    }
    return out;
}

}  // namespace pyat
