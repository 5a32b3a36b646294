// Watching other processes from a test: their state (/proc/PID/stat), their children, and
// adopting the orphans a killed process leaves behind (to reap them).
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pyat::test {

// /proc/PID/stat's state letter (R, S, D, T, t, Z...), 0 once the process is gone.
inline char process_state(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    auto paren = stat.rfind(')');
    return paren == std::string::npos || paren + 2 >= stat.size() ? 0 : stat[paren + 2];
}
inline bool is_stopped(pid_t pid) {
    char s = process_state(pid);
    return s == 'T' || s == 't';
}
inline bool is_running(pid_t pid) {  // running or sleeping, not stopped, not gone
    char s = process_state(pid);
    return s == 'S' || s == 'R' || s == 'D';
}

inline std::string process_name(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
    std::string name;
    std::getline(in, name);
    return name;
}

inline std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    for (pid_t child; in >> child;) out.push_back(child);
    return out;
}

// Polls every millisecond until `done` or the timeout; true if done.
inline bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// While it lives, the test process adopts the orphans of the processes it started (a killed
// tracer's guard and command); at the end it kills and reaps every child left.
struct Subreaper {
    Subreaper() { prctl(PR_SET_CHILD_SUBREAPER, 1); }
    ~Subreaper() {
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        for (pid_t child : children_of(getpid())) kill(child, SIGKILL);
        while (waitpid(-1, nullptr, 0) > 0) {
        }
    }
    Subreaper(const Subreaper&) = delete;
    Subreaper& operator=(const Subreaper&) = delete;
};

}  // namespace pyat::test
