#include "app/trace_session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>
#include <time.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <thread>

#include "kernel/bpf_tracer.h"
#include "cpython/builtin_methods.h"
#include "trace/call_trace.h"
#include "app/cli.h"
#include "cpython/code_resolver.h"
#include "cpython/cpython_usdt.h"
#include "process/elf_file.h"
#include "runtimes/greenlet/greenlet_layout.h"
#include "process/hold_guard.h"
#include "process/hold_table.h"
#include "process/held_process.h"
#include "trace/probe_site.h"
#include "base/epoll_set.h"
#include "base/error.h"
#include "app/hot_functions.h"
#include "process/launched_command.h"
#include "process/privileges.h"
#include "process/proc_maps.h"
#include "writers/output_file.h"
#include "writers/profile_outputs.h"
#include "cpython/python_process.h"
#include "base/run_clock.h"
#include "app/status_line.h"
#include "runtimes/twisted/twisted_inspector.h"
#include "app/stop_signals.h"
#include "process/target_file.h"
#include "base/unique_fd.h"
#include "process/usdt_probes.h"

namespace pyat {

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Measured here: one probe hit costs the target ~5.2 us (a uprobe on a USDT nop, Linux 6.18 on a Firecracker VM; bench/trace_rate.sh measures the event path).
constexpr double probe_cost_s = 5.2e-6;

std::string no_probes_message(pid_t pid, const std::optional<PythonProcess>& python) {
    if (python) {
        const CpythonUsdt* usdt = find_cpython_usdt(python->layout->major, python->layout->minor);
        std::string why = usdt && usdt->function_probes == FunctionProbes::none
                              ? fmt::format("CPython {} have no function probes", versions_without_function_probes())
                              : "it was built without --with-dtrace";
        return fmt::format("PID {} runs CPython {} ({}), which fires no function__entry/function__return "
                           "probes: {}. Use --mode sample (the default) for this interpreter",
                           pid, python->version, python->interpreter, why);
    }
    return fmt::format("PID {} ({}) has no python:function__return USDT probe (an interpreter built "
                       "--with-dtrace has it): use --mode sample (the default)",
                       pid, read_executable(pid));
}

}  // namespace

