#include "runtimes/twisted/twisted_hooks.h"

#include <fmt/format.h>

#include "base/error.h"
#include "base/run_clock.h"
#include "process/proc_maps.h"
#include "process/target_file.h"

namespace pyat {

namespace {
using namespace twisted_kernel;

// Once per process: the lifecycle log and the import watch share it.
void attach_function_return(KernelHooks& kernel, pid_t pid, const std::string& binary) {
    if (kernel.attached(return_program, pid)) return;
    const TargetFile file = TargetFile::mapped(pid, binary);
    if (auto why = kernel.attach_usdt(return_program, pid, file.fd_path(), "python", "function__return"); !why.empty())
        throw Error(
            fmt::format("cannot attach to the function__return probe of {} for PID {}: {}", binary, pid, why));
}
}  // namespace

void register_twisted_layout(KernelHooks& kernel, pid_t pid, const twisted_layout& layout) {
    if (auto why = kernel.set_process_entry(layouts_map, pid, &layout, sizeof(layout)); !why.empty())
        throw Error(fmt::format("cannot register PID {}'s Twisted layout with the BPF sampler: {}", pid, why));
}

void attach_generator_steps(KernelHooks& kernel, pid_t pid,
                            const std::vector<std::pair<std::string, uint64_t>>& functions, twisted_layout layout) {
    kernel.wait_for_old_hooks(pid);  // a hook of the program it ran before never fires beside this one
    layout.hooked_ns = monotonic_ns();  // the clock of bpf_ktime_get_ns()
    register_twisted_layout(kernel, pid, layout);
    const auto maps = read_maps(pid);
    for (const auto& [path, offset] : functions) {
        const TargetFile file = TargetFile::mapped(pid, maps, path);
        if (auto why = kernel.attach_uprobe(step_program, pid, file.fd_path(), "", offset); !why.empty()) {
            kernel.detach(step_program, pid);
            throw Error(
                fmt::format("cannot hook generator steps ({} at {:#x}) for PID {}: {}", path, offset, pid, why));
        }
    }
}

void attach_deferred_log(KernelHooks& kernel, pid_t pid, const std::string& binary, const deferred_log_layout& layout) {
    kernel.wait_for_old_hooks(pid);  // a hook of the program it ran before never fires beside this one
    if (auto why = kernel.set_process_entry(lifecycle_map, pid, &layout, sizeof(layout)); !why.empty())
        throw Error(fmt::format("cannot register PID {}'s Deferred methods with the BPF sampler: {}", pid, why));
    kernel.delete_process_entry(import_watch_map, pid);
    try {
        attach_function_return(kernel, pid, binary);
    } catch (const Error&) {
        kernel.delete_process_entry(lifecycle_map, pid);
        throw;
    }
}

void watch_defer_import(KernelHooks& kernel, pid_t pid, const std::string& binary, const deferred_import_watch& watch) {
    kernel.wait_for_old_hooks(pid);  // a hook of the program it ran before never fires beside this one
    if (auto why = kernel.set_process_entry(import_watch_map, pid, &watch, sizeof(watch)); !why.empty())
        throw Error(fmt::format("cannot watch PID {} for Twisted's import: {}", pid, why));
    try {
        attach_function_return(kernel, pid, binary);
    } catch (const Error&) {
        kernel.delete_process_entry(import_watch_map, pid);
        throw;
    }
}

}  // namespace pyat
