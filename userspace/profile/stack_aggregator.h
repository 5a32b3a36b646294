// Turns kernel events into the aggregated Profile: one ProcessProfile per traced process,
// code objects resolved while the process is alive, off-CPU time converted to samples.
// With greenlet switch events it also keeps each greenlet's parked stack (charged, in wall mode,
// from when it parked until it runs again) and reports greenlets that ran too long without
// switching (blocking the hub).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "cpython/code_resolver.h"
#include "runtimes/twisted/deferred_log.h"
#include "runtimes/greenlet/greenlet_layout.h"
#include "runtimes/twisted/inline_callbacks_stacks.h"
#include "profile/profile.h"
#include "abi/code_names.h"
#include "abi/events.h"
#include "cpython/python_process.h"
#include "cpython/thread_names.h"

namespace pyat {

struct AggregatorConfig {
    Clock clock = Clock::cpu;
    unsigned hz = 99;
    GroupBy group_by = GroupBy::code;
    uint64_t block_threshold_ns = 0;  // 0: no blocking report
    bool raw_stacks = false;          // --raw-stacks: no logical inlineCallbacks stacks
};

class StackAggregator {
public:
    explicit StackAggregator(const AggregatorConfig& config) : config_(config) {}

    // `added_ns`: when tracing it began (CLOCK_MONOTONIC); `code_type` and `still_named`: see
    // CodeResolver.
    void add_process(const PythonProcess& process, uint64_t added_ns = 0, uint64_t code_type = 0,
                     CodeResolver::StillNamed still_named = {});
    // A code object named by the kernel (PYAT_EVENT_CODE_NAME); `size`: the record's.
    void learn_code(const code_name_event& event, size_t size);
    // The process's code resolver (nullptr: not traced), e.g. to name stacks read from userspace.
    CodeResolver* resolver_of(pid_t pid);
    // Frames that could not be named, over every process (placeholders such as "[code object ...]").
    uint64_t unresolved_frames() const;
    // The process's greenlet switches are hooked: its layout lets us read suspended greenlets.
    void set_greenlet_layout(pid_t pid, const GreenletLayout* layout);
    // The process has imported Twisted: its inlineCallbacks stacks are made logical.
    void set_twisted(pid_t pid, const TwistedDescription& description);
    // The process's Deferred lifecycle is hooked: EVENT_DEFERRED records become its log.
    void enable_deferred_log(pid_t pid);
    bool has_process(pid_t pid) const { return processes_.count(pid) != 0; }
    // The traced process's description (nullptr: not traced).
    const PythonProcess* process_of(pid_t pid) const;
    // The process no longer runs what it was traced as (it exec'd another program): what was
    // collected is kept as it is, nothing more is read from its memory, and the PID is free to be
    // traced again as the new program.
    void retire(pid_t pid, uint64_t end_ns);

    // One EVENT_CPU_SAMPLE, EVENT_OFFCPU or EVENT_GREENLET_SWITCH record (header plus
    // hdr.nframes frames).
    void add_sample(const py_sample& sample);

    // End of the run: an inlineCallbacks generator still suspended since `since_ns` (ignored unless
    // it is one whose waits were seen: then its logical stack is known but for its own frame).
    void charge_suspended_generator(pid_t pid, uint64_t generator, uint64_t since_ns, uint64_t end_ns);

    // Periodic upkeep while the run goes on (re-reads thread names now and then).
    void poll();
    // Blocking slices found since the last call (to show them as they happen).
    std::vector<BlockingSlice> take_new_blocking();

    // End of the run at `end_ns` (CLOCK_MONOTONIC): parked greenlets are charged up to it and
    // slices still running past the threshold are reported.
    void finish(uint64_t end_ns);

    uint64_t samples() const { return samples_; }
    size_t process_count() const { return processes_.size(); }

