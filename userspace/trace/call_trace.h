// --mode trace: turns the probe events of one traced process into a ProcessProfile whose stacks
// are weighted by wall-clock nanoseconds and whose call counts are exact.
//
// With function__entry and function__return (CPython <= 3.10 and 3.15 built --with-dtrace, and
// any stand-in firing them): one shadow stack per thread; a call's time runs from its entry to
// its return, its self time is that minus its callees'; gc__start/gc__done make a `[gc]` frame.
// With function__return alone (CPython 3.11): each return carries the frames it returns to, so
// calls are counted exactly per function and per caller, and times are estimates.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpython/code_resolver.h"
#include "process/process_memory.h"
#include "profile/profile.h"
#include "abi/code_names.h"
#include "abi/trace.h"

namespace pyat {

struct CallTraceConfig {
    // --filter: globs matched against a function's file and its qualified name; empty: record all.
    // Unrecorded calls are still followed: their time goes to the nearest recorded caller.
    std::vector<std::string> filters;
};

class CallTrace {
public:
    // `resolver`: return-only mode (the interpreter's code objects); null with entry/return probes.
    CallTrace(ProcessProfile& profile, const CallTraceConfig& config, CodeResolver* resolver, ProcessMemory memory);

    // The process imported Twisted: its defer.py frames (the machinery between an @inlineCallbacks
    // generator and what runs it) are left out of return-only stacks.
    void hide_file(const std::string& suffix) { hidden_file_ = suffix; }

    // One ring-buffer record from BpfTracer.
    void add(const void* data, size_t size);
    // End of the run: calls still open are closed at end_ns (and counted), and what was traced goes
    // into the profile.
    void finish(uint64_t end_ns);

    uint64_t events() const { return events_; }
    uint64_t unmatched_returns() const { return unmatched_returns_; }  // calls begun before tracing
    uint64_t calls() const { return calls_; }

private:
    struct Open {
        uint64_t key = 0;      // which function (name pair or code object)
        uint32_t function = 0;
        uint32_t node = 0;     // its place in the call tree (its nearest recorded caller's if not recorded)
        bool recorded = true;  // passes --filter
        uint64_t start_ns = 0;
        uint64_t child_ns = 0;
    };
    // The call tree of entry/return tracing: a node per distinct recorded stack, so that a return
    // costs an addition, not a stack copy; turned into profile stacks by finish().
    struct Node {
        uint32_t parent = 0;
        uint32_t function = 0;
        uint64_t self_ns = 0;
        uint64_t calls = 0;
    };
    using Shadow = std::vector<Open>;

    uint32_t function_for(uint64_t filename, uint64_t funcname, int32_t lineno);
    bool recorded(uint32_t function);
    void enter(Shadow& s, uint64_t key, uint32_t function, uint64_t now);
    void leave(Shadow& s, size_t index, uint64_t now);
    void add_return_only(const trace_return& r);
    void add_gc_start(const trace_return& r);
    bool add_gc_done(uint32_t tid, uint64_t now);  // false: no collection seen starting with frames
    Stack stack_from(const trace_return& r);
    Stack shown(const Stack& stack);
    Stack logical_stack(const trace_return& r, const Stack& physical) const;
    void count_call(const Stack& stack, size_t below, uint32_t callee);
    uint32_t child(uint32_t parent, uint32_t function);
    void flush_tree();  // the call tree into the profile

    ProcessProfile& profile_;
    CallTraceConfig config_;
    CodeResolver* resolver_;
    ProcessMemory memory_;  // names the kernel could not read (a page not yet touched)
    // Shadow stacks by thread, or by greenlet once its thread is seen switching greenlets.
    uint64_t shadow_key(uint32_t tid) const;
    std::unordered_map<uint64_t, Shadow> threads_;
    std::unordered_map<uint32_t, uint64_t> running_greenlet_;  // tid -> PyGreenlet* running
    std::unordered_map<uint64_t, std::pair<std::string, std::string>> names_;  // key -> (file, name)
    std::unordered_map<uint64_t, uint32_t> functions_;                          // key -> function index
    std::unordered_map<uint32_t, bool> recorded_;
    std::unordered_map<uint64_t, uint64_t> child_ns_;
    struct GcRunning {
        uint64_t start_ns = 0;
        uint64_t frame = 0;  // the call it interrupted
        Stack stack;
    };
    std::unordered_map<uint32_t, GcRunning> gc_running_;  // return-only mode: tid -> collection
    // Twisted: generator frame -> the logical stack of the @inlineCallbacks call that started it.
    std::unordered_map<uint64_t, Stack> started_;
    // Return-only mode: a live frame -> its caller's frame (0: none, the root) and what it runs.
    struct Caller {
        uint64_t caller = 0;
        StackFrame frame;
    };
    std::unordered_map<uint64_t, Caller> callers_;
    static constexpr size_t max_remembered_frames = 1'000'000;
    static constexpr size_t max_started_generators = 200'000;  // return-only: frame -> time of callees returned
    std::vector<Node> nodes_{Node{}};  // nodes_[0]: the root, above every thread's first call
    std::unordered_map<uint64_t, uint32_t> children_;  // (parent << 32 | function) -> node
    uint32_t gc_function_ = UINT32_MAX;
    std::string hidden_file_;
    uint64_t events_ = 0, unmatched_returns_ = 0, calls_ = 0;
};

}  // namespace pyat
