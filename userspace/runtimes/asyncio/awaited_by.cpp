#include "runtimes/asyncio/awaited_by.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace pyat {
namespace {

constexpr uint8_t fast_free = 0x80;     // CO_FAST_FREE (3.11+ co_localspluskinds)
constexpr size_t max_type_name = 64;    // tp_name bytes compared
constexpr size_t max_cached = 4096;     // entries per cache before it starts over
constexpr size_t max_children = 65536;  // a gather's children read

bool ends_with_path(std::string_view file, std::string_view suffix) {
    if (suffix.empty() || !file.ends_with(suffix)) return false;
    return file.size() == suffix.size() || file[file.size() - suffix.size() - 1] == '/';
}

template <typename Map>
void bound(Map& map) {
    if (map.size() >= max_cached) map.clear();
}

}  // namespace

const char* awaiter_kind_name(AwaiterKind kind) {
    switch (kind) {
    case AwaiterKind::unknown: return "unknown";
    case AwaiterKind::task_wakeup: return "task_wakeup";
    case AwaiterKind::gather: return "gather";
    case AwaiterKind::task_group: return "task_group";
    case AwaiterKind::shield: return "shield";
    case AwaiterKind::wait: return "wait";
    case AwaiterKind::release_waiter: return "release_waiter";
    case AwaiterKind::run_until_complete: return "run_until_complete";
    case AwaiterKind::no_awaiter: return "no_awaiter";
    }
    return "unknown";
}

// A C string in the target (tp_name, ml_name), up to `limit` bytes; reads stop at a page end
// so a short string at the end of a mapping still reads.
static std::string read_c_string(const ProcessMemory& memory, uint64_t address, size_t limit) {
    std::string out;
    while (address && out.size() < limit) {
        size_t chunk = std::min<size_t>(limit - out.size(), 4096 - (address & 4095));
        auto bytes = memory.read_bytes(address, chunk);
        if (!bytes) return {};
        auto end = std::find(bytes->begin(), bytes->end(), uint8_t(0));
        out.append(bytes->begin(), end);
        if (end != bytes->end()) return out;
        address += chunk;
    }
    return {};  // longer than any name compared: not one of them
}

std::vector<uint64_t> AwaitedByReader::future_callbacks(uint64_t future) const {
    std::vector<uint64_t> out;
    if (!future) return out;
    if (uint64_t first = o_.read_pointer(future + offsets_.callback0)) out.push_back(first);
    uint64_t list = o_.read_pointer(future + offsets_.callbacks);
    if (!list) return out;
    auto size = o_.memory().read_value<int64_t>(list + l_.list_size);
    uint64_t items = o_.read_pointer(list + l_.list_items);
    if (!size || *size <= 0 || !items) return out;
    size_t n = std::min<size_t>(size_t(*size), max_callbacks);
    auto raw = o_.memory().read_bytes(items, n * 8);
    if (!raw) return out;
    for (size_t i = 0; i < n; i++) {
        uint64_t pair = 0;
        std::copy_n(raw->data() + 8 * i, 8, reinterpret_cast<uint8_t*>(&pair));
        if (uint64_t callback = pair ? o_.read_pointer(pair + l_.tuple_items) : 0) out.push_back(callback);
    }
    return out;
}

AwaitedByReader::TypeKind AwaitedByReader::type_kind(uint64_t object) {
    uint64_t type = object ? o_.read_pointer(object + l_.object_type) : 0;
    if (!type) return TypeKind::other;
    if (auto it = types_.find(type); it != types_.end()) return it->second;
    std::string name = read_c_string(o_.memory(), o_.read_pointer(type + l_.type_name), max_type_name);
    auto is = [&](const char* wanted) { return *wanted && name == wanted; };
    TypeKind kind = is(d_.function_type)           ? TypeKind::function
                    : is(d_.method_type)           ? TypeKind::method
                    : is(d_.builtin_type)          ? TypeKind::builtin
                    : is(d_.partial_type)          ? TypeKind::partial
                    : is(d_.wakeup_wrapper_type)   ? TypeKind::wakeup_wrapper
                    : is(d_.gathering_future_type) ? TypeKind::gathering
                                                   : TypeKind::other;
    if (name.empty()) return kind;  // unreadable: not remembered
    bound(types_);
    types_.emplace(type, kind);
    return kind;
}