    // The processes in the order they were added; moves the data out.
    std::vector<ProcessProfile> take_profiles();
    std::vector<BlockingSlice> take_blocking() { return std::move(blocking_); }
    // The Deferred lifecycle logs (after finish: with the Deferreds still pending), per process in
    // time order; *dropped gets how many entries did not fit (DeferredLog::max_events).
    std::vector<DeferredEvent> take_deferred_events(uint64_t* dropped);

private:
    struct Parked {
        uint32_t tid = 0;
        uint64_t since_ns = 0;  // the kernel sends the parked stack when the greenlet resumes
    };
    // What the greenlet switch events tell about one process.
    struct Greenlets {
        std::unordered_map<uint32_t, uint64_t> current;      // tid -> running PyGreenlet*
        std::unordered_map<uint32_t, uint64_t> slice_start;  // tid -> when it started running
        std::unordered_map<uint32_t, std::deque<Stack>> slice_samples;  // tid -> stacks sampled since
        std::unordered_map<uint64_t, Parked> parked;         // PyGreenlet* -> on which thread, since when
        std::unordered_map<uint64_t, uint32_t> serial;       // live PyGreenlet* -> its number
        std::unordered_map<uint32_t, std::string> run_name;  // number -> its run function
        std::unordered_map<uint32_t, uint32_t> frames;       // number -> its root frame
        std::unordered_map<uint64_t, uint64_t> remainder;    // PyGreenlet* -> ns*hz not yet a sample
        std::unordered_set<uint64_t> hubs;                   // gevent's hub: idle waiting is not blocking
        std::unordered_set<uint32_t> hub_threads;            // threads that run a hub
        std::unordered_map<uint32_t, uint64_t> thread_main;  // tid -> impl of its main greenlet
        // A greenlet's frame chain ends at its own first frame, whose address stays put while it
        // lives: samples are told apart by it exactly, even mid-switch.
        std::unordered_map<uint64_t, uint64_t> by_base;      // outermost frame -> PyGreenlet*
        std::unordered_map<uint64_t, uint64_t> base_of;      // PyGreenlet* -> outermost frame
        uint32_t next_serial = 1;
    };
    struct Traced {
        PythonProcess process;
        CodeResolver resolver;
        ProcessProfile profile;
        std::unordered_map<uint32_t, uint64_t> offcpu_remainder;  // tid -> ns*hz not yet a sample
        ThreadNames thread_names;
        std::unordered_map<uint32_t, uint32_t> thread_frames;  // tid -> its root frame (group by thread)
        std::chrono::steady_clock::time_point names_read{};
        Greenlets greenlets;
        const GreenletLayout* greenlet_layout = nullptr;
        std::optional<InlineCallbacksStacks> inline_callbacks;
        std::string defer_file;  // Twisted's defer.py (path suffix): hidden from lifecycle log stacks
        std::optional<DeferredLog> deferred_log;
        // Lifecycle log stacks, shared by the entries logged at the same stack.
        std::unordered_map<Stack, std::shared_ptr<const std::vector<std::string>>, StackHash> lifecycle_stacks;
        uint64_t generator_wait_remainder = 0;  // ns*hz of generator waits not yet a sample
        // generator -> (thread, the logical stack below its own frame) at its last wait seen
        std::unordered_map<uint64_t, std::pair<uint32_t, Stack>> waiting_generators;
        // Twisted blocking report: recent CPU samples per thread, and the threads seen in a reactor.
        std::unordered_map<uint32_t, std::deque<std::pair<uint64_t, Stack>>> recent_samples;
        std::unordered_set<uint32_t> reactor_threads;
        uint64_t added_ns = 0;
        bool retired = false;  // exec'd another program: its memory is no longer this process's
    };
    void charge_idle_main_greenlets(Traced& t, uint64_t end_ns);
    bool is_hub(Traced& t, uint64_t greenlet);
    void note_hub(Traced& t, uint64_t greenlet, uint32_t tid, const Stack& frames);

    uint64_t ticks(uint64_t ns, uint64_t& remainder) const;
    // The sample's stack (root first) from its frames, starting at frames[first] (innermost).
    Stack frames_of(Traced& t, const py_sample& sample, size_t first = 0);
    bool resumed_by_generator_end(Traced& t, const py_sample& sample);
    void add(Traced& t, std::optional<uint32_t> root, const Stack& frames, uint64_t weight);
    std::optional<uint32_t> root_for(Traced& t, const py_sample& sample);
    uint64_t greenlet_of(Traced& t, const py_sample& sample) const;  // 0: unknown
    uint32_t thread_frame(Traced& t, uint32_t tid);
    uint32_t greenlet_frame(Traced& t, uint64_t greenlet);
    uint32_t greenlet_serial(Traced& t, uint64_t greenlet);
    std::string greenlet_label(Traced& t, uint32_t serial) const;
    void note_run_function(Traced& t, uint64_t greenlet, const Stack& frames);
    void on_greenlet_switch(Traced& t, const py_sample& event);
    void end_slice(Traced& t, uint32_t tid, uint64_t greenlet, uint64_t end_ns, bool ongoing);
    void on_deferred_event(Traced& t, const py_sample& event);
    void on_reactor_busy(Traced& t, uint32_t tid, uint64_t start_ns, uint64_t duration_ns);
    void report_slice(Traced& t, uint32_t tid, std::string who, const char* what, uint64_t start_ns,
                      uint64_t duration_ns, bool ongoing, const std::deque<Stack>& samples);
    void refresh_thread_names(Traced& t);

    AggregatorConfig config_;
    uint64_t samples_ = 0;
    // Live processes by PID; retired ones (see retire) under negative keys, so the PID is free.
    std::map<pid_t, std::unique_ptr<Traced>> processes_;
    std::vector<pid_t> order_;
    pid_t retired_keys_ = 0;
    std::vector<BlockingSlice> blocking_;
    size_t blocking_taken_ = 0;
};

}  // namespace pyat
