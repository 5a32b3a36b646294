// Stopping a run from the keyboard: SIGINT and SIGTERM, caught through a signalfd.
#pragma once

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <optional>

#include "error.h"
#include "unique_fd.h"

namespace pyat {

// SIGINT and SIGTERM arrive through a signalfd while the run goes on; after the first one the
// default action is restored, so a second Ctrl-C ends the tracer at once.
class StopSignals {
public:
    StopSignals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        if (sigprocmask(SIG_BLOCK, &set_, &old_) != 0)
            throw Error(fmt::format("cannot block signals: {}", strerror(errno)));
        fd_.reset(signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_) throw Error(fmt::format("cannot create a signalfd: {}", strerror(errno)));
    }
    ~StopSignals() { sigprocmask(SIG_SETMASK, &old_, nullptr); }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    int fd() const { return fd_.get(); }

    // The signal received, if any; the next one will not be caught.
    std::optional<int> take() {
        signalfd_siginfo info{};
        if (read(fd_.get(), &info, sizeof(info)) != sizeof(info)) return std::nullopt;
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_UNBLOCK, &set_, nullptr);
        return int(info.ssi_signo);
    }

private:
    sigset_t set_{}, old_{};
    UniqueFd fd_;
};

}  // namespace pyat
