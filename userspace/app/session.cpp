#include "app/session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "kernel/bpf_hold_map.h"
#include "kernel/bpf_sampler.h"
#include "cpython/builtin_methods.h"
#include "app/cli.h"
#include "process/elf_file.h"
#include "base/epoll_set.h"
#include "base/error.h"
#include "writers/event_log_writer.h"
#include "runtimes/greenlet/greenlet_layout.h"
#include "process/hold_guard.h"
#include "process/hold_table.h"
#include "app/hot_functions.h"
#include "process/launched_command.h"
#include "process/privileges.h"
#include "process/proc_maps.h"
#include "writers/output_file.h"
#include "writers/profile_outputs.h"
#include "cpython/python_process.h"
#include "cpython/python_stack_reader.h"
#include "base/run_clock.h"
#include "profile/stack_aggregator.h"
#include "app/status_line.h"
#include "app/stop_signals.h"
#include "process/target_discovery.h"
#include "process/target_file.h"
#include "base/text_encoding.h"
#include "runtimes/twisted/twisted_inspector.h"
#include "base/unique_fd.h"
#include "process/usdt_probes.h"

namespace pyat {

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Sleeping (S) or in uninterruptible wait (D), from /proc/PID/task/TID/stat.
bool thread_is_blocked(pid_t pid, pid_t tid) {
    std::ifstream in(fmt::format("/proc/{}/task/{}/stat", pid, tid));
    std::string stat;
    std::getline(in, stat);
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    char state = stat[paren + 2];
    return state == 'S' || state == 'D';
}

py_process to_bpf(const PythonProcess& p, uint64_t code_type) {
    py_process out{};
    out.runtime_addr = p.runtime_address;
    out.layout = p.layout->bpf;
    out.code = kernel_code_layout(*p.layout);
    out.code.code_type = code_type;
    return out;
}

std::string describe(const PythonProcess& p) {
    return fmt::format("PID {} ({}, CPython {})", p.pid, p.command_line.empty() ? p.program : p.command_line,
                       p.version);
}

}  // namespace

