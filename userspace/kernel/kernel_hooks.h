// What an async runtime may ask of the loaded sampling programs: an entry for one process in a
// map of its own, a uprobe or USDT probe of one of its programs for one process, a counter. The
// loader knows programs, maps and links by name only; each runtime's own files say what it attaches
// (userspace/runtimes/<name>/). A failure comes back as the reason (strerror text), for the runtime
// to say what it was doing.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "abi/code_names.h"
#include "abi/events.h"
#include "abi/maps.h"

namespace pyat {

class KernelHooks {
public:
    virtual ~KernelHooks() = default;

    // Waits until the hooks of the program PID ran before it exec'd are gone, so that they never
    // fire beside new ones (they are detached in the background).
    virtual void wait_for_old_hooks(pid_t pid) = 0;

    // The process's entry in `map` (keyed by PID), added or replaced; removed with the process.
    // Returns "" or why it failed.
    [[nodiscard]] virtual std::string set_process_entry(std::string_view map, pid_t pid, const void* value,
                                                        size_t size) = 0;
    virtual void delete_process_entry(std::string_view map, pid_t pid) = 0;

    // Hooks `program` at `symbol` (or, with symbol "", at `offset`) of the file at `path` (a path
    // that opens the very file the process maps: TargetFile::fd_path) for PID. Hooks of one
    // program for one process add up; they go with the process. Returns "" or why it failed.
    [[nodiscard]] virtual std::string attach_uprobe(std::string_view program, pid_t pid, const std::string& path,
                                                    const std::string& symbol, uint64_t offset) = 0;
    // Hooks `program` at the USDT probe provider:name of the file at `path`, for PID.
    [[nodiscard]] virtual std::string attach_usdt(std::string_view program, pid_t pid, const std::string& path,
                                                  const char* provider, const char* name) = 0;
    // Whether `program` has a hook for PID, and letting go of them all.
    virtual bool attached(std::string_view program, pid_t pid) const = 0;
    virtual void detach(std::string_view program, pid_t pid) = 0;

    // A per-CPU counter of the programs, summed (enum counter_index).
    virtual uint64_t counter(uint32_t index) const = 0;
    // What is parked right now (greenlets and suspended generators): (key, since ns).
    virtual std::vector<std::pair<parked_key, uint64_t>> parked() const = 0;
};

}  // namespace pyat
