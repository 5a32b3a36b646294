#include "runtimes/twisted/twisted_stacks.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "process/process_memory.h"
#include "profile/frame_label.h"

namespace pyat {

namespace {
constexpr size_t max_slice_samples = 8192;
constexpr size_t max_waiting_generators = 65536;
}  // namespace

void TwistedStacks::follow(const TwistedDescription& description) {
    inline_callbacks_.emplace(description);
    defer_file_ = description.defer_file;
}

void TwistedStacks::log_deferreds(const TracedProcess& t) {
    if (!deferred_log_) deferred_log_.emplace(t.process.pid, *t.process.layout);
}

bool TwistedStacks::on_record(TracedProcess& t, const py_sample& sample, size_t size) {
    switch (sample.hdr.kind) {
        case EVENT_REACTOR_BUSY:
            if (!reactor_threads_.count(sample.hdr.tid)) return false;  // not a reactor's: an asyncio loop's
            on_reactor_busy(t, sample.hdr.tid, sample.hdr.ktime_ns, sample.hdr.weight_ns);
            return true;
        case EVENT_DEFERRED:
            on_deferred_event(t, sample);
            return true;
        case EVENT_GENERATOR_WAIT:
            if (frames_fit(sample, size)) on_generator_wait(t, sample);  // never read past the record
            return true;
    }
    return false;
}

bool TwistedStacks::rewrite(TracedProcess& t, const py_sample& sample, size_t first, Stack& stack) {
    if (!inline_callbacks_ || t.config.raw_stacks) return false;
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    size_t physical = n - std::min<size_t>(sample.hdr.nawaiting, n);
    first = std::min(first, physical);
    Stack raw, waiting;
    raw.reserve(physical - first);
    for (size_t i = physical; i-- > first;) raw.push_back(t.resolve(sample.frames[i]));  // kernel order is innermost first
    for (size_t i = n; i-- > physical;) waiting.push_back(t.resolve(sample.frames[i]));
    std::optional<size_t> resumed;
    if ((sample.hdr.flags & SAMPLE_RESUMED_GENERATOR) && sample.hdr.awaited_at >= first &&
        sample.hdr.awaited_at < physical)
        resumed = physical - 1 - sample.hdr.awaited_at;
    if (t.config.block_threshold_ns && inline_callbacks_->runs_reactor(t.profile, raw))
        reactor_threads_.insert(sample.hdr.tid);
    Stack logical = inline_callbacks_->rewrite(t.profile, raw, resumed, waiting);
    stack.insert(stack.end(), logical.begin(), logical.end());
    return true;
}

void TwistedStacks::on_cpu_stack(TracedProcess& t, const py_sample& sample, const Stack& frames) {
    if (!t.config.block_threshold_ns || !inline_callbacks_) return;
    auto& kept = recent_samples_[sample.hdr.tid];
    if (kept.size() >= max_slice_samples) kept.pop_front();
    kept.emplace_back(sample.hdr.ktime_ns, frames);
}

void TwistedStacks::retire(TracedProcess&, uint64_t end_ns) {
    waiting_generators_.clear();  // their frames are in memory that is no longer theirs
    if (deferred_log_) deferred_log_->finish(end_ns);
}

void TwistedStacks::finish(TracedProcess&, uint64_t end_ns) {
    if (deferred_log_) deferred_log_->finish(end_ns);
}

bool TwistedStacks::resumed_by_generator_end(TracedProcess& t, const py_sample& sample) {
    if (!(sample.hdr.flags & SAMPLE_RESUMED_GENERATOR)) return false;
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    size_t physical = n - std::min<size_t>(sample.hdr.nawaiting, n);
    if (sample.hdr.awaited_at >= physical) return false;
    Stack raw;
    raw.reserve(physical);
    for (size_t i = physical; i-- > 0;) raw.push_back(t.resolve(sample.frames[i]));
    return inline_callbacks_->resumed_by_generator_end(t.profile, raw, physical - 1 - sample.hdr.awaited_at);
}

void TwistedStacks::on_generator_wait(TracedProcess& t, const py_sample& sample) {
    if (t.config.clock != Clock::wall || !inline_callbacks_) return;
    if (resumed_by_generator_end(t, sample)) return;
    uint64_t weight =
        (sample.hdr.flags & SAMPLE_PARK_SAMPLED) ? 1 : t.ticks(sample.hdr.weight_ns, generator_wait_remainder_);
    Stack frames = t.frames_of(sample);
    if (waiting_generators_.size() >= max_waiting_generators) waiting_generators_.clear();
    waiting_generators_[sample.hdr.generator_wait.generator] = {sample.hdr.tid, Stack(frames.begin(), frames.end() - 1)};
    if (weight) t.add(t.root_for(sample), frames, weight);
}

// A lifecycle event's stack, as labels: Twisted's own defer.py frames (the Deferred's methods and
// the inlineCallbacks machinery) are left out unless --raw-stacks.
void TwistedStacks::on_deferred_event(TracedProcess& t, const py_sample& event) {
    if (!deferred_log_) return;
    // The stack follows the callables the kernel recorded first.
    Stack frames = t.frames_of(event, event.hdr.deferred_detail.callables);
    if (!t.config.raw_stacks && !defer_file_.empty())
        std::erase_if(frames, [&](const StackFrame& f) { return t.profile.functions[f.function].file.ends_with(defer_file_); });
    auto& labels = lifecycle_stacks_[frames];
    if (!labels) {
        std::vector<std::string> text;
        text.reserve(frames.size());
        for (const auto& f : frames) text.push_back(frame_label(t.profile.functions[f.function], f.line));
        labels = std::make_shared<const std::vector<std::string>>(std::move(text));
    }
    deferred_log_->add(event, labels, t.resolver);
}

void TwistedStacks::on_reactor_busy(TracedProcess& t, uint32_t tid, uint64_t start_ns, uint64_t duration_ns) {
    auto it = recent_samples_.find(tid);
    if (!t.config.block_threshold_ns || !reactor_threads_.count(tid) || it == recent_samples_.end()) return;
    std::deque<Stack> during;
    auto& kept = it->second;
    while (!kept.empty() && kept.front().first < start_ns) kept.pop_front();  // older: never needed again
    for (const auto& [when, stack] : kept)
        if (when <= start_ns + duration_ns) during.push_back(stack);
    t.report_slice(tid, fmt::format("reactor thread [{}]", tid), "without returning to the reactor", start_ns,
                   duration_ns, false, during);
}

void TwistedStacks::charge_suspended(TracedProcess& t, uint64_t generator, uint64_t since_ns, uint64_t end_ns) {
    if (t.config.clock != Clock::wall || end_ns <= since_ns) return;
    auto known = waiting_generators_.find(generator);
    if (!inline_callbacks_ || known == waiting_generators_.end()) return;
    const CpythonLayout& l = *t.process.layout;
    const ProcessMemory memory(t.process.pid);
    uint64_t frame = l.gen_frame_embedded ? generator + l.gen_frame
                                          : memory.read_value<uint64_t>(generator + l.gen_frame).value_or(0);
    auto code = frame ? memory.read_value<uint64_t>(frame + l.bpf.frame_code) : std::nullopt;
    if (!code || !*code) return;
    // Its own frame, where it waits now (the yield may differ from the last one seen).
    auto one = t.read_stack(memory, frame, known->second.first);
    if (!one->hdr.nframes) return;
    one->hdr.nframes = 1;  // a suspended generator's frame has no caller
    Stack stack = known->second.second;
    ResolvedFrame f = t.resolver.resolve(one->frames[0]);
    stack.push_back({t.profile.intern({*f.name, *f.file, f.first_line}), f.line});
    t.add(t.root_for(*one), stack, t.ticks(end_ns - since_ns, generator_wait_remainder_));
}

uint64_t TwistedStacks::take_events(std::vector<DeferredEvent>& out) {
    if (!deferred_log_) return 0;
    auto events = deferred_log_->take_events();
    std::move(events.begin(), events.end(), std::back_inserter(out));
    return deferred_log_->dropped();
}

}  // namespace pyat
