// Python thread names of a traced process, read from its memory:
// sys.modules['threading']._active maps each thread's ident to its Thread object, whose `_name`
// and `_native_id` (the TID in the process's own PID namespace) we read; TIDs given and returned
// here are the host's. Threads not started through `threading` have none.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <unordered_map>

#include "process/namespace_tids.h"
#include "cpython/python_objects.h"

namespace pyat {

class ThreadNames {
public:
    ThreadNames(ProcessMemory memory, const CpythonLayout& layout, uint64_t runtime_address)
        : objects_(memory, layout), runtime_address_(runtime_address), tids_in_namespace_(memory.pid()) {}

    // Re-reads threading._active (and the process's threads, when it lives in a PID namespace of
    // its own); names of threads that ended stay known.
    void refresh();
    // The Python name of thread `tid`, or "" when it has none (yet).
    const std::string& name(uint32_t tid) const;
    // The thread's OS name (/proc/PID/task/TID/comm, set by 3.14's threading or by the program)
    // when it differs from the process's; "" otherwise.
    std::string os_name(uint32_t tid) const;
    size_t known() const { return names_.size(); }
    // The TID of the thread whose threading ident (pthread_self(), PyThreadState.thread_id) is
    // `ident`, as of the last refresh; 0 if unknown.
    uint32_t tid_of_ident(uint64_t ident) const;

private:
    PythonObjects objects_;
    uint64_t runtime_address_;
    NamespaceTids tids_in_namespace_;
    std::unordered_map<uint32_t, std::string> names_;  // host TID -> name
    std::unordered_map<uint64_t, uint32_t> tids_;      // ident -> host TID
};

}  // namespace pyat
