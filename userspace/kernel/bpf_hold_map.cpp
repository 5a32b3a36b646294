#include "kernel/bpf_hold_map.h"

#include <bpf/bpf.h>
#include <fmt/format.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace pyat {

BpfHoldMap::BpfHoldMap() {
    int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "kernel_holds", sizeof(uint32_t), sizeof(uint64_t), capacity, nullptr);
    if (fd < 0) throw Error(fmt::format("cannot create a BPF map: {}", strerror(errno)));
    fd_.reset(fd);
}

BpfHoldMap::BpfHoldMap(int fd) : fd_(fd), owner_(false) {}

BpfHoldMap::~BpfHoldMap() {
    if (owner_ && fd_) let_go_all();
}

bool BpfHoldMap::let_go(pid_t pid) {
    if (!fd_) return false;
    uint32_t key = uint32_t(pid);
    // Deleting is the claim: of the tracer and the guard, only the one that deletes continues it.
    // (The program records a hold after its SIGSTOP, so a recorded process is stopped or about
    // to be, and SIGCONT also cancels a stop still pending.)
    if (bpf_map_delete_elem(fd_.get(), &key) != 0) return false;
    kill(pid, SIGCONT);
    return true;
}

std::vector<std::pair<pid_t, uint64_t>> BpfHoldMap::held() const {
    std::vector<std::pair<pid_t, uint64_t>> out;
    if (!fd_) return out;
    uint32_t key = 0, next = 0;
    uint32_t* prev = nullptr;
    while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0 && out.size() <= capacity) {
        uint64_t since = 0;
        if (bpf_map_lookup_elem(fd_.get(), &next, &since) == 0) out.emplace_back(pid_t(next), since);
        key = next;
        prev = &key;
    }
    return out;
}

void BpfHoldMap::let_go_all() {
    for (const auto& [pid, since] : held()) let_go(pid);
}

}  // namespace pyat
