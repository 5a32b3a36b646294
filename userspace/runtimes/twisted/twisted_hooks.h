// What Twisted attaches in the kernel, through the loader's generic hooks: its layout for the
// awaited-by walk, the generator-step uprobes, and the function__return probe of the Deferred
// lifecycle log (bpf/twisted/). Every function throws pyat::Error with what failed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"
#include "kernel/kernel_hooks.h"

namespace pyat {

// The BPF programs and maps Twisted's hooks use (bpf/twisted/, bpf/pysample.bpf.c).
namespace twisted_kernel {
inline constexpr const char* layouts_map = "twisted_processes";
inline constexpr const char* lifecycle_map = "deferred_log_processes";
inline constexpr const char* import_watch_map = "deferred_import_watches";
inline constexpr const char* step_program = "on_generator_step";
inline constexpr const char* return_program = "on_python_return";
}  // namespace twisted_kernel

// The process imported Twisted: samples also carry inlineCallbacks awaited-by chains.
void register_twisted_layout(KernelHooks& kernel, pid_t pid, const twisted_layout& layout);

// Hooks generator.send and generator.throw (the C functions at (file, offset) as mapped by PID),
// entry only, to time the suspensions of the process's inlineCallbacks generators
// (EVENT_GENERATOR_WAIT); registers `layout` too.
void attach_generator_steps(KernelHooks& kernel, pid_t pid,
                            const std::vector<std::pair<std::string, uint64_t>>& functions, twisted_layout layout);

// Attaches to CPython's function__return USDT probe in `binary` (the executable or libpython
// holding the probe, as mapped by PID) to log the process's Deferred lifecycle (EVENT_DEFERRED).
// Every Python return of the process then traps (~5 us each).
void attach_deferred_log(KernelHooks& kernel, pid_t pid, const std::string& binary, const deferred_log_layout& layout);

// Same probe, before the process has imported Twisted's defer module: the process is stopped
// (SIGSTOP) as that module's body returns, the stop is recorded in the kernel hold map and
// EVENT_DEFER_IMPORTED says so; the caller registers the layout (attach_deferred_log) and lets
// it go.
void watch_defer_import(KernelHooks& kernel, pid_t pid, const std::string& binary, const deferred_import_watch& watch);

}  // namespace pyat
