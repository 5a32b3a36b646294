#include "app/run_summary.h"

#include <fmt/format.h>

#include "base/run_clock.h"
#include "profile/profile.h"

namespace pyat {

void print_run_summary(const RunEnd& end, const std::string& stop_reason, const RunCounts& counts,
                       const RuntimeSet& runtimes) {
    const Options& options = end.options;
    const Profile& profile = end.profile;
    if (!options.quiet)
        fmt::print(stderr, "pyasynctrace: {} after {:.1f} s; {} samples from {} process{} ({} clock, {} Hz)\n",
                   stop_reason, end.duration_s, profile.total(), profile.processes.size(),
                   profile.processes.size() == 1 ? "" : "es", clock_name(options.clock), options.hz);
    if (!options.quiet) {
        // Loading the BPF programs (the kernel verifying them) is most of a short run's share.
        const double cpu = own_cpu_seconds();
        if (end.duration_s >= 5)
            fmt::print(stderr, "pyasynctrace: the tracer used {:.2f} s of CPU ({:.1f}% of one CPU over the run)\n", cpu,
                       100.0 * cpu / end.duration_s);
        else
            fmt::print(stderr, "pyasynctrace: the tracer used {:.2f} s of CPU\n", cpu);
    }
    for (const auto& line : runtimes.cost_lines(end)) fmt::print(stderr, "{}\n", line);
    if (!options.quiet && counts.unresolved_frames)
        fmt::print(stderr,
                   "pyasynctrace: warning: {} frames could not be named and read \"[code object 0x..., ...]\" "
                   "({} namings were lost to a full ring buffer)\n",
                   counts.unresolved_frames, counts.code_names_lost);
    if (profile.run.lost_samples)
        fmt::print(stderr,
                   "pyasynctrace: warning: {} samples were lost (ring buffer full); the profile "
                   "under-counts by that much\n",
                   profile.run.lost_samples);
    if (!options.quiet && counts.not_yet_sampled)
        fmt::print(stderr,
                   "pyasynctrace: {} samples fell in the milliseconds after a process was found, while its "
                   "runtimes were being looked for, and were not taken\n",
                   counts.not_yet_sampled);
    if (profile.processes.empty()) fmt::print(stderr, "pyasynctrace: no CPython process was traced\n");
    for (const auto& line : runtimes.miss_lines(end)) fmt::print(stderr, "{}\n", line);
}

}  // namespace pyat
