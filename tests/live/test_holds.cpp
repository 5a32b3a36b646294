// Live: the tracer never leaves a target stopped. It is SIGKILLed or SIGSTOPped at every moment of
// its start-up (the launched command's gate, --mode trace's stop after exec, --deferred-log's stop
// at Twisted's import): the command must run on within one second, every time, and none of the
// tracer's BPF programs may outlive it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "live/bpf_ids.h"
#include "process_state.h"
#include "test_support.h"

using namespace pyat::test;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Tally {
    int runs = 0;
    int held_at_signal = 0;  // the command was stopped when the tracer was killed or seen stopped
    int gated_at_signal = 0; // the command was waiting at its gate, not exec'd yet
    int not_launched = 0;    // the tracer went before it forked the command
    int finished = 0;        // the run was over already
    std::chrono::milliseconds longest_stop{0};  // of the command, after the signal
};

// The longest the command stays stopped from `since`, watched until it is gone or `watch` passes.
std::chrono::milliseconds longest_stop(pid_t command, SteadyClock::time_point since, std::chrono::milliseconds watch,
                                       bool* held_at_start) {
    std::chrono::milliseconds longest{0};
    std::optional<SteadyClock::time_point> stopped_since;
    *held_at_start = is_stopped(command);
    const auto end = since + watch;
    for (auto now = SteadyClock::now(); now < end; now = SteadyClock::now()) {
        char s = process_state(command);
        if (s == 0 || s == 'Z') break;
        if (s == 'T' || s == 't') {
            if (!stopped_since) stopped_since = std::max(now, since);
            longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(now - *stopped_since));
        } else {
            stopped_since.reset();
        }
        std::this_thread::sleep_for(1ms);
    }
    if (stopped_since)
        longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() -
                                                                                          *stopped_since));
    return longest;
}

// The tracer's children: its hold guard (it names itself as it starts) and the command (named as
// the tracer until it execs: with the tracer gone or stopped, the guard lets it exec).
std::string tell_children_apart(const std::vector<pid_t>& children, pid_t& guard, pid_t& command,
                                bool* command_gated = nullptr) {
    for (pid_t c : children) {
        const bool unnamed = process_name(c) == "pyasynctrace";
        if (!wait_until([&] { return process_name(c) != "pyasynctrace"; }, 3s))
            return "a child of the tracer never exec'd";
        (process_name(c) == "pyat-guard" ? guard : command) = c;
        if (command == c && command_gated) *command_gated = unnamed;
    }
    return "";
}

// One run: the tracer gets `sig` `delay` after it starts. Returns "" or what went wrong.
std::string signal_during_start_up(const std::vector<std::string>& args, int sig, std::chrono::milliseconds delay,
                                   Tally& tally) {
    Child tracer(args);
    const pid_t t = tracer.pid();
    std::this_thread::sleep_for(delay);  // the moment is what is varied
    std::set<uint32_t> programs = bpf_programs_held_by(t);
    kill(t, sig);
    SteadyClock::time_point since;
    std::vector<pid_t> children;
    if (sig == SIGSTOP) {
        if (!wait_until([&] { return is_stopped(t) || process_state(t) == 'Z'; }, 5s)) return "the tracer did not stop";
        if (process_state(t) == 'Z') {
            tally.finished++;
            return tracer.wait(10) == 0 ? "" : "the tracer failed: " + tracer.err();
        }
        since = SteadyClock::now();
        programs = bpf_programs_held_by(t);  // complete: it is stopped
        children = children_of(t);
    } else {
        since = SteadyClock::now();
        tracer.wait(10);
        children = children_of(getpid());  // its orphans are ours (Subreaper)
    }
    pid_t guard = 0, command = 0;
    bool gated = false;
    std::string problem = tell_children_apart(children, guard, command, &gated);
    tally.runs++;
    tally.gated_at_signal += gated;
    if (!command) {
        tally.not_launched++;
    } else {
        bool held = false;
        auto stop = longest_stop(command, since, 5s, &held);
        tally.held_at_signal += held;
        tally.longest_stop = std::max(tally.longest_stop, stop);
        if (stop >= 1s) problem = "the command stayed stopped for " + std::to_string(stop.count()) + " ms";
    }
    if (sig == SIGSTOP) {
        if (command && !wait_until([&] { return process_state(command) == 'Z'; }, 30s))
            problem += " the command did not finish while the tracer was stopped";
        kill(t, SIGCONT);
        int code = tracer.wait(60);
        if (tracer.timed_out()) problem += " the tracer hung once continued";
        if (code != 0 && tracer.err().find("before it could be traced") == std::string::npos &&
            tracer.err().find("error:") == std::string::npos)
            problem += " the tracer exited " + std::to_string(code) + " with no error: " + tracer.err();
    } else {
        if (guard && !wait_until([&] { return waitpid(guard, nullptr, WNOHANG) == guard; }, 1s))
            problem += " its hold guard outlived it by more than 1 s";
        if (command) {
            int status = 0;
            if (!wait_until([&] { return waitpid(command, &status, WNOHANG) == command; }, 30s))
                problem += " the command never finished";
            else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                problem += " the command did not exit 0 (status " + std::to_string(status) + ")";
        }
    }
    auto left = bpf_programs_left(programs, 10s);
    if (!left.empty()) problem += " " + std::to_string(left.size()) + " of its BPF programs outlived it";
    return problem.empty() ? "" : "signal " + std::to_string(sig) + " after " + std::to_string(delay.count()) +
                                      " ms: " + problem;
}

