#include "app/traced_processes.h"

#include <fmt/format.h>

#include <fstream>

#include "base/error.h"
#include "base/run_clock.h"
#include "cpython/builtin_methods.h"
#include "cpython/python_stack_reader.h"

namespace pyat {

namespace {
using namespace std::chrono_literals;

// Sleeping (S) or in uninterruptible wait (D), from /proc/PID/task/TID/stat.
bool thread_is_blocked(pid_t pid, pid_t tid) {
    std::ifstream in(fmt::format("/proc/{}/task/{}/stat", pid, tid));
    std::string stat;
    std::getline(in, stat);
    auto paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    char state = stat[paren + 2];
    return state == 'S' || state == 'D';
}

py_process to_bpf(const PythonProcess& p, uint64_t code_type) {
    py_process out{};
    out.runtime_addr = p.runtime_address;
    out.layout = p.layout->bpf;
    out.code = kernel_code_layout(*p.layout);
    out.code.code_type = code_type;
    return out;
}
}  // namespace

std::string describe(const PythonProcess& p) {
    return fmt::format("PID {} ({}, CPython {})", p.pid, p.command_line.empty() ? p.program : p.command_line,
                       p.version);
}

bool ProcessEvents::on_record(const event_header& hdr, const StackAggregator& aggregator, TargetDiscovery* discovery) {
    switch (hdr.kind) {
        case EVENT_EXEC:
            if (aggregator.has_process(pid_t(hdr.pid))) replaced.push_back(pid_t(hdr.pid));
            for (auto& [child, parent] : forks)  // forked, then exec'd before we got to it
                if (child == pid_t(hdr.pid)) parent = 0;
            if (discovery) discovery->note_exec(pid_t(hdr.pid));
            return true;
        case EVENT_FORK:
            forks.emplace_back(pid_t(hdr.pid), pid_t(hdr.fork.parent));
            return true;
        case EVENT_EXIT:
            exited.push_back(pid_t(hdr.pid));
            return true;
    }
    return false;
}

TracedProcesses::TracedProcesses(const Options& options, BpfSampler& sampler, StackAggregator& aggregator,
                                 RuntimeSet& runtimes, RuntimeContext& context, TargetDiscovery* discovery)
    : options_(options), sampler_(sampler), aggregator_(aggregator), runtimes_(runtimes), context_(context),
      discovery_(discovery) {}

// Code objects are named by the kernel as frames first show them; its table forgets one as it is
// freed (a hook on the code type's destructor), so a reused address is named anew. The process is
// sampled first, hooked next: until then (and wherever the hook fails) a reused code object is
// still told apart by its name's and file's addresses.
void TracedProcesses::follow_code_objects(const PythonProcess& p, uint64_t code_type, std::string why) {
    PythonObjects objects(ProcessMemory(p.pid), *p.layout);
    auto dealloc = code_type ? find_type_dealloc(p, objects, "PyCode_Type", why) : std::nullopt;
    try {
        if (dealloc) sampler_.attach_code_dealloc(p.pid, dealloc->file, dealloc->probe_offset);
    } catch (const Error& e) {
        dealloc.reset();
        why = e.what();
    }
    if (!dealloc)
        context_.note(fmt::format("pyasynctrace: PID {}: code objects freed during the run are not followed ({}): "
                                  "a reused one is told apart by its name's and file's addresses only",
                                  p.pid, why));
}

void TracedProcesses::start(const PythonProcess& p, Found found) {
    std::string why_no_type;
    const uint64_t code_type = exported_address(p, "PyCode_Type", why_no_type).value_or(0);
    aggregator_.add_process(p, monotonic_ns(), code_type,
                            [&sampler = sampler_, pid = p.pid](uint64_t code, uint32_t generation) {
                                return sampler.code_still_named(pid, code, generation);
                            });
    // The kernel knows the process before the runtimes look (their hooks read its entry), but
    // samples it only once they have told it how to walk their stacks: a sample taken meanwhile
    // (Twisted's look takes 10-40 ms) would come out as the interpreter's raw view. A forked child
    // has been sampled since its fork (it may live a few ms) and goes on being sampled; one that
    // has just exec'd has no runtime loaded to look for.
    sampler_.add_process(p.pid, to_bpf(p, code_type),
                         found == Found::running ? BpfSampler::Sampling::after_looks : BpfSampler::Sampling::now);
    {
        struct SampleOnExit {
            BpfSampler& sampler;
            pid_t pid;
            ~SampleOnExit() { sampler.sample_from_now(pid); }
        } sample_after_looks{sampler_, p.pid};
        follow_code_objects(p, code_type, why_no_type);
        live_.insert(p.pid);
        context_.note(fmt::format("pyasynctrace: tracing {}", describe(p)));
        runtimes_.add(p, context_);
    }
    if (options_.clock == Clock::wall) {
        // Threads blocked since before we sampled never switch out while we watch.
        uint64_t now = monotonic_ns();
        for (const auto& [tid, stack] : read_thread_stacks(p, *aggregator_.resolver_of(p.pid)))
            if (thread_is_blocked(p.pid, pid_t(tid))) sampler_.seed_off_cpu(*stack, now);
    }
}

void TracedProcesses::update(ProcessEvents& events, Steady::time_point now) {
    for (pid_t pid : events.replaced) {  // the kernel has forgotten it; the new program may be traced anew
        aggregator_.retire(pid, monotonic_ns());
        sampler_.remove_process(pid);
        live_.erase(pid);
        context_.note(fmt::format("pyasynctrace: PID {} exec'd {}", pid, read_executable(pid)));
    }
    events.replaced.clear();
    for (auto [child, parent] : events.forks) {  // sampled by the kernel from its start: follow it too
        const PythonProcess* from = parent ? aggregator_.process_of(parent) : nullptr;
        if (!from || aggregator_.has_process(child) || !process_exists(child)) continue;
        PythonProcess p = *from;
        p.pid = child;
        p.command_line = read_command_line(child);
        start(p, Found::at_fork);
    }
    events.forks.clear();
    if (discovery_) {
        for (auto& f : discovery_->poll([this](pid_t pid) { return traced(pid); }))
            start(f.process, f.at_exec ? Found::at_exec : Found::running);
        for (const auto& note : discovery_->take_notes()) context_.note("pyasynctrace: " + note);
    }

    if (!events.exited.empty() || now >= next_liveness_) {
        events.exited.clear();
        for (auto it = live_.begin(); it != live_.end();) {
            if (process_exists(*it)) {
                ++it;
                continue;
            }
            sampler_.poll(0);  // what it sent before dying
            sampler_.remove_process(*it);
            context_.note(fmt::format("pyasynctrace: PID {} exited", *it));
            it = live_.erase(it);
        }
        next_liveness_ = now + 100ms;
    }
}

}  // namespace pyat
