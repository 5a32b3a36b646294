#include "runtimes/greenlet/greenlet_runtime.h"

#include <fmt/format.h>

#include <algorithm>

#include "app/blocking_threshold.h"
#include "base/error.h"
#include "base/run_clock.h"
#include "process/proc_maps.h"
#include "process/target_file.h"
#include "profile/stack_aggregator.h"
#include "runtimes/greenlet/greenlet_layout.h"
#include "runtimes/greenlet/greenlet_stacks.h"

namespace pyat {

namespace {
constexpr const char* layouts_map = "greenlet_processes";
constexpr const char* switch_program = "on_greenlet_switch";

// Registers the process's greenlet layout and hooks greenlet's switch function (`symbol` in the
// extension at `path`, as mapped by PID): its switches arrive as EVENT_GREENLET_SWITCH.
void attach_switch_hook(KernelHooks& kernel, pid_t pid, const std::string& path, const char* symbol,
                        const greenlet_layout& layout) {
    kernel.wait_for_old_hooks(pid);
    greenlet_process value{layout, monotonic_ns()};  // the clock of bpf_ktime_get_ns()
    if (auto why = kernel.set_process_entry(layouts_map, pid, &value, sizeof(value)); !why.empty())
        throw Error(fmt::format("cannot register PID {}'s greenlet with the BPF sampler: {}", pid, why));
    // The very file the process maps (whatever its name is now, or whichever mount namespace).
    const TargetFile module = TargetFile::mapped(pid, path);
    if (auto why = kernel.attach_uprobe(switch_program, pid, module.fd_path(), symbol, 0); !why.empty())
        throw Error(fmt::format("cannot hook greenlet's switch ({} in {}) for PID {}: {}", symbol, path, pid, why));
}
}  // namespace

std::vector<std::string_view> GreenletRuntime::kernel_names() const { return {layouts_map, switch_program}; }

bool GreenletRuntime::wanted(const Options& options) const { return blocking_report_on(options); }

void GreenletRuntime::configure(const Options& options, SamplerConfig& config) const {
    config.walk_every_park = options.group_by == GroupBy::greenlet;
}

std::unique_ptr<RuntimeStacks> GreenletRuntime::make_stacks() const { return std::make_unique<GreenletStacks>(); }

Look GreenletRuntime::look(const PythonProcess& p, RuntimeContext& context) {
    std::vector<Mapping> maps;
    try {
        maps = read_maps(p.pid);
    } catch (const Error&) {
        return Look::never;
    }
    auto module = find_greenlet_module(p.pid, maps, p.layout->major, p.layout->minor);
    if (!module) return Look::not_yet;
    if (!module->layout) {
        context.note(fmt::format("pyasynctrace: PID {} uses greenlet {} ({}), whose internals for CPython {} "
                                 "are not described under probes/greenlet: its greenlets are sampled, "
                                 "but switches are not followed",
                                 p.pid, module->version.empty() ? "(unknown version)" : module->version,
                                 module->path, p.layout->version()));
        return Look::never;
    }
    try {
        attach_switch_hook(context.kernel, p.pid, module->path, module->layout->switch_symbol, module->layout->bpf);
        if (auto* stacks = context.aggregator.stacks_of<GreenletStacks>(p.pid)) stacks->set_layout(module->layout);
        hooked_++;
        context.note(fmt::format("pyasynctrace: PID {}: following greenlet {} switches", p.pid, module->version));
    } catch (const Error& e) {
        context.note(fmt::format("pyasynctrace: {}", e.what()));
        return Look::never;
    }
    return Look::found;
}

void GreenletRuntime::summarize_costs(const RunEnd& end, std::vector<std::string>& lines) const {
    if (end.options.quiet) return;
    const uint64_t switches = end.kernel.counter(COUNTER_GREENLET_SWITCHES);
    if (switches)
        lines.push_back(fmt::format("pyasynctrace: followed {} greenlet switches ({:.0f} a second; each hook hit "
                                    "costs the target a few microseconds)",
                                    switches, double(switches) / std::max(end.duration_s, 1e-3)));
    if (uint64_t unreadable = end.kernel.counter(COUNTER_GREENLET_UNREADABLE))
        lines.push_back(
            fmt::format("pyasynctrace: warning: {} greenlet switches could not be read and were skipped", unreadable));
}

}  // namespace pyat