AwaitedByReader::CodeInfo AwaitedByReader::code_info(uint64_t code) {
    if (!code) return {};
    if (auto it = codes_.find(code); it != codes_.end()) return it->second;
    std::string name = o_.read_unicode(o_.read_pointer(code + l_.bpf.code_name));
    std::string file = o_.read_unicode(o_.read_pointer(code + l_.bpf.code_filename));
    if (name.empty() || file.empty()) return {};  // unreadable: not remembered
    auto named = [&](const char* wanted, const char* in_file) {
        return *wanted && name == wanted && ends_with_path(file, in_file);
    };
    CodeInfo info;
    const char* cell = "";
    if (named(d_.gather_callback, d_.tasks_file)) {
        info.kind = CodeKind::gather;
        cell = d_.gather_outer;
    } else if (named(d_.shield_callback, d_.tasks_file)) {
        info.kind = CodeKind::shield;
        cell = d_.shield_outer;
    } else if (named(d_.wait_callback, d_.tasks_file)) {
        info.kind = CodeKind::wait;
        cell = d_.wait_waiter;
    } else if (named(d_.shield_outer_callback, d_.tasks_file)) {
        info.kind = CodeKind::shield_outer;
    } else if (named(d_.release_waiter, d_.tasks_file)) {
        info.kind = CodeKind::release_waiter;
    } else if (named(d_.run_until_complete_callback, d_.base_events_file)) {
        info.kind = CodeKind::root;
    } else if (named(d_.python_wakeup, d_.tasks_file)) {
        info.kind = CodeKind::python_wakeup;
    } else if (named(d_.task_group_callback, d_.taskgroups_file)) {
        info.kind = CodeKind::task_group;
    }
    if (*cell) {
        // Position of the free variable in the function's closure tuple.
        std::vector<uint64_t> free;
        if (l_.code_localspluskinds) {  // 3.11+: the free variables are the FREE-kind names, in order
            auto names = o_.tuple_items(o_.read_pointer(code + l_.code_localsplusnames));
            uint64_t kinds = o_.read_pointer(code + l_.code_localspluskinds);
            auto raw = kinds ? o_.memory().read_bytes(kinds + l_.bytes_data, names.size()) : std::nullopt;
            if (raw)
                for (size_t i = 0; i < names.size(); i++)
                    if ((*raw)[i] & fast_free) free.push_back(names[i]);
        } else {
            free = o_.tuple_items(o_.read_pointer(code + l_.code_freevars));
        }
        for (size_t i = 0; i < free.size() && !info.cell; i++)
            if (o_.read_unicode(free[i]) == cell) info.cell = uint16_t(i);
        // as_completed's _on_completion has no `waiter`: a same-named function that is not the one.
        if (!info.cell) info.kind = CodeKind::other;
    }
    bound(codes_);
    codes_.emplace(code, info);
    return info;
}

bool AwaitedByReader::is_wakeup_builtin(uint64_t method_def) {
    if (!method_def || !*d_.wakeup_builtin) return false;
    if (auto it = method_defs_.find(method_def); it != method_defs_.end()) return it->second;
    std::string name = read_c_string(o_.memory(), o_.read_pointer(method_def + l_.methoddef_name), max_type_name);
    if (name.empty()) return false;
    bool is = name == d_.wakeup_builtin;
    bound(method_defs_);
    method_defs_.emplace(method_def, is);
    return is;
}

uint64_t AwaitedByReader::closure_cell(uint64_t function, uint16_t index) const {
    auto cells = o_.tuple_items(o_.read_pointer(function + l_.func_closure));
    return index < cells.size() && cells[index] ? o_.read_pointer(cells[index] + l_.cell_ref) : 0;
}

uint64_t AwaitedByReader::attribute(uint64_t object, std::string_view name) const {
    // A Python subclass of a C type with its own dict slot (the C Future's, 3.8-3.12) keeps its
    // attributes there on every version, not in a managed dict.
    uint64_t type = object ? o_.read_pointer(object + l_.object_type) : 0;
    auto offset = type ? o_.memory().read_value<int64_t>(type + l_.type_dictoffset) : std::nullopt;
    if (offset && *offset > 0 && *offset < 4096)
        return o_.dict_get(o_.read_pointer(object + uint64_t(*offset)), name);
    return o_.instance_attribute(object, name);
}

static void add_parent(Awaiter& out, uint64_t task) {
    if (task && std::find(out.parents.begin(), out.parents.end(), task) == out.parents.end())
        out.parents.push_back(task);
}

void AwaitedByReader::follow(uint64_t future, int depth, Awaiter& out) {
    if (!future) return;
    if (std::find(out.followed.begin(), out.followed.end(), future) != out.followed.end()) return;  // a loop
    if (depth >= max_follow_depth) {
        out.depth_exceeded = true;
        return;
    }
    out.followed.push_back(future);
    for (uint64_t callback : future_callbacks(future)) {
        uint64_t via = 0;
        resolve(callback, depth + 1, out, via);
    }
}

