#include "twisted_inspector.h"

#include <fmt/format.h>

#include <string_view>
#include <vector>

namespace pyat {
namespace {

constexpr uint8_t fast_cell = 0x40;  // CO_FAST_CELL (3.11+ co_localspluskinds)
constexpr uint8_t fast_free = 0x80;  // CO_FAST_FREE

struct LocalSlot {
    uint16_t slot = 0;
    bool is_cell = false;
};

class CodeReader {
public:
    CodeReader(const PythonObjects& objects, const CpythonLayout& layout) : o_(objects), l_(layout) {}

    std::string name(uint64_t code) const { return o_.read_unicode(o_.read_pointer(code + l_.bpf.code_name)); }

    uint64_t function_code(uint64_t function) const {
        return function ? o_.read_pointer(function + l_.func_code) : 0;
    }

    // A code object among `code`'s constants (a nested function) named `wanted`.
    uint64_t nested_code(uint64_t code, std::string_view wanted) const {
        uint64_t code_type = o_.read_pointer(code + l_.object_type);
        for (uint64_t c : o_.tuple_items(o_.read_pointer(code + l_.code_consts)))
            if (c && o_.read_pointer(c + l_.object_type) == code_type && name(c) == wanted) return c;
        return 0;
    }

    // The frame slot of local (or cell) `wanted`.
    std::optional<LocalSlot> local_slot(uint64_t code, std::string_view wanted) const {
        auto names = o_.tuple_items(o_.read_pointer(code + l_.code_localsplusnames));
        if (l_.code_localspluskinds) {  // 3.11+: one array of locals, cells and free variables
            auto kinds = kinds_of(code, names.size());
            for (size_t i = 0; i < names.size() && i < kinds.size(); i++)
                if (o_.read_unicode(names[i]) == wanted)
                    return LocalSlot{uint16_t(i), (kinds[i] & fast_cell) != 0};
            return std::nullopt;
        }
        // Before 3.11 a captured argument's fast slot is left NULL: look among the cells first.
        auto nlocals = o_.memory().read_value<int32_t>(code + l_.code_nlocals);
        if (!nlocals || *nlocals < 0) return std::nullopt;
        auto cells = o_.tuple_items(o_.read_pointer(code + l_.code_cellvars));
        for (size_t i = 0; i < cells.size(); i++)
            if (o_.read_unicode(cells[i]) == wanted) return LocalSlot{uint16_t(*nlocals + i), true};
        for (size_t i = 0; i < names.size(); i++)
            if (o_.read_unicode(names[i]) == wanted) return LocalSlot{uint16_t(i), false};
        return std::nullopt;
    }

    // Position of free variable `wanted` in the closure tuple of a function running `code`.
    std::optional<uint16_t> free_index(uint64_t code, std::string_view wanted) const {
        std::vector<uint64_t> free;
        if (l_.code_localspluskinds) {
            auto names = o_.tuple_items(o_.read_pointer(code + l_.code_localsplusnames));
            auto kinds = kinds_of(code, names.size());
            for (size_t i = 0; i < names.size() && i < kinds.size(); i++)
                if (kinds[i] & fast_free) free.push_back(names[i]);
        } else {
            free = o_.tuple_items(o_.read_pointer(code + l_.code_freevars));
        }
        for (size_t i = 0; i < free.size(); i++)
            if (o_.read_unicode(free[i]) == wanted) return uint16_t(i);
        return std::nullopt;
    }

private:
    std::vector<uint8_t> kinds_of(uint64_t code, size_t count) const {
        uint64_t bytes = o_.read_pointer(code + l_.code_localspluskinds);
        auto raw = bytes ? o_.memory().read_bytes(bytes + l_.bytes_data, count) : std::nullopt;
        return raw ? *raw : std::vector<uint8_t>{};
    }

