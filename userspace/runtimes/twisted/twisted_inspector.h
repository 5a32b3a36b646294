// Finding Twisted's inlineCallbacks machinery in a traced process: the code objects, local slots,
// closure cells and attribute slots the kernel needs to follow awaited-by chains, resolved by
// name (probes/twisted) in the target's own objects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "cpython/cpython_layout.h"
#include "twisted/deferred_log_abi.h"
#include "twisted/twisted_abi.h"
#include "cpython/python_objects.h"
#include "runtimes/twisted/twisted_description.h"

namespace pyat {

struct TwistedTarget {
    const TwistedDescription* description = nullptr;
    twisted_layout bpf{};
    // The Deferred methods the lifecycle log hooks (their returns), when all were found;
    // otherwise lifecycle_missing says what was not.
    std::optional<deferred_log_layout> lifecycle;
    std::string lifecycle_missing;
    // --mode trace: how @inlineCallbacks functions are called (when found).
    std::optional<trace_twisted> trace;
};

enum class TwistedSearch {
    found,
    not_imported,  // twisted.internet.defer is not in sys.modules (yet)
    not_ready,     // imported, but not all there yet (still importing, or a class has no instance
                   // yet, so its attribute keys are unknown); `why` says what is missing. The
                   // lifecycle log's part (out.lifecycle, out.description) may be ready already.
    unsupported,   // no description fits (reason in `why`)
};

// Looks for twisted.internet.defer in the process whose _PyRuntime is at `runtime_address`.
TwistedSearch find_twisted(const PythonObjects& objects, const CpythonLayout& layout, uint64_t runtime_address,
                           TwistedTarget& out, std::string& why);

}  // namespace pyat
