// Twisted behind the runtime contract: finds twisted.internet.defer in a traced process (its
// inlineCallbacks chains become logical stacks, their waits are timed with --clock wall), logs the
// Deferred lifecycle with --deferred-log, and says at the end what could not be followed.
#pragma once

#include <map>
#include <set>
#include <string>

#include "runtimes/runtime.h"
#include "runtimes/twisted/twisted_inspector.h"

namespace pyat {

class TwistedRuntime final : public Runtime {
public:
    std::string_view name() const override { return "Twisted"; }
    bool wanted(const Options&) const override { return true; }
    void configure(const Options& options, SamplerConfig& config) const override;
    std::unique_ptr<RuntimeStacks> make_stacks() const override;
    std::vector<std::string_view> kernel_names() const override;
    Look look(const PythonProcess& process, RuntimeContext& context) override;
    std::chrono::milliseconds look_every(const Options& options) const override;
    void watch(const PythonProcess& process, RuntimeContext& context) override;
    bool on_record(const event_header& header, size_t size) override;
    std::vector<pid_t> take_wakeups() override { return std::exchange(defer_imported_, {}); }
    void woken(pid_t pid, RuntimeContext& context) override;
    std::string blocking_end() const override { return followed_ ? "a return to the reactor" : ""; }
    void finish(RuntimeContext& context, uint64_t end_ns) override;
    void add_to(Profile& profile, RuntimeContext& context) override;
    void summarize_misses(const RunEnd& end, std::vector<std::string>& lines) const override;

private:
    bool has_return_probe(const PythonProcess& p);
    void log_deferreds(const PythonProcess& p, const TwistedTarget& target, RuntimeContext& context);
    void follow(const PythonProcess& p, PythonObjects& objects, const TwistedTarget& target, RuntimeContext& context);

    std::map<pid_t, std::string> missing_;  // imported, not resolved yet: what is missing
    size_t followed_ = 0;
    std::map<pid_t, std::string> deferred_log_missing_;  // Twisted processes not logged, and why
    std::set<pid_t> deferred_logged_;
    std::vector<pid_t> defer_imported_;  // stopped by the kernel as they imported Twisted's defer
    uint64_t deferred_dropped_ = 0;      // lifecycle entries over the limit
};

}  // namespace pyat