    const PythonObjects& o_;
    const CpythonLayout& l_;
};

TwistedSearch resolve(const PythonObjects& objects, const CpythonLayout& layout, uint64_t defer,
                      const TwistedDescription& d, TwistedTarget& out, std::string& why) {
    CodeReader code(objects, layout);
    uint64_t inline_callbacks = code.function_code(objects.module_attribute(defer, d.inline_callbacks));
    if (!inline_callbacks || code.name(inline_callbacks) != d.inline_callbacks) {
        // Also seen while the module is still being imported: look again later.
        why = fmt::format("{}.{} not found", d.defer_module, d.inline_callbacks);
        return TwistedSearch::not_ready;
    }
    auto status = code.local_slot(inline_callbacks, d.inline_callbacks_status);
    if (!status) {
        why = fmt::format("{} has no local {}", d.inline_callbacks, d.inline_callbacks_status);
        return TwistedSearch::unsupported;
    }
    uint64_t awaiter = *d.awaiter_nested_in
                           ? code.nested_code(code.function_code(objects.module_attribute(defer, d.awaiter_nested_in)),
                                              d.awaiter)
                           : code.function_code(objects.module_attribute(defer, d.awaiter));
    if (!awaiter) {
        why = fmt::format("awaiter {} not found", d.awaiter);
        return TwistedSearch::unsupported;
    }
    bool in_closure = std::string_view(d.awaiter_holds) == "closure";
    std::optional<uint16_t> gen, status_at;
    if (in_closure) {
        gen = code.free_index(awaiter, d.awaiter_gen);
        status_at = code.free_index(awaiter, d.awaiter_status);
    } else {  // callback arguments after the result: (result, *args)
        auto g = code.local_slot(awaiter, d.awaiter_gen), s = code.local_slot(awaiter, d.awaiter_status);
        if (g && g->slot > 0) gen = uint16_t(g->slot - 1);
        if (s && s->slot > 0) status_at = uint16_t(s->slot - 1);
    }
    if (!gen || !status_at) {
        why = fmt::format("{} does not hold {} and {} in its {}", d.awaiter, d.awaiter_gen, d.awaiter_status,
                          d.awaiter_holds);
        return TwistedSearch::unsupported;
    }
    if (layout.instance_dict == InstanceDict::dictoffset) {
        why = fmt::format("awaited-by chains need CPython 3.11+ (this is {})", layout.version());
        return TwistedSearch::unsupported;
    }
    auto status_deferred = objects.attribute_slot(objects.module_attribute(defer, d.status_class), d.status_deferred);
    auto deferred_callbacks =
        objects.attribute_slot(objects.module_attribute(defer, d.deferred_class), d.deferred_callbacks);
    if (!status_deferred || !deferred_callbacks) {
        why = fmt::format("{}.{} / {}.{} not laid out yet", d.status_class, d.status_deferred, d.deferred_class,
                          d.deferred_callbacks);
        return TwistedSearch::not_ready;
    }

    twisted_layout& b = out.bpf;
    b = {};
    b.inline_callbacks_code = inline_callbacks;
    b.awaiter_code = awaiter;
    b.status_deferred = *status_deferred;
    b.deferred_callbacks = *deferred_callbacks;
    b.status_local = status->slot;
    b.status_local_is_cell = status->is_cell;
    b.awaiter_in_closure = in_closure;
    b.awaiter_gen = *gen;
    b.awaiter_status = *status_at;
    b.frame_localsplus = layout.frame_localsplus;
    b.cell_ref = layout.cell_ref;
    b.tuple_items = layout.tuple_items;
    b.list_size = layout.list_size;
    b.list_items = layout.list_items;
    b.func_code = layout.func_code;
    b.func_closure = layout.func_closure;
    b.gen_frame = layout.gen_frame;
    b.gen_frame_embedded = layout.gen_frame_embedded;
    b.gen_frame_state = layout.gen_frame_state;
    b.cfunction_self = layout.cfunction_self;
    b.cfunction_method = layout.cfunction_method;
    out.description = &d;
    return TwistedSearch::found;
}

}  // namespace

TwistedSearch find_twisted(const PythonObjects& objects, const CpythonLayout& layout, uint64_t runtime_address,
                           TwistedTarget& out, std::string& why) {
    const auto& descriptions = known_twisted_descriptions();
    if (descriptions.empty()) return TwistedSearch::not_imported;
    uint64_t modules = objects.sys_modules(runtime_address);
    uint64_t defer = objects.dict_get(modules, descriptions.front().defer_module);
    if (!defer) return TwistedSearch::not_imported;
    TwistedSearch result = TwistedSearch::unsupported;
    std::string reasons;
    for (const auto& d : descriptions) {
        std::string reason;
        TwistedSearch r = resolve(objects, layout, defer, d, out, reason);
        if (r == TwistedSearch::found) return r;
        if (r == TwistedSearch::not_ready) result = r;
        reasons += fmt::format("{}{}: {}", reasons.empty() ? "" : "; ", d.source, reason);
    }
    why = reasons;
    return result;
}

}  // namespace pyat
