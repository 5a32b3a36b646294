#include "runtimes/asyncio/asyncio_stacks.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "base/run_clock.h"
#include "profile/frame_label.h"

#include "runtimes/twisted/twisted_description.h"  // split_names

namespace pyat {

namespace {
constexpr size_t max_slice_samples = 4096;  // per thread, for the blocking report
constexpr const char* loop_frame = "[asyncio event loop]";
constexpr const char* ready_frame = "[ready: waiting for the loop]";
// The scans' budget: at most this share of one CPU (the scans' typical time sets the pause after
// each: AsyncioStacks::scan_now). On a 2-core host that a service and its load generator fill,
// the tracer's CPU is what the service loses: bench/asyncio_throughput.sh.
// - --clock wall: the scans are what charges each waiting task (a wait is given to the scan
//   nearest each moment of it, which is unbiased while the scans' times owe nothing to what the
//   tasks do). An aiohttp service's 20 ms backend waits (a new task per request, 25 tasks,
//   0.5-0.8 ms a scan) weighed 0.99-1.03 of their time at 3% (a scan every 25-35 ms) over five
//   5 s runs, 0.91-0.99 at 2%. (At a fixed period paced by each scan's own time, 5% had given
//   0.88-0.945: the two biases scan_now() now avoids.)
// - --clock cpu: a sample's own task is read alone when no read since the sample saw it
//   (TaskScan::adopt; the kernel wakes the reader for such samples), so the scans only find the
//   parents started since: 1% (5% cost that service 4% of a core for 100 scans a second that
//   named nothing new; before samples read their own task, 1% put only 0.94 of its handler
//   samples under their request task, 0.95 asked).
constexpr double wall_scan_budget = 0.03;
constexpr double cpu_scan_budget = 0.01;
constexpr uint64_t min_scan_period_ns = 10'000'000;     // 10 ms
// 10 s: the budget decides, up to that (with 2 s, 10,000 tasks' 120 ms scans took 6% of a CPU).
constexpr uint64_t max_scan_period_ns = 10'000'000'000;

// The pause a scan that took `spent_ns` buys under the budget of `clock`.
uint64_t scan_pause_ns(Clock clock, uint64_t spent_ns) {
    return uint64_t(double(spent_ns) / (clock == Clock::wall ? wall_scan_budget : cpu_scan_budget));
}

// The last component of a qualified name: what the code object names itself (co_name).
std::string_view code_name(std::string_view qualified) {
    auto dot = qualified.rfind('.');
    return dot == std::string_view::npos ? qualified : qualified.substr(dot + 1);
}
}  // namespace

void AsyncioStacks::follow(const AsyncioDescription& description, const PythonProcess& process) {
    following_ = true;
    plumbing_.clear();
    for (const auto& entry : split_names(description.plumbing_frames)) {
        auto colon = entry.rfind(':');
        if (colon != std::string::npos) plumbing_.emplace_back(entry.substr(0, colon), entry.substr(colon + 1));
    }
    plumbing_functions_.clear();
    scan_ = std::make_unique<TaskScan>(process);
    // The tasks the first scan finds have waited since they were followed, as those of any later
    // scan since the one before (not from the first scan on: a run would lose its first interval).
    last_charge_ns_ = monotonic_ns();
}

bool AsyncioStacks::is_plumbing(TracedProcess& t, uint32_t function) {
    if (auto it = plumbing_functions_.find(function); it != plumbing_functions_.end()) return it->second;
    const Function& f = t.profile.functions[function];
    bool hidden = std::any_of(plumbing_.begin(), plumbing_.end(), [&](const auto& p) {
        return code_name(f.name) == p.second && f.file.ends_with(p.first);
    });
    plumbing_functions_.emplace(function, hidden);
    return hidden;
}

const AsyncioTask* AsyncioStacks::running_task(TracedProcess& t, const py_sample& sample) {
    const uint64_t frame = sample.hdr.task_frame;
    if (!scan_ || !frame || sample.hdr.task_at >= std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES)) return nullptr;
    if (cached_.sample == &sample && cached_.ktime_ns == sample.hdr.ktime_ns && cached_.tid == sample.hdr.tid)
        return cached_.task ? scan_->task(cached_.task, sample.hdr.ktime_ns) : nullptr;  // gone ones too
    cached_ = {&sample, sample.hdr.ktime_ns, sample.hdr.tid, 0};
    if (is_plumbing(t, t.resolve(sample.frames[sample.hdr.task_at]).function)) return nullptr;  // the loop's own
    // The kernel names the task when asyncio says it runs (its coroutine at that frame); else the
    // frame alone does. A coroutine's frame lives in (3.11+) or is reused by (3.8-3.10) what comes
    // after it, and a task's memory by the next task: an answer holds only if a scan saw that task
    // with its coroutine at that frame, running that code, and (if it could) a scan begun after
    // the sample.
    const uint64_t code = sample.frames[sample.hdr.task_at].code;
    const uint64_t when = sample.hdr.ktime_ns;
    auto lookup = [&] { return scan_->running_task(sample.hdr.task, frame, code, when); };
    const AsyncioTask* task = lookup();
    // What the kernel names was read after the sample: it is what ran (its memory may since hold
    // another task with the same coroutine, as per-request tasks do).
    auto fresh = [&] { return task && scan_->read_after(sample.hdr.task ? sample.hdr.task : task->address, when); };
    // A task started since the last scan (or, in --clock cpu, read before the sample): read it
    // alone now (after the sample, as a scan would be), its parents being known; with the
    // budget's leave a scan checks the rest. (In --clock wall the scans charge the waits they
    // read: a task read anew in between would move its wait before the scan that charges it.)
    const bool refresh = t.config.clock == Clock::cpu;
    if (!fresh() && (!task || refresh) && scan_->adopt(sample.hdr.task, when, cost_)) task = lookup();
    if (!fresh() && !scan_->tried_frame(frame) &&
        scan_now(t, monotonic_ns()))  // a task started since (or a plain callback, which no scan names)
        task = lookup();
    cached_ = {&sample, sample.hdr.ktime_ns, sample.hdr.tid, task ? task->address : 0};
    return task;
}

