// The hold guard: a small process the tracer forks before it holds anything, which lets go of every
// hold (hold_table.h: the tracer's SIGSTOPs and the launched command's gate; bpf_hold_map.h: the
// BPF programs' SIGSTOPs) when the tracer dies, is stopped, or keeps one longer than its bound.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "process/hold_table.h"
#include "base/unique_fd.h"

namespace pyat {

// How long a hold may last while the tracer is alive and running (one that dies or is stopped
// loses its holds at once). Measured here: the tracer is ready 0.3-1 s after it starts (2 cores,
// load 8), and continues a process stopped at Twisted's import within tens of ms.
inline constexpr HoldBound launch_gate_bound{10'000'000'000ULL};  // the command waits before exec
inline constexpr HoldBound exec_stop_bound{10'000'000'000ULL};    // --mode trace: stopped after exec
inline constexpr HoldBound import_stop_bound{2'000'000'000ULL};   // stopped at Twisted's import

struct HoldGuardConfig {
    int kernel_hold_map_fd = -1;  // BpfHoldMap's fd (-1: the BPF programs hold nothing)
    HoldBound kernel_hold_bound = import_stop_bound;
    int period_ms = 25;           // how often it looks (a stopped tracer is seen within this)
};

class HoldGuard {
public:
    // Forks the guard (its own session and process group, deaf to SIGINT, SIGTERM, SIGHUP and
    // SIGPIPE, stdio on /dev/null, no fd of the tracer but the ones it needs). Holds already in
    // `holds` (a gate) are known to it; later ones it sees as they are recorded. Throws pyat::Error.
    HoldGuard(HoldTable& holds, const HoldGuardConfig& config);
    // Tells it the tracer is done (it lets go of anything still held) and reaps it.
    ~HoldGuard();
    HoldGuard(const HoldGuard&) = delete;
    HoldGuard& operator=(const HoldGuard&) = delete;

    pid_t pid() const { return pid_; }

private:
    pid_t pid_ = -1;
    UniqueFd quit_;  // an eventfd: written when the tracer is done
};

// /proc/PID/stat says stopped (T) or stopped by a debugger (t); a process that is gone counts too.
bool process_is_stopped(pid_t pid);

}  // namespace pyat
