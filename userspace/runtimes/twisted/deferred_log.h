// The Deferred lifecycle log of one Twisted process (--deferred-log): the kernel's
// EVENT_DEFERRED records (from the function__return probe) turned into log entries with names
// and logical stacks, and at the end the Deferreds created that never fired (the leak, the hang).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cpython/code_resolver.h"
#include "cpython/cpython_layout.h"
#include "profile/profile.h"
#include "abi/events.h"
#include "cpython/python_objects.h"

namespace pyat {

class DeferredLog {
public:
    DeferredLog(pid_t pid, const CpythonLayout& layout);

    // One EVENT_DEFERRED record; `stack` is its logical stack (root first, as frame labels), made
    // from the frames after the callables (hdr.deferred_detail.callables).
    void add(const py_sample& event, std::shared_ptr<const std::vector<std::string>> stack, CodeResolver& resolver);

    // End of the run at `end_ns`: the Deferreds created while we watched that never fired.
    void finish(uint64_t end_ns);

    std::vector<DeferredEvent> take_events() { return std::move(events_); }
    uint64_t dropped() const { return dropped_; }

    // Most entries kept per process: a busy service logs hundreds of thousands a second.
    static constexpr size_t max_events = 1'000'000;

private:
    struct Created {
        uint64_t time_ns = 0;
        uint32_t tid = 0;
        std::shared_ptr<const std::vector<std::string>> stack;
    };
    // A callable as the kernel recorded it: "compute (app.py:12)", "Deferred.callback
    // (twisted/internet/defer.py:637)" (a bound method), "functools.partial".
    std::string describe_callable(const py_frame& callable, CodeResolver& resolver);
    std::string type_name(uint64_t type);  // tp_name of a type object ("" if unreadable)
    void push(DeferredEvent e);
    // "pending" (at the end) or "abandoned" (its memory was reused: freed without firing).
    DeferredEvent unfired(const char* what, uint64_t deferred, const Created& created, uint64_t now_ns) const;

    pid_t pid_;
    const CpythonLayout& layout_;
    PythonObjects objects_;
    std::unordered_map<uint64_t, Created> pending_;            // created, not fired yet
    std::unordered_map<uint64_t, uint64_t> last_returned_;     // Deferred -> its last callback's value
    std::unordered_map<uint64_t, std::string> type_names_;     // type object -> tp_name
    std::vector<DeferredEvent> events_;
    uint64_t dropped_ = 0;
};

// "0x7f3a5c0b1d90": how the log names an object.
std::string object_id(uint64_t address);

}  // namespace pyat
