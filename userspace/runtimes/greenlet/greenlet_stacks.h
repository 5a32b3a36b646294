// greenlet's part of one traced process on the profile side, from its switch events: which
// greenlet each sample ran in (by its outermost frame, or the thread's current one), each parked
// greenlet's stack (charged, with --clock wall, from when it parked until it runs again), its
// group root with --group-by greenlet, and slices that ran too long without switching (blocking
// the hub; gevent's hub waiting for events is idle, not blocking).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "profile/runtime_stacks.h"
#include "profile/traced_process.h"
#include "runtimes/greenlet/gevent_description.h"
#include "runtimes/greenlet/greenlet_layout.h"

namespace pyat {

class GreenletStacks final : public RuntimeStacks {
public:
    // The process's switches are hooked: its layout lets us read suspended greenlets.
    void set_layout(const GreenletLayout* layout) { layout_ = layout; }

    bool on_record(TracedProcess& t, const py_sample& sample, size_t size) override;
    void on_cpu_stack(TracedProcess& t, const py_sample& sample, const Stack& frames) override;
    std::optional<uint32_t> group_root(TracedProcess& t, const py_sample& sample) override;
    void retire(TracedProcess& t, uint64_t end_ns) override;
    void finish(TracedProcess& t, uint64_t end_ns) override;
    void label_groups(TracedProcess& t) override;

private:
    struct Parked {
        uint32_t tid = 0;
        uint64_t since_ns = 0;  // the kernel sends the parked stack when the greenlet resumes
    };
    void on_switch(TracedProcess& t, const py_sample& event);
    void end_slice(TracedProcess& t, uint32_t tid, uint64_t greenlet, uint64_t end_ns, bool ongoing);
    void charge_parked(TracedProcess& t, uint64_t end_ns);
    void charge_idle_main_greenlets(TracedProcess& t, uint64_t end_ns);
    bool is_hub(TracedProcess& t, uint64_t greenlet);
    void note_hub(TracedProcess& t, uint64_t greenlet, uint32_t tid, const Stack& frames);
    void note_run_function(TracedProcess& t, uint64_t greenlet, const Stack& frames);
    uint64_t greenlet_of(const py_sample& sample) const;  // 0: unknown
    uint32_t greenlet_frame(TracedProcess& t, uint64_t greenlet);
    uint32_t serial_of(uint64_t greenlet);
    std::string label(uint32_t serial) const;

    const GreenletLayout* layout_ = nullptr;
    const GeventDescription& gevent_ = gevent_description();
    std::unordered_map<uint32_t, uint64_t> current_;      // tid -> running PyGreenlet*
    std::unordered_map<uint32_t, uint64_t> slice_start_;  // tid -> when it started running
    std::unordered_map<uint32_t, std::deque<Stack>> slice_samples_;  // tid -> stacks sampled since
    std::unordered_map<uint64_t, Parked> parked_;         // PyGreenlet* -> on which thread, since when
    std::unordered_map<uint64_t, uint32_t> serial_;       // live PyGreenlet* -> its number
    std::unordered_map<uint32_t, std::string> run_name_;  // number -> its run function
    std::unordered_map<uint32_t, uint32_t> frames_;       // number -> its root frame
    std::unordered_map<uint64_t, uint64_t> remainder_;    // PyGreenlet* -> ns*hz not yet a sample
    std::unordered_set<uint64_t> hubs_;                   // gevent's hub: idle waiting is not blocking
    std::unordered_set<uint32_t> hub_threads_;            // threads that run a hub
    std::unordered_map<uint32_t, uint64_t> thread_main_;  // tid -> impl of its main greenlet
    // A greenlet's frame chain ends at its own first frame, whose address stays put while it
    // lives: samples are told apart by it exactly, even mid-switch.
    std::unordered_map<uint64_t, uint64_t> by_base_;      // outermost frame -> PyGreenlet*
    std::unordered_map<uint64_t, uint64_t> base_of_;      // PyGreenlet* -> outermost frame
    uint32_t next_serial_ = 1;
};

}  // namespace pyat