bool AsyncioStacks::scan_now(TracedProcess& t, uint64_t now_ns) {
    if (now_ns < next_allowed_scan_ns_) return false;
    uint64_t spent_before = cost_.ns;
    // Without steps, a task that moved since the last scan did so some time in between: the first
    // half of the interval goes to what the last scan read, the second to what this one reads
    // (unbiased; all of it at the old wait gave a late scan's whole delay to the wait before:
    // CI saw site_b/site_a 2.31 for 2). With steps, the waits ended by a step are charged already:
    // what remains began at a task's last step, at the chain this scan reads.
    const bool wall = t.config.clock == Clock::wall;
    const bool charge = wall && last_charge_ns_ && now_ns > last_charge_ns_;
    const uint64_t mid = charge && !steps_ ? last_charge_ns_ + (now_ns - last_charge_ns_) / 2 : last_charge_ns_;
    if (charge && !steps_) charge_waits(t, last_charge_ns_, mid);
    scan_->scan(t.resolver, cost_);
    if (charge) charge_waits(t, mid, now_ns);
    last_charge_ns_ = now_ns;
    // The next scan no sooner than the scans' typical time allows within the budget: not this
    // one's own, which grows with the tasks that moved and so with the waits it read (a longer
    // pause after a scan that saw more of them gave them more than their time: 1.02-1.11 of
    // the backend waits over five 5 s runs at a 3% budget). This one's counts when it costs far
    // more than the typical (tasks by thousands now), and then weighs in the typical.
    // (--clock cpu charges nothing at a scan: each pause is its own scan's.)
    const uint64_t spent = cost_.ns - spent_before;
    const double basis = wall && typical_scan_ns_ ? std::max(typical_scan_ns_, double(spent) / 4) : double(spent);
    typical_scan_ns_ = typical_scan_ns_ ? typical_scan_ns_ + (double(spent) - typical_scan_ns_) / 8 : double(spent);
    // Each pause drawn from half to one and a half of it (the same on average): scans at a fixed
    // period alias with a service's own (wrk's 8 connections, each a 22 ms request after the
    // other), so a whole run sees the waits at the same phase. At a 2% budget, 37 ms apart, the
    // backend waits weighed 0.74-0.87 of their time over 4 runs at a fixed period, 0.95-1.04 drawn.
    const double draw = wall ? std::uniform_real_distribution<double>(0.5, 1.5)(pause_draws_) : 1.0;
    const uint64_t pause = std::min<uint64_t>(scan_pause_ns(t.config.clock, uint64_t(basis)), max_scan_period_ns);
    next_allowed_scan_ns_ = now_ns + uint64_t(double(pause) * draw);
    next_scan_ns_ = now_ns + uint64_t(double(std::max(pause, min_scan_period_ns)) * draw);
    return true;
}

