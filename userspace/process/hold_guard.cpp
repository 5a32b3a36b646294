#include "process/hold_guard.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "kernel/bpf_hold_map.h"
#include "base/error.h"
#include "base/run_clock.h"

namespace pyat {

bool process_is_stopped(pid_t pid) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", int(pid));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return true;
    char stat[512];
    ssize_t n = read(fd, stat, sizeof(stat) - 1);
    close(fd);
    if (n <= 0) return true;
    stat[n] = 0;
    const char* paren = strrchr(stat, ')');  // the name may hold anything, even ")"
    if (!paren || paren[1] != ' ') return false;
    return paren[2] == 'T' || paren[2] == 't';
}

namespace {

// Lets go of every hold when `all`, else of those older than their bound.
void let_go_of_holds(HoldTable& holds, BpfHoldMap& kernel, const HoldGuardConfig& config, pid_t tracer,
                     bool tracer_gone) {
    const auto user = holds.held();
    const auto kernel_held = kernel.held();
    if (user.empty() && kernel_held.empty()) return;
    const bool all = tracer_gone || process_is_stopped(tracer);
    const uint64_t now = monotonic_ns();
    for (const auto& h : user)
        if (all || now - h.since_ns > h.bound_ns) holds.guard_let_go(h);
    for (const auto& [pid, since] : kernel_held)
        if (all || now > since + config.kernel_hold_bound.ns) kernel.let_go(pid);
}

// Everything but `keep` closed, stdio on /dev/null.
void close_all_but(std::vector<int> keep) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        for (int std_fd : {0, 1, 2}) dup2(null, std_fd);
        if (null > 2) close(null);
    }
    std::sort(keep.begin(), keep.end());
    unsigned from = 3;
    for (int fd : keep) {
        if (fd < int(from)) continue;
        if (unsigned(fd) > from) close_range(from, unsigned(fd) - 1, 0);
        from = unsigned(fd) + 1;
    }
    close_range(from, ~0U, 0);
}

// Forked with every signal blocked: none can end it before it ignores them.
[[noreturn]] void run_guard(HoldTable& holds, const HoldGuardConfig& config, pid_t tracer, int tracer_pidfd,
                            int quit_fd, int ready_fd) {
    setsid();  // its own session and process group: the terminal's signals and group kills miss it
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2})
        signal(sig, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    prctl(PR_SET_NAME, "pyat-guard");
    std::vector<int> keep = holds.fds();
    for (int fd : {tracer_pidfd, quit_fd, config.kernel_hold_map_fd})
        if (fd >= 0) keep.push_back(fd);
    char ready = 1;
    ssize_t ignored = write(ready_fd, &ready, 1);
    (void)ignored;
    close_all_but(keep);  // the ready pipe too
    BpfHoldMap kernel(config.kernel_hold_map_fd);  // never destroyed: _exit below
    for (;;) {
        pollfd fds[2] = {{tracer_pidfd, POLLIN, 0}, {quit_fd, POLLIN, 0}};
        poll(fds, 2, config.period_ms);
        const bool died = fds[0].revents != 0;
        const bool done = fds[1].revents != 0;
        let_go_of_holds(holds, kernel, config, tracer, died || done);
        if (done) _exit(0);
        if (died) {
            // Its probes were detached as its files closed, before it was seen gone; a probe that
            // was running then may still have stopped one more process: look once more.
            timespec pause{0, 100'000'000};
            nanosleep(&pause, nullptr);
            let_go_of_holds(holds, kernel, config, tracer, true);
            _exit(0);
        }
    }
}

}  // namespace

HoldGuard::HoldGuard(HoldTable& holds, const HoldGuardConfig& config) {
    const pid_t tracer = getpid();
    UniqueFd tracer_pidfd(int(syscall(SYS_pidfd_open, tracer, 0)));
    if (!tracer_pidfd) throw Error(fmt::format("cannot open a pidfd for the hold guard: {}", strerror(errno)));
    fcntl(tracer_pidfd.get(), F_SETFD, FD_CLOEXEC);
    quit_.reset(eventfd(0, EFD_CLOEXEC));
    if (!quit_) throw Error(fmt::format("cannot create an eventfd for the hold guard: {}", strerror(errno)));
    int ready[2];
    if (pipe2(ready, O_CLOEXEC)) throw Error(fmt::format("cannot create a pipe: {}", strerror(errno)));
    UniqueFd ready_read(ready[0]), ready_write(ready[1]);
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_ = fork();
    if (pid_ == 0) run_guard(holds, config, tracer, tracer_pidfd.get(), quit_.get(), ready_write.get());
    const int fork_errno = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (pid_ < 0) throw Error(fmt::format("cannot fork the hold guard: {}", strerror(fork_errno)));
    // Nothing is held before the guard deafened itself to the signals that may end the tracer.
    ready_write.reset();
    char byte = 0;
    ssize_t n;
    do {
        n = read(ready_read.get(), &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        waitpid(pid_, nullptr, 0);
        pid_ = -1;
        throw Error("the hold guard did not start");
    }
}

HoldGuard::~HoldGuard() {
    if (pid_ < 0) return;
    uint64_t one = 1;
    ssize_t ignored = write(quit_.get(), &one, sizeof(one));
    (void)ignored;
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

}  // namespace pyat
