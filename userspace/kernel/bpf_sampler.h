// The kernel side, loaded and attached: the pysample BPF programs, a cpu-clock perf event per
// CPU at --hz, the sched_switch hook for --clock wall, and the ring buffer they report through.
// Every BPF object, link and fd is owned here and released by the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernel/bpf_link_closer.h"
#include "abi/events.h"
#include "abi/maps.h"

struct pysample_bpf;
struct bpf_link;
struct ring_buffer;

namespace pyat {

struct SamplerConfig {
    unsigned hz = 99;
    bool off_cpu = false;       // --clock wall
    bool report_exec = false;   // emit EVENT_EXEC for every exec on the host (discovery)
    bool walk_every_park = false;  // greenlet: every parked stack (--group-by greenlet), not sampled
    uint64_t block_threshold_ns = 0;  // > 0: report Twisted threads busy this long between polls
    bool deferred_log = false;        // load the function__return program (Deferred lifecycle log)
    bool follow_forks = false;        // trace what traced processes fork (EVENT_FORK)
    // The map the programs record their holds in (BpfHoldMap: the hold guard reads it too);
    // -1: a map of the skeleton's own, read by no guard.
    int kernel_hold_map_fd = -1;
};

class BpfSampler {
public:
    // Called for every ring-buffer record: an event_header, followed by frames for samples.
    using EventHandler = std::function<void(const void* data, size_t size)>;

    BpfSampler(const SamplerConfig& config, EventHandler handler);  // throws pyat::Error
    ~BpfSampler();
    BpfSampler(const BpfSampler&) = delete;
    BpfSampler& operator=(const BpfSampler&) = delete;

    void add_process(pid_t pid, const py_process& process);
    void remove_process(pid_t pid);

    // The process imported Twisted: samples also carry inlineCallbacks awaited-by chains.
    void add_twisted(pid_t pid, const twisted_layout& layout);

    // Hooks generator.send and generator.throw (the C functions at (file, offset) as mapped by PID),
    // entry only, to time the suspensions of the process's inlineCallbacks generators
    // (EVENT_GENERATOR_WAIT); registers `layout` too. Throws pyat::Error.
    void attach_generator_steps(pid_t pid, const std::vector<std::pair<std::string, uint64_t>>& functions,
                                twisted_layout layout);
    uint64_t generator_steps() const;
    // What is parked right now (greenlets and suspended generators): (key, since ns).
    std::vector<std::pair<parked_key, uint64_t>> parked() const;

    // Attaches to CPython's function__return USDT probe in `binary` (the executable or libpython
    // holding the probe, as mapped by PID) to log the process's Deferred lifecycle (EVENT_DEFERRED).
    // Every Python return of the process then traps (~5 us each). Throws pyat::Error.
    void attach_deferred_log(pid_t pid, const std::string& binary, const deferred_log_layout& layout);
    // Same probe, before the process has imported Twisted's defer module: the process is stopped
    // (SIGSTOP) as that module's body returns, the stop is recorded in the kernel hold map and
    // EVENT_DEFER_IMPORTED says so; the caller registers the layout (attach_deferred_log) and lets
    // it go (BpfHoldMap::let_go). Throws pyat::Error.
    void watch_defer_import(pid_t pid, const std::string& binary, const deferred_import_watch& watch);
    uint64_t python_returns() const;

    // Hooks greenlet's switch function `symbol` in the extension at `path` (as mapped by PID) for
    // that process; its switches arrive as EVENT_GREENLET_SWITCH. Throws pyat::Error.
    void attach_greenlet(pid_t pid, const std::string& path, const char* symbol, const greenlet_layout& layout);
    uint64_t greenlet_switches() const;
    uint64_t greenlet_unreadable() const;

    // Hooks the code type's destructor (the C function at `offset` in `file`, as mapped by PID),
    // so that the kernel forgets a code object as it is freed and names its reused address anew
    // (bpf/lib/code_names.bpf.h). Costs the target one trap per code object freed. Throws pyat::Error.
    void attach_code_dealloc(pid_t pid, const std::string& file, uint64_t offset);
    // Whether the kernel still names `code` of PID by `generation` (it has not been freed since).
    bool code_still_named(pid_t pid, uint64_t code, uint32_t generation) const;
    // Code objects named but not sent (ring buffer full).
    uint64_t code_names_lost() const;

    int epoll_fd() const;
    // Hands pending records to the handler; waits up to timeout_ms (0: don't wait).
    void poll(int timeout_ms);

    // Stop sampling: detach every program (the ring buffer stays readable for a final poll).
    void detach();
    // Frees every BPF object (the counters are gone too): only the destructor may follow.
    void unload();

    // Threads that are off-CPU right now (wall clock): their stack and since when.
    // Records are handed to `handler` as EVENT_OFFCPU with weight_ns up to `now_ns`.
    void flush_off_cpu(uint64_t now_ns);

    // A thread already off-CPU when tracing began: charge it from `since_ns` at this stack when
    // it comes back (unless the kernel has recorded a newer switch-out meanwhile).
    void seed_off_cpu(const py_sample& sample, uint64_t since_ns);

    uint64_t lost_samples() const;
    uint64_t lost_off_cpu() const;
    uint64_t kernel_samples() const;

private:
    uint64_t counter(uint32_t index) const;
    static int on_record(void* ctx, void* data, size_t size);
    void attach_function_return(pid_t pid, const std::string& binary);  // once per process

    struct Deleters {
        void operator()(pysample_bpf* p) const;
        void operator()(bpf_link* p) const;
        void operator()(ring_buffer* p) const;
    };

    EventHandler handler_;
    std::unique_ptr<pysample_bpf, Deleters> skel_;
    std::vector<std::unique_ptr<bpf_link, Deleters>> links_;
    std::unique_ptr<ring_buffer, Deleters> ring_;
    std::map<pid_t, std::unique_ptr<bpf_link, Deleters>> greenlet_links_;
    std::map<pid_t, std::vector<std::unique_ptr<bpf_link, Deleters>>> step_links_;
    std::map<pid_t, std::unique_ptr<bpf_link, Deleters>> return_links_;
    std::map<pid_t, std::unique_ptr<bpf_link, Deleters>> dealloc_links_;
    BpfLinkCloser closer_;  // the hooks of processes no longer traced, detached in the background
};

}  // namespace pyat
