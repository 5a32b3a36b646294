// The contract between a sampling run and one async runtime (greenlet, Twisted, later asyncio).
//
// A run knows processes and the CPython interpreter; everything about a library that schedules
// Python code its own way lives behind this interface, in userspace/runtimes/<name>/ (with its BPF
// hooks in bpf/<name>/, its data in probes/<name>/ and its tests in tests/*/<name>/), and the run
// drives every runtime in the registry alike. The split follows when things can be known:
// - per run, from the command line alone: whether the run needs the runtime at all (wanted) and
//   what its kernel hooks need loaded (configure), before the BPF programs load;
// - per traced process, repeatedly: a runtime may be imported long after the process started, so
//   look() says found (hooked now), not yet (look again every look_every()), or never (it is not
//   there to follow, or cannot be: the runtime says why in a note to the user). A runtime keeps
//   what it learns about each process itself, keyed by PID;
// - per record: the kinds of event only its hooks send (on_record), and the moments they ask to
//   look at a process out of turn (take_wakeups, woken);
// - at the end of the run: charging what is still suspended (finish), adding what it collected
//   besides stacks to the profile (add_to), and its lines of the end-of-run summary.
// Its records become stacks on the profile side, in a RuntimeStacks of its own per traced process
// (profile/runtime_stacks.h), which it reaches through the context's aggregator once it has found
// itself in that process.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "app/options.h"
#include "cpython/python_process.h"
#include "kernel/bpf_sampler.h"
#include "kernel/kernel_hooks.h"
#include "profile/profile.h"
#include "profile/runtime_stacks.h"

namespace pyat {

class StackAggregator;

// What a runtime may use of the run while it looks at processes.
struct RuntimeContext {
    const Options& options;
    KernelHooks& kernel;
    StackAggregator& aggregator;
    std::function<void(const std::string&)> note;  // a line for the user above the status line (none with --quiet)
    std::function<bool(pid_t)> let_go;  // continues a process the kernel stopped; false: the hold guard had already
};

// What the end-of-run summary lines are made from.
struct RunEnd {
    const Options& options;
    const Profile& profile;
    const std::vector<OutputSpec>& outputs;
    double duration_s = 0;
    const KernelHooks& kernel;
};

enum class Look {
    found,    // hooked: nothing more to look for in this process
    not_yet,  // not imported (or not ready) yet: look again later
    never,    // not there to follow, or it cannot be followed (a note said why)
};

class Runtime {
public:
    virtual ~Runtime() = default;

    virtual std::string_view name() const = 0;
    // Whether this run needs the runtime's hooks at all; one that is not wanted is never asked anything else.
    virtual bool wanted(const Options& options) const = 0;
    // What its kernel hooks need loaded, before the programs load.
    virtual void configure(const Options&, SamplerConfig&) const {}
    // The BPF programs and maps its hooks use, by name (the unit tests check the loader defines them).
    virtual std::vector<std::string_view> kernel_names() const { return {}; }
    // Its part of each traced process on the profile side (nullptr: none).
    virtual std::unique_ptr<RuntimeStacks> make_stacks() const { return nullptr; }

    // A process just traced, or one that was `not_yet`: hooks it if the runtime is there.
    virtual Look look(const PythonProcess& process, RuntimeContext& context) = 0;
    // How long a `not_yet` process waits for its next look.
    virtual std::chrono::milliseconds look_every(const Options& options) const = 0;
    // The first look said `not_yet`: the runtime may watch the process for the moment it becomes ready.
    virtual void watch(const PythonProcess&, RuntimeContext&) {}

    // A ring-buffer record of a kind only this runtime's hooks send; false: not one of its kinds.
    virtual bool on_record(const event_header&, size_t) { return false; }
    // Processes its records asked to be looked at now (the run looks, if they are still `not_yet`),
    // then handed to woken().
    virtual std::vector<pid_t> take_wakeups() { return {}; }
    virtual void woken(pid_t, RuntimeContext&) {}

    // What ends a slice in the blocking report ("a greenlet switch"), or "" if it watches none in this run.
    virtual std::string blocking_end() const { return ""; }

    // The kernel is detached and drained, before the profile is finished at `end_ns`.
    virtual void finish(RuntimeContext&, uint64_t) {}
    // What it collected besides stacks.
    virtual void add_to(Profile&, RuntimeContext&) {}
    // End-of-run lines (without "\n"): what its hooks cost, printed after the run's headline;
    // what could not be followed, printed after the run's own warnings.
    virtual void summarize_costs(const RunEnd&, std::vector<std::string>&) const {}
    virtual void summarize_misses(const RunEnd&, std::vector<std::string>&) const {}
};

}  // namespace pyat
