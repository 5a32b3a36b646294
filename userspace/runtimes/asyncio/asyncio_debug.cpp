#include "runtimes/asyncio/asyncio_debug.h"

#include <fmt/format.h>

#include <cstring>

#include "process/elf_file.h"
#include "runtimes/asyncio/task_registry.h"

namespace pyat {

namespace {
constexpr uint64_t max_object_size = 1 << 16;   // TaskObj, or a thread state
constexpr uint64_t max_interp_size = 1 << 24;   // PyInterpreterState is large (~200 KiB in 3.13)
constexpr int max_threads = 4096;
}  // namespace

std::optional<AsyncioDebugOffsets> parse_asyncio_debug(std::string_view bytes) {
    if (bytes.size() < asyncio_debug_bytes) return std::nullopt;
    uint64_t v[13];
    std::memcpy(v, bytes.data(), sizeof(v));
    AsyncioDebugOffsets d{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12]};
    auto inside = [](uint64_t size, uint64_t limit, std::initializer_list<uint64_t> offsets) {
        if (!size || size > limit) return false;
        for (uint64_t o : offsets)
            if (o >= size) return false;
        return true;
    };
    if (!inside(d.task_size, max_object_size,
                {d.task_name, d.task_awaited_by, d.task_is_task, d.task_awaited_by_is_set, d.task_coro, d.task_node}) ||
        !inside(d.interp_size, max_interp_size, {d.interp_tasks_head}) ||
        !inside(d.tstate_size, max_object_size, {d.tstate_running_loop, d.tstate_running_task, d.tstate_tasks_head}))
        return std::nullopt;
    return d;
}

std::optional<AsyncioDebugOffsets> read_asyncio_debug(const ElfFile& extension) {
    for (const char* name : {".AsyncioDebug", "AsyncioDebug"}) {
        auto section = extension.find_section(name);
        if (!section || section->size < asyncio_debug_bytes) continue;
        auto bytes = extension.read_bytes(section->addr, asyncio_debug_bytes);
        if (bytes) return parse_asyncio_debug(*bytes);
    }
    return std::nullopt;
}

std::string check_asyncio_debug(const AsyncioDebugOffsets& d, const AsyncioLayout& l) {
    std::string wrong;
    auto compare = [&](const char* field, uint64_t theirs, uint64_t ours) {
        if (ours && theirs != ours) wrong += fmt::format("{}{} is {} (ours {})", wrong.empty() ? "" : ", ", field, theirs, ours);
    };
    compare("task_name", d.task_name, l.task_name);
    compare("task_coro", d.task_coro, l.task_coro);
    compare("task_awaited_by", d.task_awaited_by, l.task_awaited_by);
    compare("task_is_task", d.task_is_task, l.task_is_task);
    compare("task_node", d.task_node, l.task_node);
    if (wrong.empty()) return "";
    return fmt::format("_asyncio's .AsyncioDebug disagrees with {}: {}", l.source, wrong);
}

ThreadTasks list_thread_tasks(const ProcessMemory& memory, const CpythonLayout& cpython, uint64_t runtime_address,
                              const AsyncioDebugOffsets& debug) {
    ThreadTasks out;
    const auto& b = cpython.bpf;
    uint64_t interp = memory.read_value<uint64_t>(runtime_address + b.runtime_interpreters_head).value_or(0);
    if (!interp) return out;
    auto add = [&](uint64_t head) {
        auto tasks = llist_tasks(memory, head, uint16_t(debug.task_node), max_listed_tasks - out.tasks.size());
        out.tasks.insert(out.tasks.end(), tasks.begin(), tasks.end());
    };
    add(interp + debug.interp_tasks_head);
    uint64_t tstate = memory.read_value<uint64_t>(interp + b.interp_threads_head).value_or(0);
    for (int i = 0; i < max_threads && tstate && out.tasks.size() < max_listed_tasks; i++) {
        add(tstate + debug.tstate_tasks_head);
        if (uint64_t running = memory.read_value<uint64_t>(tstate + debug.tstate_running_task).value_or(0))
            out.running.push_back(running);
        tstate = memory.read_value<uint64_t>(tstate + b.tstate_next).value_or(0);
    }
    return out;
}

}  // namespace pyat
