#include "runtimes/asyncio/task_registry.h"

#include <cstring>

namespace pyat {

std::vector<uint64_t> set_keys(const ProcessMemory& memory, const AsyncioLayout& l, uint64_t set) {
    std::vector<uint64_t> keys;
    if (!set || l.set_entry_size < 16) return keys;
    auto used = memory.read_value<int64_t>(set + l.set_used);
    auto mask = memory.read_value<int64_t>(set + l.set_mask);
    auto table = memory.read_value<uint64_t>(set + l.set_table);
    if (!used || !mask || !table || !*table || *used < 0 || *mask < 0) return keys;
    uint64_t slots = uint64_t(*mask) + 1;
    if (slots > max_set_slots || (slots & (slots - 1)) || uint64_t(*used) > slots) return keys;
    auto raw = memory.read_bytes(*table, slots * l.set_entry_size);
    if (!raw) return keys;
    keys.reserve(size_t(*used));
    for (uint64_t i = 0; i < slots; i++) {
        uint64_t key;
        int64_t hash;
        std::memcpy(&key, raw->data() + i * l.set_entry_size, 8);
        std::memcpy(&hash, raw->data() + i * l.set_entry_size + 8, 8);
        if (!key || hash == -1) continue;  // never used, or the dummy left by a removal
        keys.push_back(key);
    }
    return keys;
}

std::vector<uint64_t> weakref_referents(const ProcessMemory& memory, const AsyncioLayout& l,
                                        const std::vector<uint64_t>& weakrefs) {
    std::vector<uint64_t> fields;
    fields.reserve(weakrefs.size());
    for (uint64_t ref : weakrefs) fields.push_back(ref + l.weakref_object);
    std::vector<uint64_t> out = memory.read_words(fields);
    std::erase(out, 0);  // dead references (None's address is no task either: the scan checks each)
    return out;
}

std::vector<uint64_t> llist_tasks(const ProcessMemory& memory, uint64_t head, uint16_t task_node, uint64_t limit) {
    std::vector<uint64_t> tasks;
    if (!head) return tasks;
    uint64_t node = memory.read_value<uint64_t>(head).value_or(0);
    while (node && node != head && tasks.size() < limit) {
        if (node < task_node) break;
        tasks.push_back(node - task_node);
        auto next = memory.read_value<uint64_t>(node);
        if (!next) break;
        node = *next;
    }
    return tasks;
}

TaskRegistry::TaskRegistry(PythonObjects objects, const CpythonLayout& cpython, const AsyncioLayout& asyncio,
                           uint64_t runtime_address)
    : objects_(objects), cpython_(cpython), asyncio_(asyncio), runtime_address_(runtime_address) {}

bool TaskRegistry::find() {
    if (module_ && (weakset_data_ || eager_tasks_ || debug_)) return true;
    if (!*asyncio_.tasks_module) return false;
    uint64_t modules = objects_.sys_modules(runtime_address_);
    uint64_t module = objects_.dict_get(modules, asyncio_.tasks_module);
    if (!module) return false;
    const char* weakset_name = *asyncio_.all_tasks ? asyncio_.all_tasks : asyncio_.scheduled_tasks;
    uint64_t weakset = *weakset_name ? objects_.module_attribute(module, weakset_name) : 0;
    uint64_t data = weakset ? objects_.instance_attribute(weakset, asyncio_.weakset_data) : 0;
    uint64_t eager = *asyncio_.eager_tasks ? objects_.module_attribute(module, asyncio_.eager_tasks) : 0;
    if (!data && !eager && !debug_) return false;
    module_ = module;
    weakset_data_ = data;
    eager_tasks_ = eager;
    current_tasks_ = objects_.module_attribute(module, asyncio_.current_tasks);
    py_task_class_ = objects_.module_attribute(module, asyncio_.py_task_class);
    return true;
}

std::vector<uint64_t> TaskRegistry::tasks() {
    std::vector<uint64_t> all;
    if (!find()) return all;
    const ProcessMemory& memory = objects_.memory();
    if (weakset_data_) all = weakref_referents(memory, asyncio_, set_keys(memory, asyncio_, weakset_data_));
    if (eager_tasks_) {
        auto eager = set_keys(memory, asyncio_, eager_tasks_);
        all.insert(all.end(), eager.begin(), eager.end());
    }
    if (debug_) {
        ThreadTasks listed = list_thread_tasks(memory, cpython_, runtime_address_, *debug_);
        all.insert(all.end(), listed.tasks.begin(), listed.tasks.end());
        thread_running_ = std::move(listed.running);
    }
    return all;
}

std::vector<RunningTask> TaskRegistry::running() {
    std::vector<RunningTask> out;
    if (!find()) return out;
    if (current_tasks_)  // (3.14: the tasks of other implementations only)
        for (const auto& [loop, task] : objects_.dict_items(current_tasks_)) out.push_back({loop, task});
    if (debug_)  // each thread's running task (its loop is not needed), as tasks() saw it
        for (uint64_t task : thread_running_) out.push_back({0, task});
    return out;
}

}  // namespace pyat