void AsyncioStacks::append_await_frames(TracedProcess& t, const AsyncioTask& task, Stack& stack) {
    for (const py_frame& f : task.await_frames) {
        StackFrame frame = t.resolve(f);
        if (!is_plumbing(t, frame.function)) stack.push_back(frame);
    }
}

void AsyncioStacks::append_awaiters(TracedProcess& t, const py_sample& sample, const AsyncioTask* task,
                                    Stack& stack) {
    std::vector<const AsyncioTask*> awaiters;
    if (task) awaiters = scan_->awaiters(*task);
    // Gone before it could be read, or read only once done (its callbacks cleared): the task its
    // first callback names (read by the kernel at the sample: a gather's, a TaskGroup's, an
    // awaiting task's wakeup), under that one's own awaiters.
    if (awaiters.empty() && (!task || task->state != TaskState::pending))
        if (const AsyncioTask* awaiter = scan_->awaiter_by_callback(sample.hdr.task_callback, cost_)) {
            awaiters = scan_->awaiters(*awaiter);
            awaiters.push_back(awaiter);
        }
    for (const AsyncioTask* awaiter : awaiters) append_await_frames(t, *awaiter, stack);
}

bool AsyncioStacks::rewrite(TracedProcess& t, const py_sample& sample, size_t first, Stack& stack) {
    if (!following_ || t.config.raw_stacks) return false;
    size_t n = std::min<size_t>(sample.hdr.nframes, PYAT_MAX_FRAMES);
    size_t physical = n - std::min<size_t>(sample.hdr.nawaiting, n);
    first = std::min(first, physical);
    // (asyncio.run's frame is an entry for loops without Python plumbing, uvloop: under the standard
    // loop the frame it calls is the loop's own.)
    if (sample.hdr.task_frame && sample.hdr.task_at >= first && sample.hdr.task_at < physical &&
        !is_plumbing(t, t.resolve(sample.frames[sample.hdr.task_at]).function)) {
        // A task (or a plain callback) the loop runs: rooted at it, under the tasks awaiting it.
        loop_ran_ = true;
        if (scan_) append_awaiters(t, sample, running_task(t, sample), stack);
        for (size_t i = size_t(sample.hdr.task_at) + 1; i-- > first;) {
            StackFrame frame = t.resolve(sample.frames[i]);
            if (!is_plumbing(t, frame.function)) stack.push_back(frame);
        }
        return true;
    }
    // The loop itself (between callbacks, or waiting in its selector): below its innermost
    // plumbing frame, under one frame saying so.
    Stack raw;
    raw.reserve(physical - first);
    for (size_t i = physical; i-- > first;) raw.push_back(t.resolve(sample.frames[i]));
    size_t innermost = raw.size();
    for (size_t i = raw.size(); i-- > 0;)
        if (is_plumbing(t, raw[i].function)) {
            innermost = i;
            break;
        }
    if (innermost == raw.size()) return false;  // not asyncio's: as the interpreter runs it
    loop_ran_ = true;
    stack.push_back({t.profile.intern({loop_frame, "", 0}), 0});
    stack.insert(stack.end(), raw.begin() + long(innermost) + 1, raw.end());
    return true;
}

