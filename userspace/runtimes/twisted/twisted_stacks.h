// Twisted's part of one traced process on the profile side: inlineCallbacks chains made logical
// (the awaited-by frames the kernel walked), the waits of suspended generators charged to them
// (--clock wall), the reactor thread's busy slices (the blocking report), and the Deferred
// lifecycle log with its stacks.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "profile/runtime_stacks.h"
#include "profile/traced_process.h"
#include "runtimes/twisted/deferred_log.h"
#include "runtimes/twisted/inline_callbacks_stacks.h"

namespace pyat {

class TwistedStacks final : public RuntimeStacks {
public:
    // The process has imported Twisted: its inlineCallbacks stacks are made logical.
    void follow(const TwistedDescription& description);
    // The process's Deferred lifecycle is hooked: EVENT_DEFERRED records become its log.
    void log_deferreds(const TracedProcess& t);
    // End of the run: an inlineCallbacks generator still suspended since `since_ns` (ignored unless
    // it is one whose waits were seen: then its logical stack is known but for its own frame).
    void charge_suspended(TracedProcess& t, uint64_t generator, uint64_t since_ns, uint64_t end_ns);
    // The lifecycle log (after finish: with the Deferreds still pending), appended to `out`;
    // returns how many entries did not fit (DeferredLog::max_events).
    uint64_t take_events(std::vector<DeferredEvent>& out);

    bool on_record(TracedProcess& t, const py_sample& sample, size_t size) override;
    bool rewrite(TracedProcess& t, const py_sample& sample, size_t first, Stack& stack) override;
    void on_cpu_stack(TracedProcess& t, const py_sample& sample, const Stack& frames) override;
    void retire(TracedProcess& t, uint64_t end_ns) override;
    void finish(TracedProcess& t, uint64_t end_ns) override;

private:
    bool resumed_by_generator_end(TracedProcess& t, const py_sample& sample);
    void on_generator_wait(TracedProcess& t, const py_sample& sample);
    void on_deferred_event(TracedProcess& t, const py_sample& event);
    void on_reactor_busy(TracedProcess& t, uint32_t tid, uint64_t start_ns, uint64_t duration_ns);

    std::optional<InlineCallbacksStacks> inline_callbacks_;
    std::string defer_file_;  // Twisted's defer.py (path suffix): hidden from lifecycle log stacks
    std::optional<DeferredLog> deferred_log_;
    // Lifecycle log stacks, shared by the entries logged at the same stack.
    std::unordered_map<Stack, std::shared_ptr<const std::vector<std::string>>, StackHash> lifecycle_stacks_;
    uint64_t generator_wait_remainder_ = 0;  // ns*hz of generator waits not yet a sample
    // generator -> (thread, the logical stack below its own frame) at its last wait seen
    std::unordered_map<uint64_t, std::pair<uint32_t, Stack>> waiting_generators_;
    // Blocking report: recent CPU samples per thread, and the threads seen in a reactor.
    std::unordered_map<uint32_t, std::deque<std::pair<uint64_t, Stack>>> recent_samples_;
    std::unordered_set<uint32_t> reactor_threads_;
};

}  // namespace pyat
