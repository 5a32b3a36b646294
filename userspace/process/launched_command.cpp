#include "process/launched_command.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "base/error.h"
#include "process/hold_guard.h"
#include "process/proc_status.h"

namespace pyat {

namespace {


bool is_or_descends_from(pid_t pid, pid_t ancestor) {
    for (int depth = 0; pid > 1 && depth < 64; depth++, pid = parent_of(pid))
        if (pid == ancestor) return true;
    return false;
}

}  // namespace

LaunchedCommand::LaunchedCommand(const std::vector<std::string>& argv, HoldTable& holds) : argv_(argv), holds_(holds) {
    if (argv.empty()) throw Error("no command to launch");
    program_ = argv.front();
    // The gate is a socket pair, not a pipe: its byte is sent with MSG_NOSIGNAL, so a command that
    // died at the gate never raises SIGPIPE in the tracer (one of its stop signals).
    int gate[2], err[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, gate))
        throw Error(fmt::format("cannot create a socket pair: {}", strerror(errno)));
    gate_read_.reset(gate[0]);
    gate_.reset(gate[1]);
    if (pipe2(err, O_CLOEXEC)) throw Error(fmt::format("cannot create a pipe: {}", strerror(errno)));
    exec_error_.reset(err[0]);
    exec_error_write_.reset(err[1]);
    gate_hold_ = &holds_.hold(HoldKind::gate, 0, gate_.get(), launch_gate_bound);
}

void LaunchedCommand::start() {
    std::vector<char*> args;
    for (const auto& a : argv_) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw Error(fmt::format("cannot fork: {}", strerror(errno)));
    if (pid_ == 0) {
        // Child: only async-signal-safe calls from here on.
        gate_.reset();
        exec_error_.reset();
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        char go = 0;
        ssize_t n;
        do {
            n = read(gate_read_.get(), &go, 1);
        } while (n < 0 && errno == EINTR);
        // n == 1: released (by the tracer or its hold guard). n == 0: both are gone: the command
        // runs untraced rather than not at all.
        gate_read_.reset();
        execvp(args[0], args.data());
        int e = errno;
        ssize_t ignored = write(exec_error_write_.get(), &e, sizeof(e));
        (void)ignored;
        _exit(127);
    }
    HoldTable::set_pid(*gate_hold_, pid_);
    gate_read_.reset();
    exec_error_write_.reset();
}

LaunchedCommand::~LaunchedCommand() {
    if (pid_ > 0 && !exited() && !released_) {
        kill(pid_, SIGKILL);
        while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
        }
    }
    if (gate_hold_) holds_.drop(*gate_hold_);  // killed, or never started
}

bool LaunchedCommand::release() {
    const bool by_tracer = holds_.let_go(*gate_hold_);
    gate_hold_ = nullptr;
    released_ = true;
    gate_.reset();
    int e = 0;
    ssize_t n;
    do {
        n = read(exec_error_.get(), &e, sizeof(e));  // EOF when exec succeeded
    } while (n < 0 && errno == EINTR);
    exec_error_.reset();
    if (n == sizeof(e)) {
        while (!reap()) {
            int status = 0;
            if (waitpid(pid_, &status, 0) == pid_) exit_code_ = 127;
        }
        throw Error(fmt::format("cannot run '{}': {}", program_, strerror(e)));
    }
    return by_tracer;
}

bool LaunchedCommand::reap() {
    if (exited()) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return false;
    if (WIFEXITED(status))
        exit_code_ = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        exit_code_ = 128 + WTERMSIG(status);
    else
        return false;
    return true;
}

bool LaunchedCommand::pass_on(const StopSignal& signal) {
    if (!released_ || reap() || signal.number == SIGPIPE) return false;
    // The terminal signals its whole foreground group (the command is in the tracer's), but on a
    // hang-up only the session leader: the tracer, when run as `ssh host pyasynctrace -- CMD`.
    if (signal.from_terminal && !(signal.number == SIGHUP && getsid(0) == getpid())) return false;
    if (signal.sender > 0 && is_or_descends_from(signal.sender, pid_)) return false;
    return kill(pid_, signal.number) == 0;
}

int LaunchedCommand::finish(StopSignals& signals, std::optional<StopSignal> stopped_by, bool quiet,
                            double after_signal_s) {
    using Clock = std::chrono::steady_clock;
    const auto bound = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(after_signal_s));
    auto deadline = stopped_by ? Clock::now() + bound : Clock::time_point::max();
    auto tell_at = stopped_by ? Clock::now() + std::chrono::milliseconds(500) : Clock::now();
    bool told = false;
    while (!reap()) {
        if (!stopped_by) {
            if ((stopped_by = signals.take())) {
                pass_on(*stopped_by);
                deadline = Clock::now() + bound;
                told = false;
                tell_at = Clock::now() + std::chrono::milliseconds(500);
            }
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            fmt::print(stderr, "pyasynctrace: PID {} is still running {:g} s after {}: left running\n", pid_,
                       after_signal_s, signal_name(stopped_by->number));
            return 128 + stopped_by->number;
        }
        if (!told && !quiet && now >= tell_at) {
            if (stopped_by)
                fmt::print(stderr, "pyasynctrace: waiting up to {:g} s for PID {} to exit (Ctrl-C again quits at once)\n",
                           after_signal_s, pid_);
            else
                fmt::print(stderr, "pyasynctrace: waiting for PID {} to exit\n", pid_);
            told = true;
        }
        pollfd ready{signals.fd(), POLLIN, 0};
        poll(&ready, 1, 20);
    }
    return exit_code();
}

}  // namespace pyat
