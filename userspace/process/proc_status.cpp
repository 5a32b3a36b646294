#include "process/proc_status.h"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "process/target_file.h"

namespace pyat {

namespace {

// The target of a /proc link (e.g. /proc/PID/exe), "" if unreadable.
std::string read_link(const std::string& link) {
    std::vector<char> buf(4096);
    ssize_t n = readlink(link.c_str(), buf.data(), buf.size());
    if (n <= 0 || size_t(n) >= buf.size()) return "";
    return std::string(buf.data(), size_t(n));
}

}  // namespace

std::string read_small_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool process_exists(pid_t pid) {
    if (pid <= 0) return false;
    if (kill(pid, 0) != 0 && errno == ESRCH) return false;
    std::string stat = read_small_file(fmt::format("/proc/{}/stat", pid));
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    char state = stat[paren + 2];
    return state != 'Z' && state != 'X';
}

pid_t parent_of(pid_t pid) {
    std::string stat = read_small_file(fmt::format("/proc/{}/stat", pid));
    auto paren = stat.rfind(')');  // the name may hold spaces and parentheses
    if (paren == std::string::npos) return 0;
    char state = 0;
    int ppid = 0;
    if (sscanf(stat.c_str() + paren + 1, " %c %d", &state, &ppid) != 2) return 0;
    return pid_t(ppid);
}

std::string read_command_line(pid_t pid) {
    std::string raw = read_small_file(fmt::format("/proc/{}/cmdline", pid));
    while (!raw.empty() && raw.back() == '\0') raw.pop_back();
    for (auto& c : raw)
        if (c == '\0') c = ' ';
    return raw;
}

std::string executable_in_maps(pid_t pid) { return read_link(fmt::format("/proc/{}/exe", pid)); }

std::string read_executable(pid_t pid) { return without_deleted_suffix(executable_in_maps(pid)); }

std::string read_comm(pid_t pid) {
    std::string comm = read_small_file(fmt::format("/proc/{}/comm", pid));
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    return comm;
}

}  // namespace pyat
