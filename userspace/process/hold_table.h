// The holds the tracer has on processes (a SIGSTOP, the launched command's pre-exec gate), kept in
// memory shared with the hold guard (hold_guard.h), so that it can let go of each one when the
// tracer cannot.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <vector>

namespace pyat {

enum class HoldKind : uint32_t {
    stopped = 1,  // stopped (SIGSTOP) by the tracer: let go with SIGCONT
    gate = 2,     // the launched command waits before exec for one byte on `fd` (a socket: its other end)
};

// How long a hold may last, whatever the tracer does (the hold guard enforces it).
struct HoldBound {
    uint64_t ns;
};

// One hold. Its state word holds a generation (bumped each time the slot is taken) and a state,
// so that the guard never lets go of a later hold that reused the slot.
struct HoldRecord {
    std::atomic<uint64_t> word{0};  // generation << 32 | state
    std::atomic<uint32_t> kind{0};
    std::atomic<int32_t> pid{0};
    std::atomic<int32_t> fd{-1};
    std::atomic<uint64_t> since_ns{0};  // CLOCK_MONOTONIC
    std::atomic<uint64_t> bound_ns{0};
};

// What the guard sees of a hold at one moment.
struct HoldSnapshot {
    size_t slot;
    uint64_t word;
    HoldKind kind;
    pid_t pid;
    int fd;
    uint64_t since_ns, bound_ns;
};

class HoldTable {
public:
    static constexpr size_t capacity = 64;

    HoldTable();  // an anonymous shared mapping: the processes forked afterwards share it
    ~HoldTable();
    HoldTable(const HoldTable&) = delete;
    HoldTable& operator=(const HoldTable&) = delete;

    // The tracer, BEFORE it holds anything: records the hold (from now, for at most `bound`).
    // Throws pyat::Error when the table is full.
    HoldRecord& hold(HoldKind kind, pid_t pid, int fd, HoldBound bound);
    // The pid becomes known once the process exists (a gate is recorded before the fork).
    static void set_pid(HoldRecord& r, pid_t pid) { r.pid.store(pid, std::memory_order_release); }

    // The tracer lets go: a stopped process gets SIGCONT (always: if the guard let go already, a
    // second one does no harm), a gate its byte (only if the guard has not written it).
    // Returns false when the guard had let go first. The record is free again afterwards.
    bool let_go(HoldRecord& r);
    // The tracer drops a hold without letting go (it killed the held process).
    void drop(HoldRecord& r);
    // Did the guard let go of this hold (still recorded)?
    static bool let_go_by_guard(const HoldRecord& r);

    // The guard's side: the holds in force, and letting go of one (false: the tracer did, or the
    // slot holds another hold by now).
    std::vector<HoldSnapshot> held() const;
    bool guard_let_go(const HoldSnapshot& hold);

    // The file descriptors the guard needs (gates' write ends), for it to keep across its fork.
    std::vector<int> fds() const;

private:
    HoldRecord* records_ = nullptr;
};

// What letting go of a hold does (SIGCONT or the gate's byte), for the tracer and the guard alike.
void release_hold(HoldKind kind, pid_t pid, int fd);

}  // namespace pyat
