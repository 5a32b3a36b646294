#include "runtimes/twisted/twisted_runtime.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "cpython/builtin_methods.h"
#include "process/elf_file.h"
#include "process/target_file.h"
#include "process/usdt_probes.h"
#include "profile/stack_aggregator.h"
#include "runtimes/twisted/twisted_hooks.h"
#include "runtimes/twisted/twisted_stacks.h"

namespace pyat {

void TwistedRuntime::configure(const Options& options, SamplerConfig& config) const {
    if (options.deferred_log) config.on_demand.emplace(twisted_kernel::return_program);
}

std::vector<std::string_view> TwistedRuntime::kernel_names() const {
    using namespace twisted_kernel;
    return {layouts_map, lifecycle_map, import_watch_map, step_program, return_program};
}

std::unique_ptr<RuntimeStacks> TwistedRuntime::make_stacks() const { return std::make_unique<TwistedStacks>(); }

// --deferred-log: Twisted found soon after it is imported, so the log starts early.
// (Every 10 ms for one target; 50 ms host-wide, where many processes may never import it.)
std::chrono::milliseconds TwistedRuntime::look_every(const Options& options) const {
    return !options.deferred_log                        ? std::chrono::milliseconds(1000)
           : options.mode == TargetMode::all_processes ? std::chrono::milliseconds(50)
                                                       : std::chrono::milliseconds(10);
}

// Its inlineCallbacks chains are readable once twisted.internet.defer is imported and its classes
// have instances (their attribute keys are laid out by then).
Look TwistedRuntime::look(const PythonProcess& p, RuntimeContext& context) {
    PythonObjects objects(ProcessMemory(p.pid), *p.layout);
    TwistedTarget target;
    std::string why;
    switch (find_twisted(objects, *p.layout, p.runtime_address, target, why)) {
        case TwistedSearch::not_imported:
            return process_exists(p.pid) ? Look::not_yet : Look::never;
        case TwistedSearch::not_ready:
            missing_[p.pid] = why;
            if (context.options.deferred_log && target.lifecycle) log_deferreds(p, target, context);
            return process_exists(p.pid) ? Look::not_yet : Look::never;
        case TwistedSearch::unsupported:
            context.note(fmt::format("pyasynctrace: PID {} imported Twisted, but its inlineCallbacks are not "
                                     "described under probes/twisted ({}): stacks stay as the interpreter runs them",
                                     p.pid, why));
            return Look::never;
        case TwistedSearch::found:
            break;
    }
    missing_.erase(p.pid);
    try {
        follow(p, objects, target, context);
    } catch (const Error& e) {
        context.note(fmt::format("pyasynctrace: {}", e.what()));
        register_twisted_layout(context.kernel, p.pid, target.bpf);
    }
    return Look::found;
}

void TwistedRuntime::follow(const PythonProcess& p, PythonObjects& objects, const TwistedTarget& target,
                            RuntimeContext& context) {
    const Options& options = context.options;
    if (auto* stacks = context.aggregator.stacks_of<TwistedStacks>(p.pid)) stacks->follow(*target.description);
    // --clock wall: time each generator's suspensions between its steps (gen.send/throw).
    std::string waits = "not timed (--clock cpu)";
    bool hooked = false;
    if (options.clock == Clock::wall) {
        std::string why;
        auto send = find_builtin_method(p, objects, "PyGen_Type", "send", why);
        auto thrown = send ? find_builtin_method(p, objects, "PyGen_Type", "throw", why) : std::nullopt;
        if (send && thrown) {
            attach_generator_steps(context.kernel, p.pid,
                                   {{send->file, send->probe_offset}, {thrown->file, thrown->probe_offset}},
                                   target.bpf);
            hooked = true;
            waits = "charged to the generators waiting";
        } else {
            waits = fmt::format("not timed: {}", why);
        }
    }
    if (!hooked) register_twisted_layout(context.kernel, p.pid, target.bpf);
    followed_++;
    if (options.deferred_log) log_deferreds(p, target, context);
    context.note(fmt::format("pyasynctrace: PID {}: Twisted found ({}): {} inlineCallbacks stacks; "
                             "Deferred waits {}",
                             p.pid, target.description->source, options.raw_stacks ? "raw" : "logical", waits));
}

// --deferred-log: the function__return probe of a Twisted process whose interpreter has it.
bool TwistedRuntime::has_return_probe(const PythonProcess& p) {
    if (has_usdt_probe(usdt_probes(ElfFile::open(TargetFile::mapped(p.pid, p.interpreter))), "python",
                       "function__return"))
        return true;
    deferred_log_missing_[p.pid] = fmt::format(
        "its CPython {} ({}) has no USDT probes: the log needs a build --with-dtrace that fires "
        "function__return, such as Debian's python3.11",
        p.version, p.interpreter);
    return false;
}

void TwistedRuntime::log_deferreds(const PythonProcess& p, const TwistedTarget& target, RuntimeContext& context) {
    if (deferred_logged_.count(p.pid)) return;
    if (!target.lifecycle) {
        deferred_log_missing_[p.pid] = target.lifecycle_missing;
        return;
    }
    try {
        if (!has_return_probe(p)) return;
        deferred_log_layout layout = *target.lifecycle;
        std::string why;
        auto method_type = exported_address(p, "PyMethod_Type", why);
        if (!method_type) {
            deferred_log_missing_[p.pid] = why;
            return;
        }
        layout.method_type = *method_type;
        attach_deferred_log(context.kernel, p.pid, p.interpreter, layout);
        if (TracedProcess* traced = context.aggregator.traced(p.pid))
            if (auto* stacks = traced->stacks<TwistedStacks>()) {
                stacks->follow(*target.description);
                stacks->log_deferreds(*traced);
            }
        deferred_logged_.insert(p.pid);
        deferred_log_missing_.erase(p.pid);
        context.note(fmt::format("pyasynctrace: PID {}: logging the Deferred lifecycle (function__return "
                                 "probe: every Python return now costs the target ~5 us{})",
                                 p.pid,
                                 context.options.deferred_log_by_default
                                     ? "; on because -o *.jsonl was asked for without a blocking "
                                       "report: --no-deferred-log turns it off"
                                     : ""));
    } catch (const Error& e) {
        deferred_log_missing_[p.pid] = e.what();
    }
}

// A launched program is watched from the start: it is stopped as it imports Twisted's defer
// module and continued once its Deferreds are logged, so that none is missed. Only when the log
// was asked for explicitly (every return traps until Twisted is imported); by default only the
// periodic look finds it.
void TwistedRuntime::watch(const PythonProcess& p, RuntimeContext& context) {
    const Options& options = context.options;
    if (!options.deferred_log || options.deferred_log_by_default || options.mode != TargetMode::launch) return;
    const auto& descriptions = known_twisted_descriptions();
    if (descriptions.empty() || deferred_logged_.count(p.pid)) return;
    try {
        if (!has_return_probe(p)) return;
        deferred_import_watch watch{};
        watch.code_name = p.layout->bpf.code_name;
        watch.code_filename = p.layout->bpf.code_filename;
        watch.unicode_length = p.layout->unicode_length;
        watch.unicode_ascii_data = p.layout->unicode_ascii_data;
        std::string_view suffix = descriptions.front().defer_file;
        if (suffix.empty() || suffix.size() > sizeof(watch.suffix)) return;
        watch.suffix_len = uint8_t(suffix.size());
        std::copy(suffix.begin(), suffix.end(), watch.suffix);
        watch_defer_import(context.kernel, p.pid, p.interpreter, watch);
        context.note(fmt::format("pyasynctrace: PID {}: watching for Twisted's import (every Python return "
                                 "costs the target ~5 us until then)",
                                 p.pid));
    } catch (const Error& e) {
        deferred_log_missing_[p.pid] = e.what();
    }
}

bool TwistedRuntime::on_record(const event_header& header, size_t) {
    if (header.kind != EVENT_DEFER_IMPORTED) return false;
    defer_imported_.push_back(pid_t(header.pid));
    return true;
}

// Stopped in the kernel as it imported Twisted's defer (and looked at since): continue it.
void TwistedRuntime::woken(pid_t pid, RuntimeContext& context) {
    if (!context.let_go(pid))
        context.note(fmt::format("pyasynctrace: PID {} was let go by the hold guard before its Deferred log "
                                 "began (the tracer was stopped or too slow): Deferreds created meanwhile "
                                 "are missing",
                                 pid));
}

// Generators still suspended at the end are charged up to it, like threads still off-CPU.
void TwistedRuntime::finish(RuntimeContext& context, uint64_t end_ns) {
    if (context.options.clock != Clock::wall) return;
    for (const auto& [key, since] : context.kernel.parked())
        if (TracedProcess* traced = context.aggregator.traced(pid_t(key.tgid)))
            if (auto* stacks = traced->stacks<TwistedStacks>()) stacks->charge_suspended(*traced, key.greenlet, since, end_ns);
}

void TwistedRuntime::add_to(Profile& profile, RuntimeContext& context) {
    // Per process in time order.
    for (TracedProcess* traced : context.aggregator.in_order())
        if (auto* stacks = traced->stacks<TwistedStacks>()) deferred_dropped_ += stacks->take_events(profile.deferred_events);
}

void TwistedRuntime::summarize_misses(const RunEnd& end, std::vector<std::string>& lines) const {
    const Options& options = end.options;
    if (!options.quiet)
        for (const auto& [pid, why] : missing_)
            lines.push_back(fmt::format("pyasynctrace: PID {} imported Twisted, but its inlineCallbacks could not be "
                                        "followed ({}): its stacks are as the interpreter ran them",
                                        pid, why));
    if (options.deferred_log) {
        for (const auto& [pid, why] : deferred_log_missing_)
            if (!options.deferred_log_by_default || followed_)
                lines.push_back(fmt::format("pyasynctrace: PID {}: no Deferred lifecycle log: {}", pid, why));
        if (!followed_ && deferred_logged_.empty() && !options.deferred_log_by_default)
            lines.push_back("pyasynctrace: no traced process imported Twisted: no Deferred lifecycle log");
        if (!deferred_logged_.empty()) {
            // Measured here: one function__return hit costs the target ~5.2 us (shared/FACTS.md).
            const uint64_t returns = end.kernel.counter(COUNTER_PYTHON_RETURNS);
            const double cost_s = double(returns) * 5.2e-6;
            lines.push_back(fmt::format(
                "pyasynctrace: Deferred lifecycle log: {} entries from {} Python returns hooked ({:.0f} a "
                "second); the hook cost the target about {:.1f} s over {:.1f} s",
                end.profile.deferred_events.size(), returns, double(returns) / std::max(end.duration_s, 1e-3), cost_s,
                end.duration_s));
            if (deferred_dropped_)
                lines.push_back(fmt::format("pyasynctrace: warning: {} lifecycle entries over the limit were not kept",
                                            deferred_dropped_));
        }
    } else if (!options.quiet && followed_ &&
               std::any_of(end.outputs.begin(), end.outputs.end(),
                           [](const OutputSpec& o) { return o.format->event_log; })) {
        lines.push_back("pyasynctrace: the Deferred lifecycle is not in the event log: add --deferred-log "
                        "(it hooks every Python return, ~5 us each)");
    }
}

}  // namespace pyat
