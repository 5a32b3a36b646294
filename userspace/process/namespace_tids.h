// A process's thread IDs as its own PID namespace numbers them (inside a container: what gettid()
// returned to its threads, hence CPython's native_thread_id and threading's native_id), mapped to
// the host's TIDs, which the kernel, /proc and the BPF programs use.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pyat {

// The IDs on the "NSpid:" line of a /proc/PID/status text, outermost (as /proc's namespace sees it)
// first, innermost (as the process itself sees it) last; empty when the line is missing or malformed.
std::vector<uint32_t> parse_nspid(std::string_view status);

class NamespaceTids {
public:
    // Reads /proc/PID/status, and when the process lives in a PID namespace of its own, the status
    // of each of its threads.
    explicit NamespaceTids(pid_t pid);

    // Re-reads the threads (those started since; those gone are forgotten). No-op outside a
    // namespace.
    void refresh();
    // The host TID of the thread the process knows as `namespaced`, as of the last read; 0 when
    // it has no such thread. The identity for a process in the host's PID namespace.
    uint32_t host_tid(uint32_t namespaced) const;
    bool nested() const { return nested_; }

private:
    pid_t pid_;
    bool nested_ = false;
    std::unordered_map<uint32_t, uint32_t> host_of_;  // namespaced TID -> host TID
};

}  // namespace pyat
