#include "process/hold_table.h"

#include <fmt/format.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "base/error.h"
#include "base/run_clock.h"

namespace pyat {

namespace {

enum State : uint32_t {
    state_free = 0,
    state_claimed = 1,  // being filled by the tracer
    state_held = 2,
    state_let_go = 3,   // the guard let go; the tracer frees the slot when it comes to it
};

uint32_t state_of(uint64_t word) { return uint32_t(word); }
uint64_t generation_of(uint64_t word) { return word >> 32; }
uint64_t make_word(uint64_t generation, uint32_t state) { return generation << 32 | state; }

}  // namespace

void release_hold(HoldKind kind, pid_t pid, int fd) {
    if (kind == HoldKind::stopped) {
        if (pid > 0) kill(pid, SIGCONT);
    } else if (kind == HoldKind::gate) {
        char go = 1;
        ssize_t ignored = send(fd, &go, 1, MSG_NOSIGNAL | MSG_DONTWAIT);  // EPIPE: the command is gone
        (void)ignored;
    }
}

HoldTable::HoldTable() {
    void* p = mmap(nullptr, sizeof(HoldRecord) * capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw Error(fmt::format("cannot map memory for the hold guard: {}", strerror(errno)));
    records_ = static_cast<HoldRecord*>(p);
    for (size_t i = 0; i < capacity; i++) new (&records_[i]) HoldRecord();
}

HoldTable::~HoldTable() { munmap(records_, sizeof(HoldRecord) * capacity); }

HoldRecord& HoldTable::hold(HoldKind kind, pid_t pid, int fd, HoldBound bound) {
    for (size_t i = 0; i < capacity; i++) {
        HoldRecord& r = records_[i];
        uint64_t word = r.word.load(std::memory_order_acquire);
        if (state_of(word) != state_free) continue;
        if (!r.word.compare_exchange_strong(word, make_word(generation_of(word) + 1, state_claimed))) continue;
        r.kind.store(uint32_t(kind), std::memory_order_relaxed);
        r.pid.store(pid, std::memory_order_relaxed);
        r.fd.store(fd, std::memory_order_relaxed);
        r.since_ns.store(monotonic_ns(), std::memory_order_relaxed);
        r.bound_ns.store(bound.ns, std::memory_order_relaxed);
        r.word.store(make_word(generation_of(word) + 1, state_held), std::memory_order_release);
        return r;
    }
    throw Error("too many holds at once for the hold guard");
}

bool HoldTable::let_go(HoldRecord& r) {
    const auto kind = HoldKind(r.kind.load(std::memory_order_relaxed));
    const pid_t pid = r.pid.load(std::memory_order_acquire);
    const int fd = r.fd.load(std::memory_order_relaxed);
    uint64_t word = r.word.load(std::memory_order_acquire);
    if (kind == HoldKind::stopped) {
        // SIGCONT first: were the tracer to die right after freeing the slot, the guard would
        // never know the process had been stopped.
        release_hold(kind, pid, fd);
        word = r.word.exchange(make_word(generation_of(word), state_free), std::memory_order_acq_rel);
        return state_of(word) == state_held;
    }
    // A gate gets exactly one byte: a second write after the command's exec would raise SIGPIPE.
    // (Were the tracer to die between the exchange and the write, the command sees the gate's
    // end of file once the guard is gone too, and runs.)
    if (state_of(word) == state_held &&
        r.word.compare_exchange_strong(word, make_word(generation_of(word), state_free), std::memory_order_acq_rel)) {
        release_hold(kind, pid, fd);
        return true;
    }
    r.word.store(make_word(generation_of(word), state_free), std::memory_order_release);
    return false;
}

void HoldTable::drop(HoldRecord& r) {
    uint64_t word = r.word.load(std::memory_order_acquire);
    r.word.store(make_word(generation_of(word), state_free), std::memory_order_release);
}

bool HoldTable::let_go_by_guard(const HoldRecord& r) {
    return state_of(r.word.load(std::memory_order_acquire)) == state_let_go;
}

std::vector<HoldSnapshot> HoldTable::held() const {
    std::vector<HoldSnapshot> out;
    for (size_t i = 0; i < capacity; i++) {
        const HoldRecord& r = records_[i];
        uint64_t word = r.word.load(std::memory_order_acquire);
        if (state_of(word) != state_held) continue;
        HoldSnapshot s{i,
                       word,
                       HoldKind(r.kind.load(std::memory_order_relaxed)),
                       r.pid.load(std::memory_order_acquire),
                       r.fd.load(std::memory_order_relaxed),
                       r.since_ns.load(std::memory_order_relaxed),
                       r.bound_ns.load(std::memory_order_relaxed)};
        if (r.word.load(std::memory_order_acquire) != word) continue;  // changed while read
        out.push_back(s);
    }
    return out;
}

bool HoldTable::guard_let_go(const HoldSnapshot& hold) {
    if (hold.slot >= capacity) return false;
    HoldRecord& r = records_[hold.slot];
    uint64_t expected = hold.word;
    if (!r.word.compare_exchange_strong(expected, make_word(generation_of(hold.word), state_let_go),
                                        std::memory_order_acq_rel))
        return false;
    // The pid may have been set since the snapshot (a gate is recorded before its fork).
    release_hold(hold.kind, r.pid.load(std::memory_order_acquire), hold.fd);
    return true;
}

std::vector<int> HoldTable::fds() const {
    std::vector<int> out;
    for (const auto& h : held())
        if (h.fd >= 0) out.push_back(h.fd);
    return out;
}

}  // namespace pyat
