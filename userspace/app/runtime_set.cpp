#include "app/runtime_set.h"

#include <algorithm>

#include "runtimes/registry.h"

namespace pyat {

namespace {
std::string joined(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& part : parts) out += (out.empty() ? "" : " or ") + part;
    return out;
}
}  // namespace

RuntimeSet::RuntimeSet(const Options& options) : options_(options) {
    for (auto& runtime : wanted_runtimes(options)) {
        Entry e;
        e.every = runtime->look_every(options);
        e.runtime = std::move(runtime);
        entries_.push_back(std::move(e));
    }
}

void RuntimeSet::configure(SamplerConfig& config) const {
    for (const auto& e : entries_) e.runtime->configure(options_, config);
}

std::vector<std::function<std::unique_ptr<RuntimeStacks>()>> RuntimeSet::stacks_makers() const {
    std::vector<std::function<std::unique_ptr<RuntimeStacks>()>> out;
    for (const auto& e : entries_)
        if (e.runtime->make_stacks()) out.emplace_back([runtime = e.runtime.get()] { return runtime->make_stacks(); });
    return out;
}

void RuntimeSet::start(Steady::time_point start) {
    for (auto& e : entries_) e.next = start + e.every;
}

void RuntimeSet::add(const PythonProcess& process, RuntimeContext& context) {
    for (auto& e : entries_) {
        if (e.runtime->look(process, context) != Look::not_yet) continue;
        e.pending.emplace(process.pid, process);
        e.runtime->watch(process, context);
    }
}

bool RuntimeSet::on_record(const event_header& header, size_t size) {
    return std::any_of(entries_.begin(), entries_.end(), [&](Entry& e) { return e.runtime->on_record(header, size); });
}

void RuntimeSet::wake(RuntimeContext& context) {
    for (auto& e : entries_)
        for (pid_t pid : e.runtime->take_wakeups()) {
            if (auto it = e.pending.find(pid);
                it != e.pending.end() && e.runtime->look(it->second, context) != Look::not_yet)
                e.pending.erase(it);
            e.runtime->woken(pid, context);
        }
}

void RuntimeSet::look_again(Steady::time_point now, const std::function<bool(pid_t)>& traced,
                            RuntimeContext& context) {
    for (auto& e : entries_) {
        if (e.pending.empty() || now < e.next) continue;
        for (auto it = e.pending.begin(); it != e.pending.end();)
            it = (!traced(it->first) || e.runtime->look(it->second, context) != Look::not_yet) ? e.pending.erase(it)
                                                                                             : std::next(it);
        e.next = now + e.every;
    }
}

int RuntimeSet::wait_ms(int longest) const {
    int ms = longest;
    for (const auto& e : entries_)
        if (!e.pending.empty())
            ms = std::min<int>(ms, int(std::chrono::duration_cast<std::chrono::milliseconds>(e.every).count()));
    return ms;
}

std::string RuntimeSet::names() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.emplace_back(e.runtime->name());
    return joined(out);
}

std::string RuntimeSet::blocking_ends() const {
    std::vector<std::string> out;
    for (const auto& e : entries_)
        if (auto end = e.runtime->blocking_end(); !end.empty()) out.push_back(end);
    return joined(out);
}

void RuntimeSet::finish(RuntimeContext& context, uint64_t end_ns) {
    for (auto& e : entries_) e.runtime->finish(context, end_ns);
}

void RuntimeSet::add_to(Profile& profile, RuntimeContext& context) {
    for (auto& e : entries_) e.runtime->add_to(profile, context);
}

std::vector<std::string> RuntimeSet::cost_lines(const RunEnd& end) const {
    std::vector<std::string> lines;
    for (const auto& e : entries_) e.runtime->summarize_costs(end, lines);
    return lines;
}

std::vector<std::string> RuntimeSet::miss_lines(const RunEnd& end) const {
    std::vector<std::string> lines;
    for (const auto& e : entries_) e.runtime->summarize_misses(end, lines);
    return lines;
}

}  // namespace pyat
