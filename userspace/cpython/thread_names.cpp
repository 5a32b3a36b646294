#include "cpython/thread_names.h"

#include <fmt/format.h>

#include <fstream>

namespace pyat {

void ThreadNames::refresh() {
    uint64_t modules = objects_.sys_modules(runtime_address_);
    uint64_t threading = objects_.dict_get(modules, "threading");
    if (!threading) return;  // not imported (yet): only the main thread, unnamed
    bool tids_reread = false;  // in a namespace: its threads are re-read once a refresh at most
    uint64_t active = objects_.module_attribute(threading, "_active");
    for (const auto& entry : objects_.dict_items(active)) {  // ident -> Thread
        uint64_t thread = entry.second;
        auto ident = objects_.read_long(entry.first);
        uint64_t native = objects_.instance_attribute(thread, "_native_id");
        uint64_t name = objects_.instance_attribute(thread, "_name");
        if (!native || !name) continue;
        auto tid = objects_.read_long(native);
        std::string text = objects_.read_unicode(name);
        if (!tid || *tid <= 0 || *tid > INT32_MAX) continue;
        uint32_t host_tid = tids_in_namespace_.host_tid(uint32_t(*tid));
        if (!host_tid && !tids_reread) {  // started since the last read
            tids_in_namespace_.refresh();
            tids_reread = true;
            host_tid = tids_in_namespace_.host_tid(uint32_t(*tid));
        }
        if (!host_tid) continue;  // ended: no thread of the process has that TID any more
        if (ident) tids_[uint64_t(*ident)] = host_tid;
        if (!text.empty()) names_[host_tid] = std::move(text);
    }
}

uint32_t ThreadNames::tid_of_ident(uint64_t ident) const {
    auto it = tids_.find(ident);
    return it == tids_.end() ? 0 : it->second;
}

std::string ThreadNames::os_name(uint32_t tid) const {
    auto read_comm = [](const std::string& path) {
        std::ifstream in(path);
        std::string line;
        std::getline(in, line);
        return line;
    };
    pid_t pid = objects_.memory().pid();
    std::string thread = read_comm(fmt::format("/proc/{}/task/{}/comm", pid, tid));
    std::string process = read_comm(fmt::format("/proc/{}/comm", pid));
    return thread == process ? "" : thread;
}

const std::string& ThreadNames::name(uint32_t tid) const {
    static const std::string none;
    auto it = names_.find(tid);
    return it == names_.end() ? none : it->second;
}

}  // namespace pyat