bool AsyncioStacks::on_record(TracedProcess& t, const py_sample& sample, size_t) {
    if (sample.hdr.kind == EVENT_TASK_STEP) {
        if (following_ && steps_ && t.config.clock == Clock::wall) on_step(t, sample.hdr.task, sample.hdr.ktime_ns);
        return true;
    }
    if (sample.hdr.kind != EVENT_REACTOR_BUSY || !following_) return false;
    on_loop_busy(t, sample.hdr.tid, sample.hdr.ktime_ns, sample.hdr.weight_ns);
    return true;
}

// The wait it began after its last step (or since a scan) ends now, at the chain a scan read
// during it; a task stepping again before any scan saw its new wait is charged at the chain read
// last (counted: TaskScanCost::steps_unread). A task the scans have not seen yet (started since)
// waited from this step on, once a scan sees it.
void AsyncioStacks::on_step(TracedProcess& t, uint64_t address, uint64_t ns) {
    cost_.steps++;
    if (!scan_) return;
    Stepped& s = stepped_[address];
    const AsyncioTask* task = scan_->task(address);
    if (task && s.charged_to && ns > s.charged_to && task->state == TaskState::pending && !scan_->running(*task) &&
        !scan_->awaits_tasks(*task)) {
        if (s.serial && s.serial == task->serial) cost_.steps_unread++;
        charge_task(t, *task, std::max(s.charged_to, task->found_ns), ns);
    }
    s.charged_to = std::max(s.charged_to, ns);
    s.serial = task ? task->serial : 0;
}

void AsyncioStacks::on_cpu_stack(TracedProcess& t, const py_sample& sample, const Stack& frames) {
    if (!t.config.block_threshold_ns || !following_ || !sample.hdr.task_frame) return;
    std::string task;
    if (const AsyncioTask* running = running_task(t, sample)) {
        SampleGroup g{SampleGroup::Kind::task, 0, running->name};
        g.function = running->coro_function;
        task = group_label(g);
    }
    auto& kept = recent_samples_[sample.hdr.tid];
    if (kept.size() >= max_slice_samples) kept.pop_front();
    kept.push_back({sample.hdr.ktime_ns, frames, std::move(task)});
}

void AsyncioStacks::on_loop_busy(TracedProcess& t, uint32_t tid, uint64_t start_ns, uint64_t duration_ns) {
    if (!t.config.block_threshold_ns) return;
    auto it = recent_samples_.find(tid);
    if (it == recent_samples_.end()) return;  // no task ever ran on this thread: not a loop's
    std::deque<Stack> during;
    std::map<std::string, size_t> tasks;
    auto& kept = it->second;
    while (!kept.empty() && kept.front().ktime_ns < start_ns) kept.pop_front();  // older: never needed again
    for (const auto& s : kept)
        if (s.ktime_ns <= start_ns + duration_ns) {
            during.push_back(s.stack);
            if (!s.task.empty()) tasks[s.task]++;
        }
    // Named by the task most samples ran in, else by its thread.
    std::string who = fmt::format("event loop thread [{}]", tid);
    size_t most = 0;
    for (const auto& [label, n] : tasks)
        if (n > most) {
            most = n;
            who = label;
        }
    t.report_slice(tid, who, "without returning to the event loop", start_ns, duration_ns, false, during);
}

uint32_t AsyncioStacks::task_group(TracedProcess& t, const AsyncioTask& task) {
    auto it = task_groups_.find(task.address);
    if (it != task_groups_.end()) {
        // A read that could not name its coroutine (CI saw one task of eight rooted at a bare
        // `task "Task-5"`): a later read names it, for every sample of the task.
        SampleGroup& g = t.profile.groups[it->second];
        if (g.function.empty() && !task.coro_function.empty()) g.function = task.coro_function;
        return it->second;
    }
    SampleGroup g{SampleGroup::Kind::task, next_task_serial_++, task.name};
    g.function = task.coro_function;
    uint32_t index = t.profile.add_group(std::move(g));
    task_groups_.emplace(task.address, index);
    return index;
}