int run_session(const Options& options) {
    require_privileges();
    // Before anything is attached: every output can be written, none is another's file. Sampling
    // may cover several processes, so a callgrind output may become one file per process.
    check_outputs(options.outputs, true);

    // Resolve the target before touching the kernel: bad PIDs fail fast, with the reason.
    std::optional<PythonProcess> attach_target;
    if (options.mode == TargetMode::attach_pid) attach_target = inspect_python_process(options.pid);

    StopSignals signals;  // before fork: the child restores its own mask
    // Whatever holds a target lets go by itself if the tracer dies or stalls: the guard, forked
    // before anything is held, knows the launched command's gate and the BPF programs' stops.
    BpfHoldMap kernel_holds;
    HoldTable holds;
    std::optional<HoldGuard> guard;
    std::unique_ptr<LaunchedCommand> launched;  // destroyed before the guard: an unreleased one is killed
    if (options.mode == TargetMode::launch) launched = std::make_unique<LaunchedCommand>(options.command, holds);
    guard.emplace(holds, HoldGuardConfig{kernel_holds.fd()});
    if (launched) launched->start();

    const pid_t self = getpid();
    const int naming_pid = attach_target ? attach_target->pid : launched ? launched->pid() : self;
    std::vector<OutputSpec> outputs = options.outputs.empty() ? default_outputs(naming_pid) : options.outputs;
    if (options.outputs.empty()) check_outputs(outputs, true);

    // Greenlet switches are hooked only when asked for: a uprobe costs the target ~5 us a switch.
    const bool hook_greenlets = options.clock == Clock::wall || options.group_by == GroupBy::greenlet ||
                                options.block_threshold_ms.has_value();
    const unsigned block_threshold_ms =
        hook_greenlets ? options.block_threshold_ms.value_or(default_block_threshold_ms) : 0;
    StackAggregator aggregator(AggregatorConfig{options.clock, options.hz, options.group_by,
                                                uint64_t(block_threshold_ms) * 1'000'000ULL, options.raw_stacks});
    // Where new targets come from: anywhere on the host; a launched command's descendants (forked,
    // or exec'd); an attached process's too with --subprocesses, else that process again when it
    // execs another program.
    std::optional<TargetDiscovery> discovery;
    if (options.mode == TargetMode::all_processes)
        discovery.emplace(TargetDiscovery::Scope::all_processes, 0, self);
    else if (launched)
        discovery.emplace(TargetDiscovery::Scope::descendants, launched->pid(), self);
    else if (attach_target)
        discovery.emplace(options.subprocesses ? TargetDiscovery::Scope::descendants : TargetDiscovery::Scope::root_only,
                          attach_target->pid, self);
    const bool follow_forks = options.mode != TargetMode::attach_pid || options.subprocesses;

    std::set<pid_t> live;  // traced and still running
    std::vector<pid_t> exited_events;
    std::vector<std::pair<pid_t, pid_t>> forks;  // (child, parent), traced by the kernel already
    std::vector<pid_t> replaced;  // traced processes that exec'd another program
    std::vector<pid_t> defer_imported;  // stopped by the kernel as they imported Twisted's defer
    BpfSampler sampler(
        SamplerConfig{options.hz, options.clock == Clock::wall, discovery.has_value(),
                      options.group_by == GroupBy::greenlet, uint64_t(block_threshold_ms) * 1'000'000ULL,
                      options.deferred_log, follow_forks, kernel_holds.fd()},
        [&](const void* data, size_t size) {
            const auto* hdr = static_cast<const event_header*>(data);
            switch (hdr->kind) {
                case EVENT_CPU_SAMPLE:
                case EVENT_OFFCPU:
                case EVENT_GREENLET_SWITCH:
                case EVENT_GENERATOR_WAIT: {
                    size_t frames = (size - sizeof(event_header)) / sizeof(py_frame);
                    if (hdr->nframes > frames) return;  // malformed: never read past the record
                    aggregator.add_sample(*static_cast<const py_sample*>(data));
                    break;
                }
                case EVENT_REACTOR_BUSY:
                case EVENT_DEFERRED:
                    aggregator.add_sample(*static_cast<const py_sample*>(data));
                    break;
                case PYAT_EVENT_CODE_NAME:
                    if (size >= offsetof(code_name_event, table))
                        aggregator.learn_code(*static_cast<const code_name_event*>(data), size);
                    break;
                case EVENT_EXEC:
                    if (aggregator.has_process(pid_t(hdr->pid))) replaced.push_back(pid_t(hdr->pid));
                    for (auto& [child, parent] : forks)  // forked, then exec'd before we got to it
                        if (child == pid_t(hdr->pid)) parent = 0;
                    if (discovery) discovery->note_exec(pid_t(hdr->pid));
                    break;
                case EVENT_FORK:
                    forks.emplace_back(pid_t(hdr->pid), pid_t(hdr->fork.parent));
                    break;
                case EVENT_EXIT:
                    exited_events.push_back(pid_t(hdr->pid));
                    break;
                case EVENT_DEFER_IMPORTED:
                    defer_imported.push_back(pid_t(hdr->pid));
                    break;
            }
        });

    StatusLine status(!options.quiet && isatty(STDERR_FILENO));
    // greenlet may be imported long after we attached: look again now and then.
    std::map<pid_t, PythonProcess> greenlet_pending;  // traced, greenlet not hooked yet
    size_t greenlet_hooked = 0;                        // processes whose switches we follow
    auto hook_greenlet = [&](const PythonProcess& p) -> bool {  // true: done with this process
        std::vector<Mapping> maps;
        try {
            maps = read_maps(p.pid);
        } catch (const Error&) {
            return true;
        }
        auto module = find_greenlet_module(p.pid, maps, p.layout->major, p.layout->minor);
        if (!module) return false;
        if (!module->layout) {
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {} uses greenlet {} ({}), whose internals for CPython {} "
                                        "are not described under probes/greenlet: its greenlets are sampled, "
                                        "but switches are not followed",
                                        p.pid, module->version.empty() ? "(unknown version)" : module->version,
                                        module->path, p.layout->version()));
            return true;
        }
        try {
            sampler.attach_greenlet(p.pid, module->path, module->layout->switch_symbol, module->layout->bpf);
            aggregator.set_greenlet_layout(p.pid, module->layout);
            greenlet_hooked++;
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {}: following greenlet {} switches", p.pid, module->version));
        } catch (const Error& e) {
            if (!options.quiet) status.note(fmt::format("pyasynctrace: {}", e.what()));
        }
        return true;
    };
    // --deferred-log: hook the function__return probe of a Twisted process whose interpreter has it.
    std::map<pid_t, std::string> deferred_log_missing;  // Twisted processes not logged, and why
    std::set<pid_t> deferred_logged;
    auto has_probes = [&](const PythonProcess& p) {
        if (has_usdt_probe(usdt_probes(ElfFile::open(TargetFile::mapped(p.pid, p.interpreter))), "python",
                           "function__return"))
            return true;
        deferred_log_missing[p.pid] = fmt::format(
            "its CPython {} ({}) has no USDT probes: the log needs a build --with-dtrace that fires "
            "function__return, such as Debian's python3.11",
            p.version, p.interpreter);
        return false;
    };
    // A launched program is watched from the start: it is stopped as it imports Twisted's defer
    // module and continued once its Deferreds are logged, so that none is missed.
    auto watch_defer_import = [&](const PythonProcess& p) {
        const auto& descriptions = known_twisted_descriptions();
        if (descriptions.empty() || deferred_logged.count(p.pid)) return;
        try {
            if (!has_probes(p)) return;
            deferred_import_watch watch{};
            watch.code_name = p.layout->bpf.code_name;
            watch.code_filename = p.layout->bpf.code_filename;
            watch.unicode_length = p.layout->unicode_length;
            watch.unicode_ascii_data = p.layout->unicode_ascii_data;
            std::string_view suffix = descriptions.front().defer_file;
            if (suffix.empty() || suffix.size() > sizeof(watch.suffix)) return;
            watch.suffix_len = uint8_t(suffix.size());
            std::copy(suffix.begin(), suffix.end(), watch.suffix);
            sampler.watch_defer_import(p.pid, p.interpreter, watch);
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {}: watching for Twisted's import (every Python return "
                                        "costs the target ~5 us until then)",
                                        p.pid));
        } catch (const Error& e) {
            deferred_log_missing[p.pid] = e.what();
        }
    };
    auto log_deferreds = [&](const PythonProcess& p, const TwistedTarget& target) {
        if (deferred_logged.count(p.pid)) return;
        if (!target.lifecycle) {
            deferred_log_missing[p.pid] = target.lifecycle_missing;
            return;
        }
        try {
            if (!has_probes(p)) return;
            deferred_log_layout layout = *target.lifecycle;
            std::string why;
            auto method_type = exported_address(p, "PyMethod_Type", why);
            if (!method_type) {
                deferred_log_missing[p.pid] = why;
                return;
            }
            layout.method_type = *method_type;
            sampler.attach_deferred_log(p.pid, p.interpreter, layout);
            aggregator.set_twisted(p.pid, *target.description);
            aggregator.enable_deferred_log(p.pid);
            deferred_logged.insert(p.pid);
            deferred_log_missing.erase(p.pid);
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {}: logging the Deferred lifecycle (function__return "
                                        "probe: every Python return now costs the target ~5 us{})",
                                        p.pid,
                                        options.deferred_log_by_default
                                            ? "; on because -o *.jsonl was asked for without a blocking "
                                              "report: --no-deferred-log turns it off"
                                            : ""));
        } catch (const Error& e) {
            deferred_log_missing[p.pid] = e.what();
        }
    };
    // Twisted too: its inlineCallbacks chains are readable once twisted.internet.defer is imported
    // and its classes have instances (their attribute keys are laid out by then).
    std::map<pid_t, PythonProcess> twisted_pending;
    std::map<pid_t, std::string> twisted_missing;  // imported, not resolved yet: what is missing
    size_t twisted_followed = 0;
    auto follow_twisted = [&](const PythonProcess& p) -> bool {  // true: done with this process
        PythonObjects objects(ProcessMemory(p.pid), *p.layout);
        TwistedTarget target;
        std::string why;
        switch (find_twisted(objects, *p.layout, p.runtime_address, target, why)) {
        case TwistedSearch::not_imported:
            return !process_exists(p.pid);
        case TwistedSearch::not_ready:
            twisted_missing[p.pid] = why;
            if (options.deferred_log && target.lifecycle) log_deferreds(p, target);
            return !process_exists(p.pid);
        case TwistedSearch::unsupported:
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {} imported Twisted, but its inlineCallbacks are not "
                                        "described under probes/twisted ({}): stacks stay as the interpreter runs them",
                                        p.pid, why));
            return true;
        case TwistedSearch::found:
            break;
        }
        twisted_missing.erase(p.pid);
        try {
            aggregator.set_twisted(p.pid, *target.description);
            // --clock wall: time each generator's suspensions between its steps (gen.send/throw).
            std::string waits = "not timed (--clock cpu)";
            bool hooked = false;
            if (options.clock == Clock::wall) {
                std::string why;
                auto send = find_builtin_method(p, objects, "PyGen_Type", "send", why);
                auto thrown = send ? find_builtin_method(p, objects, "PyGen_Type", "throw", why) : std::nullopt;
                if (send && thrown) {
                    sampler.attach_generator_steps(
                        p.pid, {{send->file, send->probe_offset}, {thrown->file, thrown->probe_offset}}, target.bpf);
                    hooked = true;
                    waits = "charged to the generators waiting";
                } else {
                    waits = fmt::format("not timed: {}", why);
                }
            }
            if (!hooked) sampler.add_twisted(p.pid, target.bpf);
            twisted_followed++;
            if (options.deferred_log) log_deferreds(p, target);
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {}: Twisted found ({}): {} inlineCallbacks stacks; "
                                        "Deferred waits {}",
                                        p.pid, target.description->source, options.raw_stacks ? "raw" : "logical",
                                        waits));
        } catch (const Error& e) {
            if (!options.quiet) status.note(fmt::format("pyasynctrace: {}", e.what()));
            sampler.add_twisted(p.pid, target.bpf);
        }
        return true;
    };
    // Code objects are named by the kernel as frames first show them; its table forgets one as it is
    // freed (a hook on the code type's destructor), so a reused address is named anew. The process is
    // sampled first, hooked next: until then (and wherever the hook fails) a reused code object is
    // still told apart by its name's and file's addresses.
    auto follow_code_objects = [&](const PythonProcess& p, uint64_t code_type, std::string why) {
        PythonObjects objects(ProcessMemory(p.pid), *p.layout);
        auto dealloc = code_type ? find_type_dealloc(p, objects, "PyCode_Type", why) : std::nullopt;
        try {
            if (dealloc) sampler.attach_code_dealloc(p.pid, dealloc->file, dealloc->probe_offset);
        } catch (const Error& e) {
            dealloc.reset();
            why = e.what();
        }
        if (!dealloc && !options.quiet)
            status.note(fmt::format("pyasynctrace: PID {}: code objects freed during the run are not followed ({}): "
                                    "a reused one is told apart by its name's and file's addresses only",
                                    p.pid, why));
    };
    auto start_traced = [&](const PythonProcess& p) {
        std::string why_no_type;
        const uint64_t code_type = exported_address(p, "PyCode_Type", why_no_type).value_or(0);
        aggregator.add_process(p, monotonic_ns(), code_type, [&sampler, pid = p.pid](uint64_t code, uint32_t generation) {
            return sampler.code_still_named(pid, code, generation);
        });
        sampler.add_process(p.pid, to_bpf(p, code_type));
        follow_code_objects(p, code_type, why_no_type);
        if (options.clock == Clock::wall) {
            // Threads blocked since before we looked never switch out while we watch.
            uint64_t now = monotonic_ns();
            for (const auto& [tid, stack] : read_thread_stacks(p, *aggregator.resolver_of(p.pid)))
                if (thread_is_blocked(p.pid, pid_t(tid))) sampler.seed_off_cpu(*stack, now);
        }
        live.insert(p.pid);
        if (!options.quiet) status.note(fmt::format("pyasynctrace: tracing {}", describe(p)));
        if (hook_greenlets && !hook_greenlet(p)) greenlet_pending.emplace(p.pid, p);
        if (!follow_twisted(p)) {
            twisted_pending.emplace(p.pid, p);
            // Asked for explicitly: the launched program is watched from its start (every return
            // traps until Twisted is imported). By default only the periodic look finds it.
            if (options.deferred_log && !options.deferred_log_by_default && options.mode == TargetMode::launch)
                watch_defer_import(p);
        }
    };
    if (attach_target) start_traced(*attach_target);

    const auto start = SteadyClock::now();
    RunInfo clock_offsets;  // to show CLOCK_MONOTONIC times of events as wall-clock times
    clock_offsets.monotonic_to_unix_ns = monotonic_to_unix_ns();
    const int64_t start_unix = int64_t(time(nullptr));
    if (launched && !launched->release() && !options.quiet)
        status.note(fmt::format("pyasynctrace: the hold guard started '{}' before the tracer was ready (it was "
                                "stopped or too slow): its start is not profiled",
                                options.command.front()));
    auto traced = [&](pid_t pid) { return aggregator.has_process(pid); };

    EpollSet ready({sampler.epoll_fd(), signals.fd()});

    // The blocking report on the terminal: a few slices live, the longest at the end.
    constexpr size_t blocking_shown_live = 5, blocking_shown_at_end = 10;
    size_t blocking_seen = 0;
    std::string event_log_phrase = ": add -o FILE.jsonl to log every one";
    for (const auto& out : outputs)
        if (out.format == OutputFormat::jsonl) {
            event_log_phrase = fmt::format(", every one in {}", printable_text(out.path));
            break;
        }

    std::string stop_reason;
    std::optional<StopSignal> stopped_by;
    const auto deadline = options.duration_s
                              ? start + std::chrono::duration_cast<SteadyClock::duration>(
                                            std::chrono::duration<double>(*options.duration_s))
                              : SteadyClock::time_point::max();
    auto next_status = start;
    auto next_liveness = start;
    auto next_greenlet_look = start + 1s;
    // --deferred-log: Twisted found soon after it is imported, so the log starts early.
    // (Every 10 ms for one target; 50 ms host-wide, where many processes may never import it.)
    const auto twisted_look_every = !options.deferred_log                        ? std::chrono::milliseconds(1000)
                                    : options.mode == TargetMode::all_processes ? std::chrono::milliseconds(50)
                                                                                : std::chrono::milliseconds(10);
    auto next_twisted_look = start + twisted_look_every;
    while (stop_reason.empty()) {
        // A process that just exec'd is looked at again every few ms until its interpreter is up.
        ready.wait(discovery && discovery->retrying()                                              ? 5
                   : twisted_look_every < std::chrono::milliseconds(50) && !twisted_pending.empty() ? 10
                                                                                                     : 50);
        sampler.poll(0);
        for (pid_t pid : defer_imported) {  // stopped in the kernel: log its Deferreds, continue it
            if (auto it = twisted_pending.find(pid); it != twisted_pending.end() && follow_twisted(it->second))
                twisted_pending.erase(it);
            if (!kernel_holds.let_go(pid) && !options.quiet)
                status.note(fmt::format("pyasynctrace: PID {} was let go by the hold guard before its Deferred log "
                                        "began (the tracer was stopped or too slow): Deferreds created meanwhile "
                                        "are missing",
                                        pid));
        }
        defer_imported.clear();
        if (auto sig = signals.take()) {
            stopped_by = sig;
            stop_reason = sig->description();
            if (launched) launched->pass_on(*sig);
        }

        auto now = SteadyClock::now();
        for (pid_t pid : replaced) {  // the kernel has forgotten it; the new program may be traced anew
            aggregator.retire(pid, monotonic_ns());
            sampler.remove_process(pid);
            live.erase(pid);
            if (!options.quiet)
                status.note(fmt::format("pyasynctrace: PID {} exec'd {}", pid, read_executable(pid)));
        }
        replaced.clear();
        for (auto [child, parent] : forks) {  // sampled by the kernel from its start: follow it too
            const PythonProcess* from = parent ? aggregator.process_of(parent) : nullptr;
            if (!from || aggregator.has_process(child) || !process_exists(child)) continue;
            PythonProcess p = *from;
            p.pid = child;
            p.command_line = read_command_line(child);
            start_traced(p);
        }
        forks.clear();
        if (discovery) {
            for (auto& p : discovery->poll(traced)) start_traced(p);
            for (const auto& note : discovery->take_notes())
                if (!options.quiet) status.note("pyasynctrace: " + note);
        }

        if (!exited_events.empty() || now >= next_liveness) {
            exited_events.clear();
            for (auto it = live.begin(); it != live.end();) {
                if (process_exists(*it)) {
                    ++it;
                    continue;
                }
                sampler.poll(0);  // what it sent before dying
                sampler.remove_process(*it);
                if (!options.quiet) status.note(fmt::format("pyasynctrace: PID {} exited", *it));
                it = live.erase(it);
            }
            next_liveness = now + 100ms;
        }
        if (launched) launched->reap();
        aggregator.poll();
        if (!greenlet_pending.empty() && now >= next_greenlet_look) {
            for (auto it = greenlet_pending.begin(); it != greenlet_pending.end();)
                it = (!live.count(it->first) || hook_greenlet(it->second)) ? greenlet_pending.erase(it) : std::next(it);
            next_greenlet_look = now + 1s;
        }
        if (!twisted_pending.empty() && now >= next_twisted_look) {
            for (auto it = twisted_pending.begin(); it != twisted_pending.end();)
                it = (!live.count(it->first) || follow_twisted(it->second)) ? twisted_pending.erase(it) : std::next(it);
            next_twisted_look = now + twisted_look_every;
        }
        for (const auto& b : aggregator.take_new_blocking()) {
            if (options.quiet || !isatty(STDERR_FILENO)) continue;
            // The first few as they happen; the rest only counted, listed (the longest) at the end.
            if (++blocking_seen <= blocking_shown_live)
                status.note(fmt::format("pyasynctrace: blocked for longer than {} ms:\n{}", block_threshold_ms,
                                        format_blocking(b, clock_offsets)));
            else if (blocking_seen == blocking_shown_live + 1)
                status.note(fmt::format("pyasynctrace: more slices longer than {} ms: not shown as they happen; "
                                        "the longest {} are listed at the end{}",
                                        block_threshold_ms, blocking_shown_at_end, event_log_phrase));
        }

        if (now >= deadline) stop_reason = "duration reached";
        if (options.mode == TargetMode::attach_pid && live.empty()) stop_reason = "the target exited";
        if (launched && launched->exited() && live.empty()) stop_reason = "the command exited";

        if (now >= next_status) {
            double elapsed = std::chrono::duration<double>(now - start).count();
            status.show(fmt::format("pyasynctrace: {:.1f} s  targets {}  samples {}  lost {}", elapsed,
                                    live.size(), aggregator.samples(),
                                    sampler.lost_samples() + sampler.lost_off_cpu()));
            next_status = now + 500ms;
        }
    }

    // Stop: detach, take what is still in flight, and charge threads that are off-CPU now.
    // The run ends now: detaching takes a while (tens of ms), and what goes on meanwhile, seen
    // only in part, must not stretch a slice or a wait past the end.
    const double duration = std::chrono::duration<double>(SteadyClock::now() - start).count();
    const uint64_t end_ns = monotonic_ns();
    sampler.detach();
    sampler.poll(0);
    kernel_holds.let_go_all();  // stopped as the run ended
    if (options.clock == Clock::wall) {
        sampler.flush_off_cpu(end_ns);
        for (const auto& [key, since] : sampler.parked())
            aggregator.charge_suspended_generator(pid_t(key.tgid), key.greenlet, since, end_ns);
    }
    aggregator.finish(end_ns);
    status.clear();

    Profile profile;
    profile.run.clock = options.clock;
    profile.run.hz = options.hz;
    profile.run.group_by = options.group_by;
    profile.run.block_threshold_ms = block_threshold_ms;
    profile.run.monotonic_to_unix_ns = clock_offsets.monotonic_to_unix_ns;
    profile.run.duration_s = duration;
    profile.run.start_unix_s = start_unix;
    profile.run.lost_samples = sampler.lost_samples() + sampler.lost_off_cpu();
    profile.processes = aggregator.take_profiles();
    profile.blocking = aggregator.take_blocking();
    uint64_t deferred_dropped = 0;
    profile.deferred_events = aggregator.take_deferred_events(&deferred_dropped);
    if (attach_target)
        profile.run.target_summary = describe(*attach_target);
    else if (launched)
        profile.run.target_summary =
            fmt::format("'{}' (PID {}{})", fmt::join(options.command, " "), launched->pid(),
                        profile.processes.size() == 1 && !profile.processes.front().python_version.empty()
                            ? ", CPython " + profile.processes.front().python_version
                            : "");
    else
        profile.run.target_summary = fmt::format("every CPython process ({} traced)", profile.processes.size());

    if (!options.quiet)
        fmt::print(stderr, "pyasynctrace: {} after {:.1f} s; {} samples from {} process{} ({} clock, {} Hz)\n",
                   stop_reason, duration, profile.total(), profile.processes.size(),
                   profile.processes.size() == 1 ? "" : "es", clock_name(options.clock), options.hz);
    if (!options.quiet && hook_greenlets && sampler.greenlet_switches())
        fmt::print(stderr, "pyasynctrace: followed {} greenlet switches ({:.0f} a second; each hook hit costs the "
                           "target a few microseconds)\n",
                   sampler.greenlet_switches(), double(sampler.greenlet_switches()) / std::max(duration, 1e-3));
    if (!options.quiet && sampler.greenlet_unreadable())
        fmt::print(stderr, "pyasynctrace: warning: {} greenlet switches could not be read and were skipped\n",
                   sampler.greenlet_unreadable());
    if (!options.quiet && aggregator.unresolved_frames())
        fmt::print(stderr,
                   "pyasynctrace: warning: {} frames could not be named and read \"[code object 0x..., ...]\" "
                   "({} namings were lost to a full ring buffer)\n",
                   aggregator.unresolved_frames(), sampler.code_names_lost());
    if (profile.run.lost_samples)
        fmt::print(stderr,
                   "pyasynctrace: warning: {} samples were lost (ring buffer full); the profile "
                   "under-counts by that much\n",
                   profile.run.lost_samples);
    if (profile.processes.empty())
        fmt::print(stderr, "pyasynctrace: no CPython process was traced\n");
    if (!options.quiet)
        for (const auto& [pid, why] : twisted_missing)
            fmt::print(stderr, "pyasynctrace: PID {} imported Twisted, but its inlineCallbacks could not be followed "
                               "({}): its stacks are as the interpreter ran them\n", pid, why);

    if (options.deferred_log) {
        for (const auto& [pid, why] : deferred_log_missing)
            if (!options.deferred_log_by_default || twisted_followed)
                fmt::print(stderr, "pyasynctrace: PID {}: no Deferred lifecycle log: {}\n", pid, why);
        if (!twisted_followed && deferred_logged.empty() && !options.deferred_log_by_default)
            fmt::print(stderr, "pyasynctrace: no traced process imported Twisted: no Deferred lifecycle log\n");
        if (!deferred_logged.empty()) {
            // Measured here: one function__return hit costs the target ~5.2 us (shared/FACTS.md).
            uint64_t returns = sampler.python_returns();
            double cost_s = double(returns) * 5.2e-6;
            fmt::print(stderr,
                       "pyasynctrace: Deferred lifecycle log: {} entries from {} Python returns hooked ({:.0f} a "
                       "second); the hook cost the target about {:.1f} s over {:.1f} s\n",
                       profile.deferred_events.size(), returns, double(returns) / std::max(duration, 1e-3), cost_s,
                       duration);
            if (deferred_dropped)
                fmt::print(stderr, "pyasynctrace: warning: {} lifecycle entries over the limit were not kept\n",
                           deferred_dropped);
        }
    } else if (!options.quiet && twisted_followed &&
               std::any_of(outputs.begin(), outputs.end(),
                           [](const OutputSpec& o) { return o.format == OutputFormat::jsonl; })) {
        fmt::print(stderr, "pyasynctrace: the Deferred lifecycle is not in the event log: add --deferred-log "
                           "(it hooks every Python return, ~5 us each)\n");
    }

    const bool blocking_watched = block_threshold_ms && (greenlet_hooked || twisted_followed);
    if (!options.quiet && options.block_threshold_ms && !blocking_watched)
        fmt::print(stderr, "pyasynctrace: no traced process imported greenlet or Twisted: no blocking report\n");
    if (!options.quiet && blocking_watched) {
        std::string watched = greenlet_hooked && twisted_followed ? "a greenlet switch or a return to the reactor"
                              : greenlet_hooked                   ? "a greenlet switch"
                                                                  : "a return to the reactor";
        const size_t n = profile.blocking.size();
        if (n == 0) {
            fmt::print(stderr, "pyasynctrace: nothing ran longer than {} ms without {}\n", block_threshold_ms, watched);
        } else {
            std::vector<const BlockingSlice*> longest;
            for (const auto& b : profile.blocking) longest.push_back(&b);
            std::stable_sort(longest.begin(), longest.end(),
                             [](const BlockingSlice* a, const BlockingSlice* b) { return a->duration_ns > b->duration_ns; });
            const size_t shown = std::min(n, blocking_shown_at_end);
            fmt::print(stderr, "\nBlocking: {} slice{} longer than {} ms without {}{}:\n", n, n == 1 ? "" : "s",
                       block_threshold_ms, watched, n > shown ? fmt::format("; the {} longest", shown) : "");
            for (size_t i = 0; i < shown; i++) fmt::print(stderr, "{}", format_blocking(*longest[i], profile.run));
            if (n > shown) fmt::print(stderr, "  ... and {} shorter{}\n", n - shown, event_log_phrase);
        }
    }
    const OutputsWritten written = write_and_report_outputs(profile, outputs, options.quiet);
    if (!options.quiet && profile.total() > 0)
        fmt::print(stderr, "\nHottest functions:\n{}", format_hot_table(hottest_functions(profile, 10)));

    if (launched) {
        sampler.unload();  // nothing of the tracer stays in the kernel while it waits
        const int code = launched->finish(signals, stopped_by, options.quiet);
        return written == OutputsWritten::some_failed ? 1 : code;
    }
    return written == OutputsWritten::all ? 0 : 1;
}

}  // namespace pyat