int run_trace_session(const Options& options) {
    require_privileges();
    check_outputs(options.outputs, false);  // one process: one callgrind file

    StopSignals signals;
    // Whatever holds the target lets go by itself if the tracer dies or stalls: the guard, forked
    // before anything is held, knows the launched command's gate and its stop after exec.
    HoldTable holds;
    std::optional<HoldGuard> guard;
    std::unique_ptr<LaunchedCommand> launched;  // destroyed before the guard: an unreleased one is killed
    pid_t pid = options.pid;
    if (options.mode == TargetMode::attach_pid && !process_exists(pid))
        throw Error(fmt::format("no process with PID {}", pid));
    if (options.mode == TargetMode::launch) launched = std::make_unique<LaunchedCommand>(options.command, holds);
    guard.emplace(holds, HoldGuardConfig{});
    if (launched) {
        launched->start();
        pid = launched->pid();
    }
    std::vector<OutputSpec> outputs = options.outputs.empty() ? default_outputs(pid) : options.outputs;
    if (options.outputs.empty()) check_outputs(outputs, false);

    // Where the probes are, and which kind of tracing they allow. A launched program whose
    // executable holds entry and return probes (not CPython 3.11) is attached before it runs.
    HeldProcess held(holds);
    bool released = false;
    bool started_by_guard = false;
    TracerConfig config;
    config.pid = pid;
    std::optional<PythonProcess> python;
    std::optional<ProbeSite> site;
    if (launched) {
        std::string program = resolve_program(options.command.front());
        const CpythonUsdt* usdt = nullptr;  // null: not CPython (a stand-in), or a version not described
        if (auto elf = open_program(program)) {
            if (auto minor = cpython_minor(*elf)) usdt = find_cpython_usdt(3, *minor);
            site = probes_in(program, *elf);
        }
        if (!(site && site->entry && site->ret && !(usdt && usdt->function_probes == FunctionProbes::return_only)))
            site.reset();
        if (!site) {
            // Let it exec (release() returns once it has), and hold it there (SIGSTOP) while its
            // interpreter is inspected and the probes attached: its code runs only once traced.
            // (A shared libpython is not mapped yet at exec: such a process runs a moment first.)
            started_by_guard = !launched->release();
            released = true;
            held.hold(pid);
            const std::string exe = read_executable(pid);
            const std::string base = exe.substr(exe.rfind('/') + 1);
            const bool is_cpython = executable_cpython_minor(pid).has_value() ||
                                    base.rfind("python", 0) == 0;
            python = try_inspect_python_process(pid, nullptr, true);
            if (!python && is_cpython) {
                held.resume();  // it has to run to map its libpython
                auto deadline = SteadyClock::now() + 10s;
                while (SteadyClock::now() < deadline && !launched->reap() && !python) {
                    std::this_thread::sleep_for(1ms);
                    python = try_inspect_python_process(pid, nullptr, true);
                }
            }
        }
    } else {
        python = try_inspect_python_process(pid);
    }
    if (!site) site = find_probes(pid, python ? python->interpreter : "");
    const CpythonUsdt* usdt = python ? find_cpython_usdt(python->layout->major, python->layout->minor) : nullptr;
    if (usdt && usdt->function_probes == FunctionProbes::none && site && site->binary == python->interpreter)
        site.reset();
    // Gone already (the hold guard let it go while the tracer was stopped, or it is that short):
    // say so rather than what its missing files look like.
    auto check_not_exited = [&] {
        if (launched && launched->reap())
            throw Error(fmt::format("'{}' exited (status {}) before it could be traced{}", options.command.front(),
                                    launched->exit_code(),
                                    started_by_guard || held.let_go_by_guard()
                                        ? " (the hold guard had let it go on: the tracer was stopped or too slow)"
                                        : ""));
    };
    check_not_exited();
    if (!site || !site->ret) {
        std::string message = no_probes_message(pid, python);
        if (launched && !python)
            message += " (if the command is a wrapper script, such as a pyenv shim, give the interpreter itself)";
        throw Error(message);
    }
    config.binary = site->binary;
    // Attached before it runs: the program as given; else the file the process maps.
    config.binary_is_mapped = released || !launched;
    config.gc = site->gc;
    // Where the interpreter's own function__entry fires only for frames entered from C (3.11),
    // calls are counted at their returns.
    config.return_only = !site->entry || (usdt && usdt->function_probes == FunctionProbes::return_only &&
                                          site->binary == python->interpreter);
    if (config.return_only && !python) throw Error(no_probes_message(pid, python));
    if (python) {  // return-only: what it reads and names; entry/return: what it forgets (see below)
        py_process bpf{};
        bpf.runtime_addr = python->runtime_address;
        bpf.layout = python->layout->bpf;
        bpf.code = kernel_code_layout(*python->layout);
        std::string unused;
        bpf.code.code_type = exported_address(*python, "PyCode_Type", unused).value_or(0);
        config.process = bpf;
        if (config.return_only) config.yield_opcode = usdt ? usdt->yield_value_opcode : 0;
    }

    ProcessProfile profile;
    profile.pid = pid;
    profile.command_line = launched ? fmt::format("{}", fmt::join(options.command, " ")) : read_command_line(pid);
    profile.program = python ? python->program : config.binary.substr(config.binary.rfind('/') + 1);
    profile.python_version = python ? python->version : "";
    // Code objects freed during the run are followed (a hook on their destructor): in return-only
    // mode the kernel names code objects (see CodeResolver) and forgets one as it is freed; with
    // entry/return probes, it forgets the text the probes pointed at, so that the same addresses
    // holding another function's names are named again.
    std::optional<CodeResolver> resolver;
    const BpfTracer* kernel = nullptr;  // set once loaded, before any event arrives
    std::string why_unfollowed;
    std::optional<BuiltinMethod> code_dealloc;
    if (python) {
        auto code_type = exported_address(*python, "PyCode_Type", why_unfollowed);
        PythonObjects objects(ProcessMemory(pid), *python->layout);
        if (code_type) code_dealloc = find_type_dealloc(*python, objects, "PyCode_Type", why_unfollowed);
    }
    if (config.return_only) {
        std::string unused;
        auto code_type = exported_address(*python, "PyCode_Type", unused);
        resolver.emplace(ProcessMemory(pid), *python->layout, code_type.value_or(0),
                         [&kernel](uint64_t code, uint32_t generation) {
                             return kernel && kernel->code_still_named(code, generation);
                         });
    }
    CallTrace trace(profile, CallTraceConfig{options.filters}, resolver ? &*resolver : nullptr, ProcessMemory(pid));
    check_not_exited();
    auto tracer_owner = [&] {
        try {
            return std::make_unique<BpfTracer>(config, [&](const void* data, size_t size) { trace.add(data, size); });
        } catch (const Error&) {
            check_not_exited();  // its files went with it
            throw;
        }
    }();
    BpfTracer& tracer = *tracer_owner;
    kernel = &tracer;
    if (code_dealloc) {
        try {
            tracer.attach_code_dealloc(code_dealloc->file, code_dealloc->probe_offset);
        } catch (const Error& e) {
            code_dealloc.reset();
            why_unfollowed = e.what();
        }
    }

    StatusLine status(!options.quiet && isatty(STDERR_FILENO));
    if (python && !code_dealloc && !options.quiet)
        status.note(fmt::format("pyasynctrace: PID {}: code objects freed during the run are not followed ({}): a "
                                "reused one is told apart by its name's and file's addresses only",
                                pid, why_unfollowed));
    // Return-only mode: look for Twisted now and then until found (it may be imported later).
    const TwistedDescription* twisted = nullptr;
    auto next_twisted_look = SteadyClock::now() + 200ms;
    auto look_for_twisted = [&] {
        if (!config.return_only || twisted) return;
        PythonObjects objects(ProcessMemory(pid), *python->layout);
        TwistedTarget target;
        std::string why;
        find_twisted(objects, *python->layout, python->runtime_address, target, why);
        if (!target.trace || !target.description) return;
        tracer.set_twisted(*target.trace);
        trace.hide_file(target.description->defer_file);
        twisted = target.description;
        if (!options.quiet)
            status.note(fmt::format("pyasynctrace: PID {}: Twisted found ({}): @inlineCallbacks calls are counted as "
                                    "calls of the decorated functions",
                                    pid, twisted->source));
    };
    look_for_twisted();
    // Entry/return mode: greenlets each keep their own shadow stack, from greenlet's switch hook.
    bool greenlet_hooked = false;
    auto hook_greenlet = [&] {
        if (config.return_only || greenlet_hooked || !python) return;
        std::optional<GreenletModule> module;
        try {
            module = find_greenlet_module(pid, read_maps(pid), python->layout->major, python->layout->minor);
        } catch (const Error&) {
            return;
        }
        if (!module || !module->layout) return;
        tracer.attach_greenlet(module->path, module->layout->switch_symbol, module->layout->bpf);
        greenlet_hooked = true;
        if (!options.quiet)
            status.note(fmt::format("pyasynctrace: PID {}: following greenlet {} switches: each greenlet keeps its "
                                    "own shadow stack",
                                    pid, module->version));
    };
    hook_greenlet();
    if (!options.quiet)
        status.note(fmt::format("pyasynctrace: tracing every call of PID {} ({}{}) from the probes in {}{}", pid,
                                profile.command_line, python ? ", CPython " + python->version : "", config.binary,
                                config.return_only ? " (function__return only: counts exact, times estimated)"
                                                   : " (function__entry and function__return)"));
    const auto start = SteadyClock::now();
    const int64_t start_unix = int64_t(time(nullptr));
    const int64_t monotonic_to_unix = monotonic_to_unix_ns();
    if (launched && !released) started_by_guard = !launched->release();
    held.resume();
    if ((started_by_guard || held.let_go_by_guard()) && !options.quiet)
        status.note(fmt::format("pyasynctrace: the hold guard let PID {} go on before the probes were attached "
                                "(the tracer was stopped or too slow): its first calls are not traced",
                                pid));

    EpollSet ready({tracer.epoll_fd(), signals.fd()});
    const auto deadline = options.duration_s ? start + std::chrono::duration_cast<SteadyClock::duration>(
                                                           std::chrono::duration<double>(*options.duration_s))
                                             : SteadyClock::time_point::max();
    std::string stop_reason;
    std::optional<StopSignal> stopped_by;
    auto next_status = start;
    while (stop_reason.empty()) {
        ready.wait(50);
        tracer.poll(0);
        if (auto sig = signals.take()) {
            stopped_by = sig;
            stop_reason = sig->description();
            if (launched) launched->pass_on(*sig);
        }
        auto now = SteadyClock::now();
        if (now >= next_twisted_look) {
            look_for_twisted();
            hook_greenlet();
            next_twisted_look = now + 200ms;
        }
        if (launched) launched->reap();
        if (launched ? launched->exited() : !process_exists(pid)) stop_reason = "the target exited";
        if (now >= deadline) stop_reason = "duration reached";
        if (now >= next_status) {
            double elapsed = std::chrono::duration<double>(now - start).count();
            status.show(fmt::format("pyasynctrace: {:.1f} s  calls {}  probe hits {} ({:.0f}/s)  lost {}", elapsed,
                                    trace.calls(), tracer.probe_hits(),
                                    double(tracer.probe_hits()) / std::max(elapsed, 1e-3), tracer.lost()));
            next_status = now + 500ms;
        }
    }

    const double duration = std::chrono::duration<double>(SteadyClock::now() - start).count();
    const uint64_t end_ns = monotonic_ns();
    tracer.detach();
    tracer.poll(0);
    trace.finish(end_ns);
    status.clear();

    Profile result;
    result.run.traced = true;
    result.run.estimated_times = config.return_only;
    result.run.clock = Clock::wall;
    result.run.hz = 0;
    result.run.duration_s = duration;
    result.run.start_unix_s = start_unix;
    result.run.monotonic_to_unix_ns = monotonic_to_unix;
    result.run.lost_samples = tracer.lost();
    result.run.target_summary = fmt::format("PID {} ({}{})", pid, profile.command_line,
                                            python ? ", CPython " + python->version : "");
    result.processes.push_back(std::move(profile));

    const uint64_t hits = tracer.probe_hits();
    if (!options.quiet) {
        fmt::print(stderr, "pyasynctrace: {} after {:.1f} s; {} calls traced ({} events)\n", stop_reason, duration,
                   trace.calls(), trace.events());
        fmt::print(stderr,
                   "pyasynctrace: {} probe hits ({:.0f} a second); each one traps (~5 us here): the target lost "
                   "about {:.2f} s of its {:.1f} s to tracing (an estimated {:.1f}x slowdown while it ran Python)\n",
                   hits, double(hits) / std::max(duration, 1e-3), double(hits) * probe_cost_s, duration,
                   1.0 + double(hits) * probe_cost_s / std::max(duration - double(hits) * probe_cost_s, 1e-3));
        const double cpu = own_cpu_seconds();
        if (trace.events() >= 100'000)
            fmt::print(stderr, "pyasynctrace: the tracer used {:.2f} s of CPU ({:.2f} s per million events)\n", cpu,
                       cpu / (double(trace.events()) / 1e6));
        else
            fmt::print(stderr, "pyasynctrace: the tracer used {:.2f} s of CPU\n", cpu);
        if (config.return_only)
            fmt::print(stderr, "pyasynctrace: call counts are exact, per function and per caller; times are "
                               "estimates: CPython {} fires function__entry only for frames entered from C, so a "
                               "call is taken to start at the thread's previous return\n",
                       python->version);
        else
            fmt::print(stderr, "pyasynctrace: call counts and times are exact (wall clock, entry to return)\n");
        if (!options.filters.empty())
            fmt::print(stderr, "pyasynctrace: --filter {}: only matching functions are recorded, but every call "
                               "still costs the target its trap\n",
                       fmt::join(options.filters, " "));
        if (trace.unmatched_returns())
            fmt::print(stderr, "pyasynctrace: {} returns of calls begun before tracing were left out\n",
                       trace.unmatched_returns());
    }
    if (tracer.lost())
        fmt::print(stderr, "pyasynctrace: warning: {} events were lost (ring buffer full): counts and times are "
                           "lower bounds\n",
                   tracer.lost());
    const OutputsWritten written = write_and_report_outputs(result, outputs, options.quiet);
    if (!options.quiet && result.total() > 0)
        fmt::print(stderr, "\nHottest functions (wall-clock time in calls):\n{}",
                   format_hot_table(hottest_functions(result, 10)));

    if (launched) {
        tracer.unload();  // nothing of the tracer stays in the kernel while it waits
        const int code = launched->finish(signals, stopped_by, options.quiet);
        return written == OutputsWritten::some_failed ? 1 : code;
    }
    return written == OutputsWritten::all ? 0 : 1;
}

}  // namespace pyat
