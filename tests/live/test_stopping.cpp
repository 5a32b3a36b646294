// Live: how a run ends. SIGHUP and SIGPIPE end it like SIGTERM (outputs written, probes released);
// a stop signal reaches a launched command exactly once (passed on when it did not reach it
// already); the tracer exits with the command's exit status; a command that ignores the signal
// neither hangs the tracer nor is killed by it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include <chrono>
#include <thread>

#include "live/bpf_ids.h"
#include "process_state.h"
#include "test_support.h"

using namespace pyat::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

// The tracer's launched command: its child that is not the hold guard.
pid_t launched_command_of(pid_t tracer) {
    for (pid_t c : children_of(tracer))
        if (process_name(c) != "pyat-guard") return c;
    return 0;
}

// The tracer run as the session leader on a pseudo-terminal of its own, as `ssh -t host
// pyasynctrace ...` runs it: Ctrl-C written to the terminal, or the terminal hung up.
class TerminalSession {
public:
    explicit TerminalSession(const std::vector<std::string>& argv) {
        master_ = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master_ < 0 || grantpt(master_) || unlockpt(master_)) throw std::runtime_error("no pty");
        std::string slave = ptsname(master_);
        pid_ = fork();
        if (pid_ == 0) {
            setsid();
            int fd = open(slave.c_str(), O_RDWR);
            ioctl(fd, TIOCSCTTY, 0);
            for (int std_fd : {0, 1, 2}) dup2(fd, std_fd);
            if (fd > 2) close(fd);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
    }
    ~TerminalSession() {
        if (pid_ > 0 && !status_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        hang_up();
    }
    pid_t pid() const { return pid_; }
    const std::string& output() const { return output_; }

    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
        return wait_until(
            [&] {
                pump();
                return output_.find(needle) != std::string::npos;
            },
            timeout);
    }
    void type(const std::string& keys) { ASSERT_EQ(write(master_, keys.data(), keys.size()), ssize_t(keys.size())); }
    void hang_up() {
        if (master_ >= 0) close(master_);
        master_ = -1;
    }
    // The exit code (128 + signal when killed), or -1 after the timeout.
    int wait(std::chrono::milliseconds timeout) {
        int s = 0;
        if (!wait_until(
                [&] {
                    pump();
                    return waitpid(pid_, &s, WNOHANG) == pid_;
                },
                timeout))
            return -1;
        status_ = s;
        return WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
    }

private:
    void pump() {
        if (master_ < 0) return;
        pollfd p{master_, POLLIN, 0};
        char buf[4096];
        while (poll(&p, 1, 0) > 0 && (p.revents & POLLIN)) {
            ssize_t n = read(master_, buf, sizeof(buf));
            if (n <= 0) break;
            output_.append(buf, size_t(n));
        }
    }
    int master_ = -1;
    pid_t pid_ = -1;
    std::optional<int> status_;
    std::string output_;
};

}  // namespace

// Before: SIGHUP and SIGPIPE killed the tracer (exit 129, 141) with nothing written.
TEST(LiveStopping, SighupAndSigpipeEndTheRunLikeSigterm) {
    Workload target({debian_python, workload("cost_split.py")});
    TempDir dir;
    for (int sig : {SIGHUP, SIGPIPE, SIGTERM}) {
        std::string out = dir / ("s" + std::to_string(sig) + ".folded");
        Child tracer({binary, "-p", std::to_string(target.pid()), "--hz", "199", "-o", out});
        ASSERT_TRUE(tracer.wait_for_output("tracing PID", 20, true)) << tracer.err();
        std::this_thread::sleep_for(1s);  // collect samples, then signal
        const auto programs = bpf_programs_held_by(tracer.pid());
        EXPECT_FALSE(programs.empty());
        tracer.signal(sig);
        EXPECT_EQ(tracer.wait(30), 0) << "signal " << sig << ": " << tracer.err();
        EXPECT_GT(inclusive(read_folded(out), "heavy"), 0u) << tracer.err();
        EXPECT_EQ(bpf_programs_left(programs, 10s).size(), 0u) << "signal " << sig;
    }
}

// `pyasynctrace ... 2>&1 | head -1`: the reader is gone before the summary. Before: the summary's
// first write killed the tracer (SIGPIPE, exit 141) before the outputs were written.
TEST(LiveStopping, StderrIntoAPipeWhoseReaderExitedLosesNothing) {
    TempDir dir;
    const std::string out = dir / "p.folded";
    RunResult r = run({"bash", "-c", "\"$0\" \"$@\" 2> >(head -n 1 > /dev/null)", binary, "-o", out, "--",
                       debian_python, workload("cost_split.py"), "--seconds", "2", "--exit-code", "3"});
    EXPECT_EQ(r.exit_code, 3) << "the command's exit code";
    EXPECT_GT(inclusive(read_folded(out), "heavy"), 0u);
}

