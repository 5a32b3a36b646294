#include "process/target_discovery.h"

#include <dirent.h>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

namespace pyat {

namespace {
using namespace std::chrono_literals;
constexpr auto scan_interval = 1s;       // full /proc rescan
constexpr auto retry_interval = 5ms;     // a process that just exec'd: libpython may not be mapped yet
constexpr auto retry_window = 2s;
}  // namespace

TargetDiscovery::TargetDiscovery(Scope scope, pid_t root, pid_t self)
    : scope_(scope), root_(root), self_(self) {}

bool TargetDiscovery::in_scope(pid_t pid) const {
    if (pid == self_) return false;
    if (scope_ == Scope::all_processes) return true;
    if (scope_ == Scope::root_only) return pid == root_;
    for (int depth = 0; pid > 1 && depth < 64; depth++) {
        if (pid == root_) return true;
        pid = parent_of(pid);
    }
    return false;
}

void TargetDiscovery::note_exec(pid_t pid) {
    auto now = Clock::now();
    rejected_.erase(pid);  // a new program now
    candidates_[pid] = {now, now + retry_window, true};
}

void TargetDiscovery::scan_proc(const std::function<bool(pid_t)>& traced, Clock::time_point now) {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc"), closedir);
    if (!dir) return;
    while (dirent* e = readdir(dir.get())) {
        char* end = nullptr;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || traced(pid_t(pid)) || candidates_.count(pid_t(pid))) continue;
        auto rejected = rejected_.find(pid_t(pid));
        if (rejected != rejected_.end() && rejected->second == read_executable(pid_t(pid))) continue;
        candidates_[pid_t(pid)] = {now, now};  // one try
    }
}

std::vector<TargetDiscovery::Found> TargetDiscovery::poll(const std::function<bool(pid_t)>& traced) {
    auto now = Clock::now();
    if (now >= next_scan_ && scope_ != Scope::root_only) {
        scan_proc(traced, now);
        next_scan_ = now + scan_interval;
    }
    std::vector<Found> found;
    for (auto it = candidates_.begin(); it != candidates_.end();) {
        auto& [pid, c] = *it;
        if (c.next_try > now) {
            ++it;
            continue;
        }
        if (traced(pid) || !process_exists(pid) || !in_scope(pid)) {
            it = candidates_.erase(it);
            continue;
        }
        std::string why;
        if (auto process = try_inspect_python_process(pid, &why)) {
            found.push_back({std::move(*process), c.at_exec});
            it = candidates_.erase(it);
        } else if (why.find("does not support") != std::string::npos) {
            notes_.push_back("not tracing: " + why);
            rejected_[pid] = read_executable(pid);
            it = candidates_.erase(it);
        } else if (now + retry_interval < c.give_up) {
            c.next_try = now + retry_interval;
            ++it;
        } else {
            rejected_[pid] = read_executable(pid);
            it = candidates_.erase(it);
        }
    }
    return found;
}

std::vector<std::string> TargetDiscovery::take_notes() { return std::exchange(notes_, {}); }

}  // namespace pyat
