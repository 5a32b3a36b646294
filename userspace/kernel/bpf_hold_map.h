// The processes the BPF programs stopped (SIGSTOP) for the tracer: a BPF hash map, tgid -> when
// (CLOCK_MONOTONIC ns), created before the hold guard starts so that both can let go of them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace pyat {

class BpfHoldMap {
public:
    static constexpr uint32_t capacity = 256;  // as kernel_holds in bpf/twisted/deferred_log.bpf.h

    BpfHoldMap();  // throws pyat::Error
    // Adopts an fd of such a map (the guard's copy); -1: no map (nothing is ever held).
    explicit BpfHoldMap(int fd);
    ~BpfHoldMap();  // the tracer's map lets go of whatever is still held
    BpfHoldMap(const BpfHoldMap&) = delete;
    BpfHoldMap& operator=(const BpfHoldMap&) = delete;

    int fd() const { return fd_.get(); }

    // Lets the process go on (SIGCONT) if it is still held: false when someone else let go first.
    bool let_go(pid_t pid);
    // Every process held, with since when.
    std::vector<std::pair<pid_t, uint64_t>> held() const;
    void let_go_all();
    // Adopted copies (the guard's) do not let go on destruction.
    void forget() { owner_ = false; }

private:
    UniqueFd fd_;
    bool owner_ = true;
};

}  // namespace pyat
