// Which BPF programs a process holds (from /proc/PID/fdinfo), and whether they still exist: a
// tracer's own programs, told apart from those of other tracers running on the host.
#pragma once

#include <bpf/bpf.h>
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <set>
#include <string>
#include <thread>

namespace pyat::test {

// Program IDs of the process's BPF fds (programs, and links: each names its program).
inline std::set<uint32_t> bpf_programs_held_by(pid_t pid) {
    std::set<uint32_t> ids;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
    DIR* d = opendir(dir.c_str());
    if (!d) return ids;
    while (dirent* e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream in(dir + "/" + e->d_name);
        std::string line;
        while (std::getline(in, line))
            if (line.rfind("prog_id:", 0) == 0) ids.insert(uint32_t(std::stoul(line.substr(8))));
    }
    closedir(d);
    return ids;
}

inline bool bpf_program_exists(uint32_t id) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd >= 0) close(fd);
    return fd >= 0;
}

// Polls until none of `ids` exists (their links and programs are freed shortly after the last fd
// closes); the ones left at the deadline.
inline std::set<uint32_t> bpf_programs_left(const std::set<uint32_t>& ids, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::set<uint32_t> left = ids;
    while (!left.empty()) {
        for (auto it = left.begin(); it != left.end();) it = bpf_program_exists(*it) ? std::next(it) : left.erase(it);
        if (left.empty() || std::chrono::steady_clock::now() > deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return left;
}

}  // namespace pyat::test
