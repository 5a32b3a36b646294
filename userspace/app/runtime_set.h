// The runtimes a sampling run needs, driven alike: configured before the programs load, asked to
// look at every traced process (and again, now and then, at those they have not found yet), handed
// their records, and asked for their part of the end.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtimes/runtime.h"

namespace pyat {

class RuntimeSet {
public:
    using Steady = std::chrono::steady_clock;

    explicit RuntimeSet(const Options& options);

    void configure(SamplerConfig& config) const;
    // Their parts of every traced process on the profile side (AggregatorConfig::runtime_stacks).
    std::vector<std::function<std::unique_ptr<RuntimeStacks>()>> stacks_makers() const;
    // The run starts at `start`: the first periodic looks come one look_every() after it.
    void start(Steady::time_point start);
    // A process just traced: every runtime looks; one that has not found itself there yet looks
    // again later (and may watch the process meanwhile).
    void add(const PythonProcess& process, RuntimeContext& context);
    // A record no other part took; false: no runtime's either.
    bool on_record(const event_header& header, size_t size);
    // Looks its records asked for, at once.
    void wake(RuntimeContext& context);
    // Looks that are due; `traced`: the process is still traced (else it is forgotten).
    void look_again(Steady::time_point now, const std::function<bool(pid_t)>& traced, RuntimeContext& context);
    // How long the run may wait for records (ms), at most `longest`, so that due looks are not late.
    int wait_ms(int longest) const;

    // The names of the runtimes ("greenlet or Twisted"), and what ends a blocking slice in this run
    // ("a greenlet switch or a return to the reactor"; "" if no process has one that watches).
    std::string names() const;
    std::string blocking_ends() const;

    void finish(RuntimeContext& context, uint64_t end_ns);
    void add_to(Profile& profile, RuntimeContext& context);
    std::vector<std::string> cost_lines(const RunEnd& end) const;
    std::vector<std::string> miss_lines(const RunEnd& end) const;

private:
    struct Entry {
        std::unique_ptr<Runtime> runtime;
        std::map<pid_t, PythonProcess> pending;  // traced, the runtime not found there yet
        Steady::duration every{};
        Steady::time_point next{};
    };
    const Options& options_;
    std::vector<Entry> entries_;
};

}  // namespace pyat
