#include "runtimes/asyncio/asyncio_types.h"

#include <cstring>

namespace pyat {

namespace {
constexpr size_t max_type_name = 256;
constexpr int max_base_depth = 32;       // tp_base chain length
constexpr size_t max_cached_types = 4096;  // heap types may be freed and their addresses reused
}  // namespace

AsyncioTypes::AsyncioTypes(ProcessMemory memory, const CpythonLayout& cpython, const AsyncioLayout& asyncio,
                           uint64_t py_task_class)
    : memory_(memory), cpython_(cpython), asyncio_(asyncio), py_task_class_(py_task_class) {}

void AsyncioTypes::set_py_task_class(uint64_t type) {
    if (type == py_task_class_) return;
    py_task_class_ = type;
    cache_.clear();
}

std::string AsyncioTypes::type_name(uint64_t type) const {
    uint64_t name = memory_.read_value<uint64_t>(type + cpython_.type_name).value_or(0);
    std::string out;
    char chunk[32];
    while (name && out.size() < max_type_name) {
        // Chunks never cross a 32-byte boundary, so a name near the end of a mapping is still read.
        size_t n = 32 - (name + out.size()) % 32;
        if (!memory_.read(name + out.size(), chunk, n)) return "";
        const char* end = static_cast<const char*>(std::memchr(chunk, 0, n));
        out.append(chunk, end ? size_t(end - chunk) : n);
        if (end) return out;
    }
    return "";
}

ObjectKind AsyncioTypes::classify(uint64_t type) const {
    std::string name = type_name(type);
    if (name.empty()) return ObjectKind::unreadable;
    const auto& a = asyncio_;
    // The exact types first (not subclassable, or met as themselves).
    if (name == a.coroutine_type || name == a.generator_type) return ObjectKind::coroutine;
    if (name == a.coroutine_wrapper_type) return ObjectKind::coroutine_wrapper;
    if (name == a.asend_type) return ObjectKind::asend;
    if (name == a.future_iter_type) return ObjectKind::future_iter;
    if (name == a.str_type) return ObjectKind::str;
    if (name == a.int_type) return ObjectKind::integer;
    // Then the classes, through their bases: the most specific match wins.
    bool gathering = false;
    uint64_t t = type;
    for (int depth = 0; depth < max_base_depth && t; depth++) {
        std::string n = depth == 0 ? name : type_name(t);
        if (n.empty()) return ObjectKind::unreadable;
        if (n == a.gathering_future_type) gathering = true;
        if (n == a.task_type) return ObjectKind::c_task;
        if (py_task_class_ && t == py_task_class_) return ObjectKind::py_task;
        if (n == a.future_type || n == a.py_future_type)
            return gathering ? ObjectKind::gathering : ObjectKind::future;
        t = memory_.read_value<uint64_t>(t + a.type_base).value_or(0);
    }
    return ObjectKind::other;
}

ObjectKind AsyncioTypes::of_type(uint64_t type) {
    if (!type) return ObjectKind::unreadable;
    if (auto it = cache_.find(type); it != cache_.end()) return it->second;
    ObjectKind kind = classify(type);
    if (kind == ObjectKind::unreadable) return kind;  // not cached: may be readable later
    if (cache_.size() >= max_cached_types) cache_.clear();
    cache_.emplace(type, kind);
    return kind;
}

ObjectKind AsyncioTypes::of_object(uint64_t object) {
    if (!object) return ObjectKind::unreadable;
    return of_type(memory_.read_value<uint64_t>(object + cpython_.object_type).value_or(0));
}

}  // namespace pyat
