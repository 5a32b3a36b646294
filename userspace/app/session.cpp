#include "app/session.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>

#include "app/blocking_report.h"
#include "app/blocking_threshold.h"
#include "app/hot_functions.h"
#include "app/run_summary.h"
#include "app/runtime_set.h"
#include "app/sampling_loop.h"
#include "app/status_line.h"
#include "app/stop_signals.h"
#include "app/traced_processes.h"
#include "base/run_clock.h"
#include "kernel/bpf_hold_map.h"
#include "kernel/bpf_sampler.h"
#include "process/hold_guard.h"
#include "process/hold_table.h"
#include "process/launched_command.h"
#include "process/privileges.h"
#include "profile/stack_aggregator.h"
#include "writers/output_file.h"
#include "writers/profile_outputs.h"

namespace pyat {

namespace {

// Where new targets come from: anywhere on the host; a launched command's descendants (forked,
// or exec'd); an attached process's too with --subprocesses, else that process again when it
// execs another program.
std::optional<TargetDiscovery> target_discovery(const Options& options, const LaunchedCommand* launched,
                                                const std::optional<PythonProcess>& attached, pid_t self) {
    std::optional<TargetDiscovery> discovery;
    if (options.mode == TargetMode::all_processes)
        discovery.emplace(TargetDiscovery::Scope::all_processes, 0, self);
    else if (launched)
        discovery.emplace(TargetDiscovery::Scope::descendants, launched->pid(), self);
    else if (attached)
        discovery.emplace(options.subprocesses ? TargetDiscovery::Scope::descendants : TargetDiscovery::Scope::root_only,
                          attached->pid, self);
    return discovery;
}

SamplerConfig sampler_config(const Options& options, const RuntimeSet& runtimes, bool discovery,
                             unsigned threshold_ms, int kernel_hold_map_fd) {
    SamplerConfig config;
    config.hz = options.hz;
    config.off_cpu = options.clock == Clock::wall;
    config.report_exec = discovery;
    config.block_threshold_ns = uint64_t(threshold_ms) * 1'000'000ULL;
    config.follow_forks = options.mode != TargetMode::attach_pid || options.subprocesses;
    config.kernel_hold_map_fd = kernel_hold_map_fd;
    runtimes.configure(config);
    return config;
}

RunInfo run_info(const Options& options, unsigned threshold_ms, const RunInfo& clock_offsets, double duration_s,
                 int64_t start_unix_s) {
    RunInfo run;
    run.clock = options.clock;
    run.hz = options.hz;
    run.group_by = options.group_by;
    run.block_threshold_ms = threshold_ms;
    run.monotonic_to_unix_ns = clock_offsets.monotonic_to_unix_ns;
    run.duration_s = duration_s;
    run.start_unix_s = start_unix_s;
    return run;
}

std::string target_summary(const Options& options, const std::optional<PythonProcess>& attached,
                           const LaunchedCommand* launched, const Profile& profile) {
    if (attached) return describe(*attached);
    if (launched)
        return fmt::format("'{}' (PID {}{})", fmt::join(options.command, " "), launched->pid(),
                           profile.processes.size() == 1 && !profile.processes.front().python_version.empty()
                               ? ", CPython " + profile.processes.front().python_version
                               : "");
    return fmt::format("every CPython process ({} traced)", profile.processes.size());
}

}  // namespace

int run_session(const Options& options) {
    require_privileges();
    // Before anything is attached: every output can be written, none is another's file. Sampling
    // may cover several processes, so a callgrind output may become one file per process.
    check_outputs(options.outputs, true);
    // Resolve the target before touching the kernel: bad PIDs fail fast, with the reason.
    std::optional<PythonProcess> attached;
    if (options.mode == TargetMode::attach_pid) attached = inspect_python_process(options.pid);

    // Open. Whatever holds a target lets go by itself if the tracer dies or stalls: the guard, forked
    // before anything is held, knows the launched command's gate and the BPF programs' stops.
    StopSignals signals;  // before fork: the child restores its own mask
    BpfHoldMap kernel_holds;
    HoldTable holds;
    std::optional<HoldGuard> guard;
    std::unique_ptr<LaunchedCommand> launched;  // destroyed before the guard: an unreleased one is killed
    if (options.mode == TargetMode::launch) launched = std::make_unique<LaunchedCommand>(options.command, holds);
    guard.emplace(holds, HoldGuardConfig{kernel_holds.fd()});
    if (launched) launched->start();
    const pid_t self = getpid();
    const int naming_pid = attached ? attached->pid : launched ? launched->pid() : self;
    std::vector<OutputSpec> outputs = options.outputs.empty() ? default_outputs(naming_pid) : options.outputs;
    if (options.outputs.empty()) check_outputs(outputs, true);

    // Configure and load: the profile side, the runtimes this run needs, the BPF programs.
    const unsigned threshold_ms = block_threshold_ms(options);
    RuntimeSet runtimes(options);
    StackAggregator aggregator(AggregatorConfig{options.clock, options.hz, options.group_by,
                                                uint64_t(threshold_ms) * 1'000'000ULL, options.raw_stacks,
                                                runtimes.stacks_makers()});
    std::optional<TargetDiscovery> discovery = target_discovery(options, launched.get(), attached, self);
    ProcessEvents events;
    BpfSampler sampler(sampler_config(options, runtimes, discovery.has_value(), threshold_ms, kernel_holds.fd()),
                       [&](const void* data, size_t size) {
                           const auto& header = *static_cast<const event_header*>(data);
                           if (!aggregator.add_record(data, size) &&
                               !events.on_record(header, aggregator, discovery ? &*discovery : nullptr))
                               runtimes.on_record(header, size);
                       });
    StatusLine status(!options.quiet && isatty(STDERR_FILENO));
    RuntimeContext context{options, sampler, aggregator,
                           [&](const std::string& note) {
                               if (!options.quiet) status.note(note);
                           },
                           [&](pid_t pid) { return kernel_holds.let_go(pid); }};
    TracedProcesses targets(options, sampler, aggregator, runtimes, context, discovery ? &*discovery : nullptr);

    // Attach: the attached process now, others as they are found; then the launched command runs.
    if (attached) targets.start(*attached);
    const auto start = std::chrono::steady_clock::now();
    runtimes.start(start);
    RunInfo clock_offsets;  // to show CLOCK_MONOTONIC times of events as wall-clock times
    clock_offsets.monotonic_to_unix_ns = monotonic_to_unix_ns();
    const int64_t start_unix = int64_t(time(nullptr));
    if (launched && !launched->release())
        context.note(fmt::format("pyasynctrace: the hold guard started '{}' before the tracer was ready (it was "
                                 "stopped or too slow): its start is not profiled",
                                 options.command.front()));

    // Poll until a signal, the duration or the targets' end.
    BlockingReport blocking(options, outputs, threshold_ms);
    SamplingParts parts{options,  sampler, aggregator, signals, launched.get(), discovery ? &*discovery : nullptr,
                        events,   targets, runtimes,   context, status,         blocking,
                        clock_offsets};
    const LoopEnd stopped = poll_until_stopped(parts, start);

    // Finish: detach, take what is still in flight, and charge threads that are off-CPU now.
    // The run ends now: detaching takes a while (tens of ms), and what goes on meanwhile, seen
    // only in part, must not stretch a slice or a wait past the end.
    const double duration = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const uint64_t end_ns = monotonic_ns();
    sampler.detach();
    sampler.poll(0);
    kernel_holds.let_go_all();  // stopped as the run ended
    if (options.clock == Clock::wall) sampler.flush_off_cpu(end_ns);
    runtimes.finish(context, end_ns);
    aggregator.finish(end_ns);
    status.clear();

    // Write: the profile, the summary, the outputs.
    Profile profile;
    profile.run = run_info(options, threshold_ms, clock_offsets, duration, start_unix);
    profile.run.lost_samples = sampler.lost_samples() + sampler.lost_off_cpu();
    profile.processes = aggregator.take_profiles();
    profile.blocking = aggregator.take_blocking();
    runtimes.add_to(profile, context);
    profile.run.target_summary = target_summary(options, attached, launched.get(), profile);
    const RunEnd end{options, profile, outputs, duration, sampler};
    print_run_summary(end, stopped.reason,
                      {aggregator.unresolved_frames(), sampler.code_names_lost(), sampler.not_yet_sampled()},
                      runtimes);
    blocking.print_end(profile, runtimes);
    const OutputsWritten written = write_and_report_outputs(profile, outputs, options.quiet);
    if (!options.quiet && profile.total() > 0)
        fmt::print(stderr, "\nHottest functions:\n{}", format_hot_table(hottest_functions(profile, 10)));

    if (launched) {
        sampler.unload();  // nothing of the tracer stays in the kernel while it waits
        const int code = launched->finish(signals, stopped.signal, options.quiet);
        return written == OutputsWritten::some_failed ? 1 : code;
    }
    return written == OutputsWritten::all ? 0 : 1;
}

}  // namespace pyat
