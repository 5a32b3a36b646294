// Logical stacks for Twisted's @inlineCallbacks: a generator's frames under the code that called
// it, not under the machinery that resumed it.
//
// The kernel records the physical stack and, when the innermost _inlineCallbacks frame was
// resumed by a fired Deferred, the suspended generators waiting for it (the awaited-by chain).
// The logical stack is then: the frames below the reactor's dispatch (e.g. <module> -> react),
// the waiting generators (outermost first, each at its yield), and the resumed generator with
// what it runs. Twisted's trampolines (unwindGenerator, _cancellableInlineCallbacks,
// _inlineCallbacks) are hidden everywhere in such stacks. Which frames play which part is data
// (probes/twisted).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "profile/profile.h"
#include "runtimes/twisted/twisted_description.h"

namespace pyat {

class InlineCallbacksStacks {
public:
    explicit InlineCallbacksStacks(const TwistedDescription& description);

    // `physical`: root first. `resumed`: root-first index of the resumed _inlineCallbacks frame,
    // if the kernel found one. `awaiting`: the generators waiting for it, outermost first.
    Stack rewrite(const ProcessProfile& profile, const Stack& physical, std::optional<size_t> resumed,
                  const Stack& awaiting);

    // Is a reactor running on this (physical) stack?
    bool runs_reactor(const ProcessProfile& profile, const Stack& physical);

    // Did the generator at `resumed` resume because another inlineCallbacks generator ended (the
    // one it waited for, whose Deferred fired as it returned)? Then its wait is that generator's
    // time, already charged to that generator's own stacks.
    bool resumed_by_generator_end(const ProcessProfile& profile, const Stack& physical, size_t resumed);

private:
    enum Role : uint8_t {
        role_known = 1,        // classified
        role_first_run = 2,    // starts a generator: hidden
        role_resume = 4,       // resumes one after a Deferred fired
        role_reactor = 8,      // a reactor's dispatch starts here
        role_driver = 16,      // _inlineCallbacks itself
    };
    uint8_t role(const ProcessProfile& profile, uint32_t function);

    std::string defer_file_, driver_;
    std::vector<std::string> first_run_, resume_;
    std::vector<std::pair<std::string, std::string>> reactor_entries_;  // (file suffix, function)
    std::vector<uint8_t> roles_;  // by function index
};

// The last component of a qualified name: "Deferred.callback" -> "callback".
std::string_view short_name(std::string_view qualified);

}  // namespace pyat
