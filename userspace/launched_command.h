// A command started under the tracer (`pyasynctrace -- CMD ARGS`): forked and held at a gate
// until the BPF programs are attached, then exec'd with the tracer's blocked signals restored.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "unique_fd.h"

namespace pyat {

class LaunchedCommand {
public:
    // Forks; the child waits for release(). Throws pyat::Error if fork fails.
    explicit LaunchedCommand(const std::vector<std::string>& argv);
    ~LaunchedCommand();  // a child never released is killed and reaped
    LaunchedCommand(const LaunchedCommand&) = delete;
    LaunchedCommand& operator=(const LaunchedCommand&) = delete;

    pid_t pid() const { return pid_; }

    // Let the child exec. Throws pyat::Error ("cannot run 'x': No such file or directory")
    // when the exec fails.
    void release();

    // Non-blocking: true once the child has exited (and been reaped).
    bool reap();
    bool exited() const { return exit_code_.has_value(); }
    // The shell convention: the exit status, or 128 + the signal that killed it.
    int exit_code() const { return exit_code_.value_or(0); }

private:
    pid_t pid_ = -1;
    std::string program_;
    UniqueFd gate_;        // parent writes one byte to let the child exec
    UniqueFd exec_error_;  // child writes errno here if exec fails (CLOEXEC: closes on success)
    bool released_ = false;
    std::optional<int> exit_code_;
};

}  // namespace pyat