void sweep_start_up(const std::vector<std::string>& args, std::chrono::milliseconds window,
                    std::chrono::milliseconds step, Tally& tally) {
    Subreaper reaper;
    for (auto delay = 0ms; delay <= window; delay += step)
        for (int sig : {SIGKILL, SIGSTOP}) {
            std::string problem = signal_during_start_up(args, sig, delay, tally);
            EXPECT_EQ(problem, "");
        }
}

}  // namespace

// --mode trace holds a launched python3.11 stopped from its exec until the probes are attached
// (40-150 ms after the tracer starts here; its run is over by 0.7 s). Before the hold guard, 4 of 5 SIGKILLs 20-100 ms in
// left the command stopped for good.
TEST(LiveHolds, TraceModeCommandRunsOnWhateverMomentTheTracerIsKilledOrStopped) {
    TempDir dir;
    Tally tally;
    sweep_start_up({binary, "--mode", "trace", "-q", "-o", dir / "t.folded", "--", debian_python,
                    workload("call_counts.py"), "30", "now"},
                   300ms, 6ms, tally);
    std::cerr << tally.runs << " runs: at the signal, the command was stopped in " << tally.held_at_signal
              << ", at its gate in " << tally.gated_at_signal << ", not launched yet in " << tally.not_launched
              << "; the run was over in " << tally.finished << "; longest stop after the signal "
              << tally.longest_stop.count() << " ms\n";
    // How many runs hit the hold moves with the load (12-15 of ~100 alone, 9-11 in loaded full runs):
    // a few suffice to show the sweep covered it.
    EXPECT_GE(tally.held_at_signal, 3) << "the sweep missed the hold";
}

// Sampling with --deferred-log: the command waits at its gate while the BPF programs load, and is
// stopped in the kernel as it imports twisted.internet.defer (here: at the gate 30-800 ms after the
// tracer starts, stopped for ~5 ms at 1.1 s, the run over by 1.3 s).
TEST(LiveHolds, DeferredLogCommandRunsOnWhateverMomentTheTracerIsKilledOrStopped) {
    TempDir dir;
    Tally tally;
    sweep_start_up({binary, "--deferred-log", "-q", "-o", dir / "d.jsonl", "--", debian_python,
                    workload("twisted_lifecycle.py"), "now"},
                   1300ms, 40ms, tally);
    std::cerr << tally.runs << " runs: at the signal, the command was stopped in " << tally.held_at_signal
              << ", at its gate in " << tally.gated_at_signal << ", not launched yet in " << tally.not_launched
              << "; the run was over in " << tally.finished << "; longest stop after the signal "
              << tally.longest_stop.count() << " ms\n";
    // Under load the tracer forks the command later and the gate's window shrinks within the
    // sweep (52 runs at load ~4 during a build: 30 not launched yet, 4 at the gate).
    EXPECT_GE(tally.gated_at_signal, 2) << "the sweep missed the gate";
}

// The kernel's hold at Twisted's import, hit for sure: the tracer is stopped first, then the
// command imports Twisted (the BPF program stops it, and no tracer can continue it): the guard
// must, within one second; and the tracer, continued, says the guard let it go. Then the same with
// the tracer SIGKILLed the moment the command is seen stopped.
TEST(LiveHolds, CommandStoppedAtTwistedsImportRunsOnWhenTheTracerIsStoppedOrKilled) {
    Subreaper reaper;
    TempDir dir;
    int killed_while_held = 0;
    for (int round = 0; round < 6; round++) {
        const bool kill_it = round % 2 == 1;
        Child tracer({binary, "--deferred-log", "-o", dir / "d.jsonl", "--", debian_python,
                      workload("twisted_late_import.py")});
        ASSERT_TRUE(tracer.wait_for_output("watching for Twisted's import", 60, true)) << tracer.err();
        ASSERT_TRUE(tracer.wait_for_output("ready", 30)) << tracer.out();
        pid_t guard = 0, command = 0;
        ASSERT_EQ(tell_children_apart(children_of(tracer.pid()), guard, command), "");
        ASSERT_GT(command, 0);
        std::set<uint32_t> programs;
        kill(tracer.pid(), SIGSTOP);
        ASSERT_TRUE(wait_until([&] { return is_stopped(tracer.pid()); }, 5s));
        programs = bpf_programs_held_by(tracer.pid());
        kill(command, SIGUSR1);  // import Twisted now
        SteadyClock::time_point since;
        if (kill_it) {
            // The guard lets go within its 25 ms look: kill the tracer the moment the hold is seen.
            bool held = wait_until([&] { return is_stopped(command); }, 10s);
            kill(tracer.pid(), SIGKILL);
            since = SteadyClock::now();
            killed_while_held += held && is_stopped(command);
            tracer.wait(10);
        } else {
            since = SteadyClock::now();
        }
        bool held_at_start = false;
        auto stop = longest_stop(command, since, 10s, &held_at_start);
        EXPECT_LT(stop, 1s) << "round " << round;
        if (kill_it) {
            int status = 0;
            ASSERT_TRUE(wait_until([&] { return waitpid(command, &status, WNOHANG) == command; }, 30s));
            EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
        } else {
            EXPECT_TRUE(wait_until([&] { return process_state(command) == 'Z'; }, 30s))
                << "the command did not finish while the tracer was stopped";
            kill(tracer.pid(), SIGCONT);
            EXPECT_EQ(tracer.wait(60), 0) << tracer.err();
            EXPECT_NE(tracer.out().find("done"), std::string::npos) << tracer.out();
            EXPECT_NE(tracer.err().find("was let go by the hold guard before its Deferred log began"),
                      std::string::npos)
                << tracer.err();
        }
        EXPECT_EQ(bpf_programs_left(programs, 10s).size(), 0u) << "round " << round;
    }
    std::cerr << "killed while the command was held in " << killed_while_held << " of 3 rounds\n";
}