std::optional<uint32_t> AsyncioStacks::group_root(TracedProcess& t, const py_sample& sample) {
    if (t.config.group_by != GroupBy::task || !following_) return std::nullopt;
    if (const AsyncioTask* task = running_task(t, sample)) return task_group(t, *task);
    return std::nullopt;
}

void AsyncioStacks::charge_waits(TracedProcess& t, uint64_t from_ns, uint64_t to_ns) {
    if (!scan_ || to_ns <= from_ns) return;
    const uint64_t cpu_start = thread_cpu_ns();
    if (charged_.size() > 2 * scan_->tasks().size() + 1024) charged_.clear();  // tasks long gone
    if (stepped_.size() > 2 * scan_->tasks().size() + 1024) {  // forget those gone
        for (auto it = stepped_.begin(); it != stepped_.end();)
            it = scan_->task(it->first) ? std::next(it) : stepped_.erase(it);
    }
    for (const AsyncioTask* task : scan_->tasks()) {
        // (A task read alone since the last scan did not wait before it was found; with steps, a
        // task waited since its last step, charged up to there.)
        uint64_t since = std::max(from_ns, task->found_ns);
        Stepped* stepped = steps_ ? &stepped_[task->address] : nullptr;
        if (stepped && stepped->charged_to) since = std::max(from_ns, stepped->charged_to);  // (before it was found too)
        if (task->state == TaskState::pending && !scan_->running(*task) && !scan_->awaits_tasks(*task))
            charge_task(t, *task, since, to_ns);  // (the tasks a task awaits carry its time)
        if (stepped) stepped->charged_to = std::max(stepped->charged_to, to_ns);
    }
    cost_.ns += thread_cpu_ns() - cpu_start;
}

void AsyncioStacks::charge_task(TracedProcess& t, const AsyncioTask& task, uint64_t from_ns, uint64_t to_ns) {
    if (from_ns >= to_ns) return;
    // Its stack as charged last time, while neither it nor its awaiters were read anew.
    std::vector<const AsyncioTask*> awaiters = scan_->awaiters(task);
    uint64_t key = 0;
    for (const AsyncioTask* a : awaiters) key = key * 1'000'003 + a->serial + 1;
    Charged& c = charged_[task.address];
    if (c.stack.empty() || c.serial != task.serial || c.awaiters != key) {
        c.serial = task.serial;
        c.awaiters = key;
        c.stack.clear();
        for (const AsyncioTask* a : awaiters) append_await_frames(t, *a, c.stack);
        append_await_frames(t, task, c.stack);
        if (!task.fut_waiter) c.stack.push_back({t.profile.intern({ready_frame, "", 0}), 0});
        c.group = t.config.group_by == GroupBy::task ? std::optional<uint32_t>(task_group(t, task)) : std::nullopt;
        c.remainder = &wait_remainders_[{c.group.value_or(UINT32_MAX), c.stack}];
    }
    if (uint64_t weight = t.ticks(to_ns - from_ns, *c.remainder)) t.add(c.group, c.stack, weight);
}

std::optional<int> AsyncioStacks::poll(TracedProcess& t, uint64_t now_ns) {
    if (!following_ || !scan_) return std::nullopt;
    if (now_ns >= next_scan_ns_) scan_now(t, now_ns);
    // Samples read soon after they were taken: a short-lived task is then often still there to
    // be read alone (TaskScan::adopt), its parents known.
    constexpr int sample_read_ms = 5;
    return std::min(sample_read_ms, int((std::max(next_scan_ns_, now_ns) - now_ns) / 1'000'000));
}

void AsyncioStacks::retire(TracedProcess& t, uint64_t end_ns) {
    finish(t, end_ns);
    scan_.reset();  // its memory is no longer its own
    following_ = false;
}

void AsyncioStacks::finish(TracedProcess& t, uint64_t end_ns) {
    if (t.config.clock == Clock::wall && scan_ && last_charge_ns_ && end_ns > last_charge_ns_)
        charge_waits(t, last_charge_ns_, end_ns);
    last_charge_ns_ = end_ns;
}

void AsyncioStacks::label_groups(TracedProcess&) {}

}  // namespace pyat
