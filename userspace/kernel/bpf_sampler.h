// The kernel side, loaded and attached: the pysample BPF programs, a cpu-clock perf event per
// CPU at --hz, the sched_switch hook for --clock wall, the ring buffer they report through, and
// the hooks the runtimes ask for (KernelHooks).
// Every BPF object, link and fd is owned here and released by the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kernel/bpf_link_closer.h"
#include "kernel/kernel_hooks.h"
#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"

struct pysample_bpf;
struct bpf_link;
struct bpf_program;
struct bpf_map;
struct ring_buffer;

namespace pyat {

struct SamplerConfig {
    unsigned hz = 99;
    bool off_cpu = false;       // --clock wall
    bool report_exec = false;   // emit EVENT_EXEC for every exec on the host (discovery)
    // --clock cpu: a sample in an asyncio task wakes the reader, which reads that task alone while
    // it likely still lives (in --clock wall the scans charge waits, and scans timed by samples
    // would see the loop when it runs, not at random).
    bool wake_on_task_samples = false;
    bool walk_every_park = false;  // greenlet: every parked stack (--group-by greenlet), not sampled
    uint64_t block_threshold_ns = 0;  // > 0: report Twisted threads busy this long between polls
    // Programs loaded only when a runtime asks (on_demand_programs in bpf_sampler.cpp), e.g.
    // on_python_return for Twisted's Deferred lifecycle log.
    std::set<std::string, std::less<>> on_demand;
    bool follow_forks = false;        // trace what traced processes fork (EVENT_FORK)
    // The map the programs record their holds in (BpfHoldMap: the hold guard reads it too);
    // -1: a map of the skeleton's own, read by no guard.
    int kernel_hold_map_fd = -1;
};

class BpfSampler final : public KernelHooks {
public:
    // Called for every ring-buffer record: an event_header, followed by frames for samples.
    using EventHandler = std::function<void(const void* data, size_t size)>;

    BpfSampler(const SamplerConfig& config, EventHandler handler);  // throws pyat::Error

    // Of `names`, those that are neither a program nor a map of the sampling BPF object (opened,
    // not loaded: no privileges needed). Throws pyat::Error if it cannot be opened.
    static std::vector<std::string> undefined(const std::vector<std::string_view>& names);
    ~BpfSampler();
    BpfSampler(const BpfSampler&) = delete;
    BpfSampler& operator=(const BpfSampler&) = delete;

    // The kernel knows the process from now (hooks may read its entry); it is sampled now, or
    // (`after_looks`) from sample_from_now(), once its runtimes have told the kernel their layouts.
    enum class Sampling { now, after_looks };
    void add_process(pid_t pid, const py_process& process, Sampling sampling = Sampling::now);
    void sample_from_now(pid_t pid);
    void remove_process(pid_t pid);

    std::vector<std::pair<parked_key, uint64_t>> parked() const override;

    // KernelHooks: what the runtimes attach (userspace/runtimes/*/), by program and map name.
    void wait_for_old_hooks(pid_t pid) override;
    std::string set_process_entry(std::string_view map, pid_t pid, const void* value, size_t size) override;
    void delete_process_entry(std::string_view map, pid_t pid) override;
    std::string attach_uprobe(std::string_view program, pid_t pid, const std::string& path, const std::string& symbol,
                              uint64_t offset) override;
    std::string attach_usdt(std::string_view program, pid_t pid, const std::string& path, const char* provider,
                            const char* name) override;
    bool attached(std::string_view program, pid_t pid) const override;
    void detach(std::string_view program, pid_t pid) override;
    uint64_t counter(uint32_t index) const override;

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
    uint64_t not_yet_sampled() const;  // samples not taken while processes' runtimes were looked for

private:
    static int on_record(void* ctx, void* data, size_t size);
    bpf_program* program(std::string_view name) const;
    bpf_map* map(std::string_view name) const;

    struct Deleters {
        void operator()(pysample_bpf* p) const;
        void operator()(bpf_link* p) const;
        void operator()(ring_buffer* p) const;
    };

    EventHandler handler_;
    std::unique_ptr<pysample_bpf, Deleters> skel_;
    std::vector<std::unique_ptr<bpf_link, Deleters>> links_;
    std::unique_ptr<ring_buffer, Deleters> ring_;
    // The runtimes' hooks: (PID, program) -> its links; the maps they keep process entries in.
    std::map<std::pair<pid_t, std::string>, std::vector<std::unique_ptr<bpf_link, Deleters>>, std::less<>> hooks_;
    std::set<std::string, std::less<>> process_maps_;
    std::map<pid_t, std::unique_ptr<bpf_link, Deleters>> dealloc_links_;
    BpfLinkCloser closer_;  // the hooks of processes no longer traced, detached in the background
};

}  // namespace pyat
