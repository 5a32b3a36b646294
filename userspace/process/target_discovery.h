// Finding the CPython processes to trace while a run goes on: every one on the host, or the
// descendants of a launched command. New processes are noticed from exec events (reported by
// the BPF programs) and from a periodic /proc scan that catches anything the events missed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cpython/python_process.h"

namespace pyat {

class TargetDiscovery {
public:
    using Clock = std::chrono::steady_clock;
    // all_processes: every CPython on the host; descendants: `root` and every process under it;
    // root_only: `root` again after it exec'd another program (no /proc scan).
    enum class Scope { all_processes, descendants, root_only };

    // `root`: the launched command's or attached process's PID (the root itself included).
    TargetDiscovery(Scope scope, pid_t root, pid_t self);

    void note_exec(pid_t pid);

    struct Found {
        PythonProcess process;
        bool at_exec = false;  // noticed as it exec'd: its program has not imported anything of its own yet
    };
    // New CPython processes found since the last call. `traced` says which PIDs are traced already.
    std::vector<Found> poll(const std::function<bool(pid_t)>& traced);

    // Whether a process that exec'd is waiting for its next look (a few ms away).
    bool retrying() const { return !candidates_.empty(); }

    // CPython processes found but not traced (e.g. an unsupported version), one line each,
    // reported once per process.
    std::vector<std::string> take_notes();

private:
    struct Candidate {
        Clock::time_point next_try;
        Clock::time_point give_up;
        bool at_exec = false;
    };
    bool in_scope(pid_t pid) const;
    void scan_proc(const std::function<bool(pid_t)>& traced, Clock::time_point now);

    Scope scope_;
    pid_t root_;
    pid_t self_;
    std::map<pid_t, Candidate> candidates_;
    std::map<pid_t, std::string> rejected_;  // pid -> executable when it was found not to be CPython
    Clock::time_point next_scan_{};
    std::vector<std::string> notes_;
};

}  // namespace pyat