// A signal sent to the tracer alone (kill PID) stops the run and is passed on to the launched
// command, once; the tracer exits with the command's status. Before: it was not passed on, and
// the tracer waited for the command forever (SIGHUP killed the tracer at once).
TEST(LiveStopping, ASignalToTheTracerAloneReachesTheLaunchedCommandOnce) {
    TempDir dir;
    for (const char* mode : {"sample", "trace"})
        for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
            if (std::string(mode) == "trace" && sig != SIGTERM) continue;
            const std::string out = dir / (std::string(mode) + std::to_string(sig) + ".folded");
            Child tracer({binary, "--mode", mode, "-o", out, "--", debian_python, workload("count_signals.py")});
            ASSERT_TRUE(tracer.wait_for_output("ready", 60)) << tracer.err();
            tracer.signal(sig);
            const std::string expected = std::string("got ") + (sig == SIGINT ? "SIGINT=1 SIGTERM=0 SIGHUP=0"
                                                                : sig == SIGTERM ? "SIGINT=0 SIGTERM=1 SIGHUP=0"
                                                                                 : "SIGINT=0 SIGTERM=0 SIGHUP=1");
            EXPECT_EQ(tracer.wait(30), 0) << mode << " " << sig << ": " << tracer.err();
            EXPECT_NE(tracer.out().find(expected), std::string::npos) << mode << " " << sig << ": " << tracer.out();
            EXPECT_GT(total(read_folded(out)), 0u) << mode << " " << sig;
        }
}

// --mode trace holds the command stopped after its exec; a SIGTERM then reaches it once it runs.
// Before: it never did, and the tracer waited for the command forever.
TEST(LiveStopping, SigtermDuringTheTraceModeHoldReachesTheCommand) {
    TempDir dir;
    Child tracer({binary, "--mode", "trace", "-o", dir / "t.folded", "--", debian_python, workload("count_signals.py")});
    pid_t command = 0;
    ASSERT_TRUE(wait_until(
        [&] {
            command = launched_command_of(tracer.pid());
            return command && is_stopped(command);
        },
        30s));
    tracer.signal(SIGTERM);
    // Passed on as the command starts: it ends by it, handled (exit 0) or before Python set its
    // handler (killed by SIGTERM); the tracer exits as the command did.
    const int code = tracer.wait(60);
    if (code == 0)
        EXPECT_NE(tracer.out().find("got SIGINT=0 SIGTERM=1 SIGHUP=0"), std::string::npos) << tracer.out();
    else
        EXPECT_EQ(code, 128 + SIGTERM) << tracer.err();
    EXPECT_NE(tracer.err().find("stopped by SIGTERM from PID"), std::string::npos) << tracer.err();
}

// Ctrl-C on the terminal reaches the whole foreground group, the command included: the tracer
// does not pass it on a second time. A hang-up signals only the session leader, the tracer here:
// it passes that on, and writes the profile although its terminal is gone.
TEST(LiveStopping, TheTerminalsCtrlCAndHangUpReachTheCommandOnce) {
    TempDir dir;
    {
        TerminalSession session({binary, "-o", dir / "c.folded", "--", debian_python, workload("count_signals.py")});
        ASSERT_TRUE(session.wait_for("ready", 60s)) << session.output();
        session.type("\x03");
        EXPECT_EQ(session.wait(30s), 0) << session.output();
        EXPECT_NE(session.output().find("got SIGINT=1 SIGTERM=0 SIGHUP=0"), std::string::npos) << session.output();
        EXPECT_NE(session.output().find("interrupted (Ctrl-C)"), std::string::npos) << session.output();
        EXPECT_GT(total(read_folded(dir / "c.folded")), 0u);
    }
    {
        const std::string report = dir / "report.txt";
        TerminalSession session(
            {binary, "-o", dir / "h.folded", "--", debian_python, workload("count_signals.py"), "--report", report});
        ASSERT_TRUE(session.wait_for("ready", 60s)) << session.output();
        session.hang_up();
        EXPECT_EQ(session.wait(30s), 0);
        EXPECT_EQ(read_file(report), "got SIGINT=0 SIGTERM=0 SIGHUP=1\n");
        EXPECT_GT(total(read_folded(dir / "h.folded")), 0u);
    }
}

// A command that ignores the signal passed on: the outputs are written at once; the tracer waits
// at most 10 s, then leaves it running and exits 128 + the signal; a second signal ends the
// wait at once.
TEST(LiveStopping, ACommandIgnoringTheSignalIsLeftRunningNotWaitedForForever) {
    Subreaper reaper;  // the command outlives the tracer
    TempDir dir;
    for (bool second_signal : {true, false}) {
        const std::string out = dir / (second_signal ? "a.folded" : "b.folded");
        Child tracer({binary, "-o", out, "--", debian_python, workload("count_signals.py"), "--ignore"});
        ASSERT_TRUE(tracer.wait_for_output("ready", 60)) << tracer.err();
        const pid_t command = launched_command_of(tracer.pid());
        tracer.signal(SIGTERM);
        ASSERT_TRUE(tracer.wait_for_output("waiting up to 10 s for PID", 30, true)) << tracer.err();
        EXPECT_GT(total(read_folded(out)), 0u) << "written before the wait";
        const auto asked = SteadyClock::now();
        if (second_signal) tracer.signal(SIGTERM);
        EXPECT_EQ(tracer.wait(30), 128 + SIGTERM) << tracer.err();
        const auto waited = SteadyClock::now() - asked;
        if (second_signal) {
            EXPECT_LT(waited, 2s);
        } else {
            EXPECT_GT(waited, 8s);
            EXPECT_NE(tracer.err().find("is still running 10 s after SIGTERM: left running"), std::string::npos)
                << tracer.err();
        }
        EXPECT_TRUE(is_running(command)) << "the tracer must not kill what it launched";
        kill(command, SIGKILL);
    }
}
