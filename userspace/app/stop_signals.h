// Stopping a run from outside: SIGINT, SIGTERM, SIGHUP and SIGPIPE, caught through a signalfd.
#pragma once

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <optional>
#include <string>

#include "base/error.h"
#include "base/unique_fd.h"

namespace pyat {

// "SIGTERM".
inline std::string signal_name(int number) {
    const char* abbrev = sigabbrev_np(number);
    return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", number);
}

struct StopSignal {
    int number = 0;
    // Sent by the kernel to the terminal's foreground process group (Ctrl-C, Ctrl-\, a hang-up):
    // a launched command, in the tracer's group, got it too.
    bool from_terminal = false;
    pid_t sender = 0;  // the process that sent it (kill()), 0 when the kernel did

    // For "pyasynctrace: ... after 2.1 s": "interrupted (Ctrl-C)", "stopped by SIGTERM from PID 42"...
    std::string description() const {
        const std::string name = signal_name(number);
        if (number == SIGINT && from_terminal) return "interrupted (Ctrl-C)";
        if (number == SIGHUP && from_terminal) return "stopped by SIGHUP (the terminal hung up)";
        if (number == SIGPIPE && sender == getpid()) return "stopped by SIGPIPE (stderr was closed)";
        if (from_terminal || sender <= 0) return fmt::format("stopped by {}", name);
        return fmt::format("stopped by {} from PID {}", name, sender);
    }
};

// The signals arrive through a signalfd while the run goes on. After the first one, a second
// SIGINT or SIGTERM ends the tracer at once (default action), while SIGHUP and SIGPIPE are ignored
// from then on (a terminal hangs up once but is signalled twice; a closed stderr signals each write).
// A SIGINT or SIGHUP ignored when the tracer started (a script's background job, nohup) stays so.
class StopSignals {
public:
    StopSignals() {
        sigemptyset(&set_);
        for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) {
            struct sigaction now {};
            if ((sig == SIGINT || sig == SIGHUP) && sigaction(sig, nullptr, &now) == 0 && now.sa_handler == SIG_IGN)
                continue;
            sigaddset(&set_, sig);
        }
        if (sigprocmask(SIG_BLOCK, &set_, &old_) != 0)
            throw Error(fmt::format("cannot block signals: {}", strerror(errno)));
        fd_.reset(signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) throw Error(fmt::format("cannot create a signalfd: {}", strerror(errno)));
    }
    // The run is over: a SIGHUP or SIGPIPE still pending (the summary written to a closed stderr)
    // must not turn the exit code into a death by that signal.
    ~StopSignals() {
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        sigprocmask(SIG_SETMASK, &old_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    int fd() const { return fd_.get(); }

    // The signal received, if any (only the first one is ever returned).
    std::optional<StopSignal> take() {
        if (taken_) return std::nullopt;
        signalfd_siginfo info{};
        if (read(fd_.get(), &info, sizeof(info)) != sizeof(info)) return std::nullopt;
        taken_ = true;
        if (sigismember(&set_, SIGINT)) signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        sigprocmask(SIG_UNBLOCK, &set_, nullptr);
        StopSignal s;
        s.number = int(info.ssi_signo);
        s.from_terminal = info.ssi_code == SI_KERNEL;
        s.sender = s.from_terminal ? 0 : pid_t(info.ssi_pid);
        return s;
    }

private:
    sigset_t set_{}, old_{};
    UniqueFd fd_;
    bool taken_ = false;
};

}  // namespace pyat
