// A command started under the tracer (`pyasynctrace -- CMD ARGS`): forked and held at a gate
// until the BPF programs are attached, then exec'd with the tracer's blocked signals restored; and
// what becomes of it when the run ends.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "process/hold_table.h"
#include "app/stop_signals.h"
#include "base/unique_fd.h"

namespace pyat {

class LaunchedCommand {
public:
    // Makes the gate and records it in `holds` (the hold guard opens it if the tracer cannot: the
    // command then runs untraced); start() forks. Throws pyat::Error.
    LaunchedCommand(const std::vector<std::string>& argv, HoldTable& holds);
    ~LaunchedCommand();  // a child never released is killed and reaped
    LaunchedCommand(const LaunchedCommand&) = delete;
    LaunchedCommand& operator=(const LaunchedCommand&) = delete;

    // Forks the child, which waits at the gate for release(), for the hold guard, or for the
    // gate's end of file (the tracer and its guard both gone): then it execs. Throws pyat::Error.
    void start();
    pid_t pid() const { return pid_; }

    // Let the child exec. Throws pyat::Error ("cannot run 'x': No such file or directory")
    // when the exec fails. False if the hold guard had let it go already.
    bool release();

    // Non-blocking: true once the child has exited (and been reaped).
    bool reap();
    bool exited() const { return exit_code_.has_value(); }
    // The shell convention: the exit status, or 128 + the signal that killed it.
    int exit_code() const { return exit_code_.value_or(0); }

    // A signal that stopped the run reaches the command too, unless it did already: one from the
    // terminal went to the whole foreground group, the command's (but a hang-up only to the
    // session leader, which the tracer may be); one the command (or a process it started) sent
    // came from its side; SIGPIPE is about the tracer's own stderr.
    // Returns whether it was passed on.
    bool pass_on(const StopSignal& signal);

    // Once the run is over: waits for the command and returns the tracer's exit code, the
    // command's. A stop signal (the one that ended the run, or one that comes while waiting) is
    // passed on, and the wait then lasts at most `after_signal_s`: a command still running then is
    // left running, and the code is 128 + that signal. A second SIGINT or SIGTERM ends the tracer
    // at once (StopSignals).
    int finish(StopSignals& signals, std::optional<StopSignal> stopped_by, bool quiet, double after_signal_s = 10);

private:
    pid_t pid_ = -1;
    std::string program_;
    std::vector<std::string> argv_;
    HoldTable& holds_;
    HoldRecord* gate_hold_ = nullptr;
    UniqueFd gate_read_;   // the child's end
    UniqueFd gate_;        // parent writes one byte to let the child exec
    UniqueFd exec_error_;  // child writes errno here if exec fails (CLOEXEC: closes on success)
    UniqueFd exec_error_write_;
    bool released_ = false;
    std::optional<int> exit_code_;
};

}  // namespace pyat