AwaiterKind AwaitedByReader::resolve(uint64_t callback, int depth, Awaiter& out, uint64_t& via) {
    switch (type_kind(callback)) {
    case TypeKind::wakeup_wrapper:
        if (!d_.wakeup_wrapper_task) return AwaiterKind::unknown;
        add_parent(out, o_.read_pointer(callback + d_.wakeup_wrapper_task));
        return AwaiterKind::task_wakeup;
    case TypeKind::builtin:
        if (!is_wakeup_builtin(o_.read_pointer(callback + l_.cfunction_method))) return AwaiterKind::unknown;
        add_parent(out, o_.read_pointer(callback + l_.cfunction_self));
        return AwaiterKind::task_wakeup;
    case TypeKind::method: {
        uint64_t function = o_.read_pointer(callback + l_.method_func);
        uint64_t self = o_.read_pointer(callback + l_.method_self);
        if (type_kind(function) != TypeKind::function) return AwaiterKind::unknown;
        CodeInfo info = code_info(o_.read_pointer(function + l_.func_code));
        if (info.kind == CodeKind::python_wakeup) {
            add_parent(out, self);
            return AwaiterKind::task_wakeup;
        }
        if (info.kind == CodeKind::task_group) {
            via = self;
            add_parent(out, attribute(self, d_.task_group_parent));
            return AwaiterKind::task_group;
        }
        return AwaiterKind::unknown;
    }
    case TypeKind::function: {
        CodeInfo info = code_info(o_.read_pointer(callback + l_.func_code));
        AwaiterKind kind = AwaiterKind::unknown;
        switch (info.kind) {
        case CodeKind::gather: kind = AwaiterKind::gather; break;
        case CodeKind::shield: kind = AwaiterKind::shield; break;
        case CodeKind::wait: kind = AwaiterKind::wait; break;
        case CodeKind::shield_outer: return AwaiterKind::no_awaiter;
        case CodeKind::root: return AwaiterKind::run_until_complete;
        default: return AwaiterKind::unknown;
        }
        via = info.cell ? closure_cell(callback, *info.cell) : 0;
        follow(via, depth, out);
        return kind;
    }
    case TypeKind::partial: {
        uint64_t function = o_.read_pointer(callback + l_.partial_func);
        if (type_kind(function) != TypeKind::function ||
            code_info(o_.read_pointer(function + l_.func_code)).kind != CodeKind::release_waiter)
            return AwaiterKind::unknown;
        auto args = o_.tuple_items(o_.read_pointer(callback + l_.partial_args));
        via = args.empty() ? 0 : args[0];
        follow(via, depth, out);
        return AwaiterKind::release_waiter;
    }
    case TypeKind::gathering:
    case TypeKind::other:
        break;
    }
    return AwaiterKind::unknown;
}

Awaiter AwaitedByReader::classify(uint64_t callback) {
    Awaiter out;
    out.kind = resolve(callback, 0, out, out.via);
    return out;
}

void AwaitedByReader::gather_children_into(uint64_t future, int depth, std::vector<uint64_t>& out) {
    uint64_t list = attribute(future, d_.gathering_children);
    auto size = list ? o_.memory().read_value<int64_t>(list + l_.list_size) : std::nullopt;
    uint64_t items = list ? o_.read_pointer(list + l_.list_items) : 0;
    if (!size || *size <= 0 || !items) return;
    size_t n = std::min<size_t>(size_t(*size), max_children);
    auto raw = o_.memory().read_bytes(items, n * 8);
    if (!raw) return;
    for (size_t i = 0; i < n && out.size() < max_children; i++) {
        uint64_t child = 0;
        std::copy_n(raw->data() + 8 * i, 8, reinterpret_cast<uint8_t*>(&child));
        if (!child) continue;
        if (type_kind(child) == TypeKind::gathering) {  // gather(gather(a, b), c): a and b too
            if (depth + 1 < max_follow_depth) gather_children_into(child, depth + 1, out);
        } else if (std::find(out.begin(), out.end(), child) == out.end()) {
            out.push_back(child);
        }
    }
}

std::optional<std::vector<uint64_t>> AwaitedByReader::gathering_children(uint64_t future) {
    if (!future || type_kind(future) != TypeKind::gathering) return std::nullopt;
    std::vector<uint64_t> out;
    gather_children_into(future, 0, out);
    return out;
}

}  // namespace pyat
